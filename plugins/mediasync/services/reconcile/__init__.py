"""Reconciliation of Cloudinary against media_files: listing (`listing`), diff and repairs
(`repair`), reports (`reports`), and the run that ties them together (`service`)."""

from mediasync.services.reconcile.run import ReconcileResult, ReconciliationRun
from mediasync.services.reconcile.service import Reconciler

__all__ = ["ReconcileResult", "Reconciler", "ReconciliationRun"]
