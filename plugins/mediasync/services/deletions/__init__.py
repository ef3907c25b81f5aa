"""Deletes you can stop and undo: deletion batches, release and undo (see docs/deletions.md)."""

from mediasync.services.deletions.models import (
    DeletionBatch,
    DeletionBatchDetail,
    DeletionPage,
    NotRestorable,
    ReleaseResult,
    UndoResult,
)
from mediasync.services.deletions.service import DeletionService

__all__ = ["DeletionBatch", "DeletionBatchDetail", "DeletionPage", "DeletionService", "NotRestorable",
           "ReleaseResult", "UndoResult"]
