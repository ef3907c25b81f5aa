"""Retention: purge completed cleanup-queue entries older than N days, and the undo journals of
deletion batches past MEDIASYNC_UNDO_DAYS, in bounded batches.

Each batch is its own short transaction, so a purge of millions of rows never holds locks for
long or bloats one transaction; `failed` entries are kept for people to look at, and so are the
deletion batches themselves (only what undo needed goes).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone

from mediasync.config import Settings
from mediasync.db import Database
from mediasync.repository.deletions import DeletionRepository
from mediasync.repository.operations import OperationsRepository
from mediasync.repository.queue import QueueRepository
from mediasync.results import Result
from mediasync.services.maintenance_requests import RetentionRequest
from mediasync.services.provenance import Provenance

log = logging.getLogger(__name__)


class PurgeResult(Result):
    retention_days: int
    cutoff: datetime
    deleted: int
    batches: int
    undo_days: int
    undo_journals_purged: int = 0  # deletion batches whose journal went (past MEDIASYNC_UNDO_DAYS)
    requests_purged: int = 0  # recorded drain and purge requests older than the cutoff
    duration_seconds: float

    def summary(self) -> str:
        """One line for the DAG task log and the CLI."""
        return (f"retention: deleted {self.deleted} completed entries older than {self.retention_days} days "
                f"in {self.batches} batches, {self.undo_journals_purged} undo journals past {self.undo_days} days "
                f"purged ({self.duration_seconds:.2f}s)")


class Retention:
    def __init__(self, db: Database, batch_size: int = 5000, repository: QueueRepository | None = None,
                 undo_days: int | None = None, settings: Settings | None = None) -> None:
        self.db = db
        self.settings = settings or Settings()
        self.provenance = Provenance(db)
        self.operations = OperationsRepository()
        self.batch_size = batch_size
        self.repo = repository or QueueRepository()
        self.journals = DeletionRepository()
        self.undo_days = self.settings.undo_days if undo_days is None else undo_days

    def purge(self, request: RetentionRequest | int | None = None, *, requested_by: str | None = None,
              dag_run_id: str | None = None) -> PurgeResult:
        """Delete completed entries whose completion is older than the request's days (an int: that
        many days; empty: MEDIASYNC_RETENTION_DAYS); `requested_by` who asked (recorded)."""
        if isinstance(request, int):
            request = RetentionRequest.parse({"retention_days": request})
        asked = (request or RetentionRequest.parse({})).resolved(self.settings)
        days = int(asked.retention_days or self.settings.retention_days)
        request_id = self.provenance.requested("retention", asked, requested_by, dag_run_id)
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
        journals = self._purge_journals()
        with self.db.transaction() as conn:
            requests = self.operations.purge_operation_requests(conn, cutoff)
        result = PurgeResult(retention_days=days, cutoff=cutoff, deleted=deleted, batches=batches,
                             undo_days=self.undo_days, undo_journals_purged=journals, requests_purged=requests,
                             duration_seconds=round(time.monotonic() - started, 3))
        self.provenance.finished(request_id, result)
        log.info("retention: deleted %d completed entries older than %d days (cutoff %s) in %d batches",
                 deleted, days, cutoff.isoformat(), batches)
        return result

    def _purge_journals(self, batches_per_round: int = 20) -> int:
        """Drop the undo journals of deletion batches older than the undo horizon, a few batches a
        transaction (a batch may have journaled a whole library)."""
        cutoff = datetime.now(timezone.utc) - timedelta(days=self.undo_days)
        purged = 0
        while True:
            with self.db.transaction() as conn:
                count = self.journals.purge_journals(conn, cutoff, batches_per_round)
            purged += count
            if count < batches_per_round:
                break
        if purged:
            log.info("retention: dropped the undo journals of %d deletion batches older than %d days",
                     purged, self.undo_days)
        return purged
