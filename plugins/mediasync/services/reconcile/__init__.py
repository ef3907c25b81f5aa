"""Reconciliation of Cloudinary against media_files: listing (`listing`), diff and repairs
(`repair`), reports (`reports`), and the run that ties them together (`service`)."""

from mediasync.services.reconcile.run import ReconciliationRun
from mediasync.services.reconcile.service import Reconciler, ReconcileResult

__all__ = ["ReconcileResult", "Reconciler", "ReconciliationRun"]
