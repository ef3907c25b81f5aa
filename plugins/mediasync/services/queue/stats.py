"""The queue's statistics: counts per status, the backlog's age, recent failures and held batches —
what `mediasync queue stats`, the API and the page show."""

from __future__ import annotations

from mediasync.db import Database
from mediasync.repository.deletions import DeletionRepository
from mediasync.repository.queue import QueueRepository
from mediasync.services.queue.results import FailedEntry, QueueStats


class StatsReader:
    def __init__(self, db: Database, repository: QueueRepository | None = None,
                 batches: DeletionRepository | None = None) -> None:
        self.db = db
        self.repo = repository or QueueRepository()
        self.batches = batches or DeletionRepository()

    def run_once(self, recent_errors: int = 5) -> QueueStats:
        """One consistent snapshot (one transaction) of the queue."""
        with self.db.transaction() as conn:
            counts = self.repo.counts_by_status(conn)
            pending = self.repo.pending_summary(conn)
            expired = self.repo.expired_leases(conn)
            failures = self.repo.recent_failures(conn, recent_errors)
            held_batches = self.batches.held_summary(conn)["batches"]
        oldest = pending["oldest_pending_age_seconds"]
        return QueueStats(
            pending=counts["pending"], processing=counts["processing"], completed=counts["completed"],
            failed=counts["failed"], held=counts["held"], cancelled=counts["cancelled"], held_batches=held_batches,
            due=pending["due"], expired_leases=expired,
            oldest_pending_age_seconds=round(oldest, 3) if oldest is not None else None,
            next_retry_at=pending["next_retry_at"],
            recent_errors=[FailedEntry.model_validate(f) for f in failures],
        )

    def backlog(self, include_failed: bool = False) -> int:
        """Entries a drain has ahead of it: pending ones, and failed ones it would revive."""
        with self.db.transaction() as conn:
            return self.repo.backlog(conn, include_failed)

    def due_work(self) -> int:
        """How many entries a drain would act on now (due pending entries and expired leases)."""
        with self.db.transaction() as conn:
            return self.repo.due_work(conn)
