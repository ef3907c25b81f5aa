"""Reconciliation of Cloudinary against media_files: listing (`listing`), diff and repairs
(`repair`), reports (`reports`), and the run that ties them together (`service`).

The exports load on first use (PEP 562): importing a light submodule such as `request` (which every
CLI command's options are built from) must not bring the reconciler, its reports and jinja2 into a
`mediasync queue process` that never reconciles."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mediasync.services.reconcile.run import ReconcileResult, ReconciliationRun
    from mediasync.services.reconcile.service import Reconciler

__all__ = ["ReconcileResult", "Reconciler", "ReconciliationRun"]
_HOMES = {"ReconcileResult": "run", "ReconciliationRun": "run", "Reconciler": "service"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
