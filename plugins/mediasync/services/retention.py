"""Retention: purge completed cleanup-queue entries older than N days, in bounded batches.

Each batch is its own short transaction, so a purge of millions of rows never holds locks for
long or bloats one transaction; `failed` entries are kept for people to look at.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone

from mediasync.db import Database
from mediasync.errors import InvalidInput
from mediasync.repository.queue import QueueRepository
from mediasync.results import Result

log = logging.getLogger(__name__)


class PurgeResult(Result):
    retention_days: int
    cutoff: datetime
    deleted: int
    batches: int
    duration_seconds: float


class Retention:
    def __init__(self, db: Database, batch_size: int = 5000, repository: QueueRepository | None = None) -> None:
        self.db = db
        self.batch_size = batch_size
        self.repo = repository or QueueRepository()

    def purge(self, days: int = 30) -> PurgeResult:
        """Delete completed entries whose completion is older than `days` days."""
        if days < 1:
            raise InvalidInput(f"retention days must be at least 1, got {days}")
        started = time.monotonic()
        cutoff = datetime.now(timezone.utc) - timedelta(days=days)
        deleted = batches = 0
        while True:
            with self.db.transaction() as conn:
                count = self.repo.purge_completed(conn, cutoff, self.batch_size)
            deleted += count
            batches += 1
            if count < self.batch_size:
                break
        result = PurgeResult(retention_days=days, cutoff=cutoff, deleted=deleted, batches=batches,
                             duration_seconds=round(time.monotonic() - started, 3))
        log.info("retention: deleted %d completed entries older than %d days (cutoff %s) in %d batches",
                 deleted, days, cutoff.isoformat(), batches)
        return result
