"""Putting an asset on the cleanup queue from Python (the triggers queue SQL deletes themselves)."""

from __future__ import annotations

from uuid import UUID

from mediasync.db import Database
from mediasync.repository.deletions import DeletionRepository
from mediasync.repository.queue import QueueRepository
from mediasync.services.queue.config import QueueConfig


class Producer:
    """Queues one asset for deletion, idempotently per asset, as a deletion batch of its own."""

    def __init__(self, db: Database, config: QueueConfig, repository: QueueRepository | None = None,
                 batches: DeletionRepository | None = None) -> None:
        self.db = db
        self.config = config
        self.repo = repository or QueueRepository()
        self.batches = batches or DeletionRepository()

    def enqueue(self, *, public_id: str, resource_type: str = "image", type: str = "upload",
                reason: str, media_file_id: UUID | None = None, source: str = "api",
                requested_by: str | None = None) -> int:
        """The asset's open entry id: an existing one, or a new entry in a batch the brake may hold."""
        with self.db.transaction() as conn:
            if (open_entry := self.repo.open_entry_for_asset(conn, public_id, resource_type, type)) is not None:
                return open_entry
            batch = self.batches.open(conn, operation="ENQUEUE", reason=reason, rows=0, assets=1,
                                      source=source, requested_by=requested_by)
            return self.repo.enqueue(conn, public_id=public_id, resource_type=resource_type, type=type,
                                     reason=reason, batch_id=batch["id"], media_file_id=media_file_id,
                                     max_attempts=self.config.max_attempts)
