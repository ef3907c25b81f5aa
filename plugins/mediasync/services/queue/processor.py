"""The cleanup queue wired to Cloudinary and the deployment's settings: what the event-driven DAG,
the API's "process now", reconciliation and `mediasync queue process` run."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from mediasync.config import Settings
from mediasync.db import Database
from mediasync.repository.runtime_settings import RuntimeSettingsRepository
from mediasync.services.maintenance_requests import ProcessQueueRequest
from mediasync.services.provenance import Provenance
from mediasync.services.queue.config import QueueConfig
from mediasync.services.queue.engine import CleanupQueue
from mediasync.services.queue.results import ProcessResult, QueueStats
from mediasync.services.retry import RetryPolicy
from mediasync.store import AssetDeleter


class CleanupQueueProcessor:
    """Drains the queue with overlapped, budget-aware Cloudinary deletes: Admin API `delete_resources`
    (100 ids a call) while the hourly allowance is above the reconciliation's reserve, Upload API
    `destroy` calls below it. Publishes the settings the database reads before every drain."""

    def __init__(self, db: Database, store: AssetDeleter, settings: Settings | None = None, *,
                 lease: timedelta | None = None, retry_policy: RetryPolicy | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.db = db
        self.provenance = Provenance(db)
        self.queue = CleanupQueue(db, store, config=QueueConfig.from_settings(
            self.settings, lease=lease, retry_policy=retry_policy))

    def process(self, request: ProcessQueueRequest | None = None, *, requested_by: str | None = None,
                dag_run_id: str | None = None, **fields: Any) -> ProcessResult:
        """Drain until nothing is due, the time budget passes, or Cloudinary rate-limits every path;
        `request` (or `fields` of a ProcessQueueRequest) says how, `requested_by` who asked (recorded)."""
        asked = (request or ProcessQueueRequest.parse(fields)).resolved(self.settings)
        self.publish_settings()
        request_id = self.provenance.requested("queue_process", asked, requested_by, dag_run_id)
        result = self.queue.process(batch_size=asked.batch_size, retry_failed=asked.retry_failed,
                                    time_budget=asked.time_budget)
        self.provenance.finished(request_id, result)
        return result

    def publish_settings(self) -> None:
        """Give the database this deployment's MEDIASYNC_MAX_ATTEMPTS and delete brake: the enqueue
        trigger reads them for every path that enqueues, a `DELETE` typed in psql included."""
        with self.db.transaction() as conn:
            RuntimeSettingsRepository().publish(conn, self.settings.database_settings())

    def backlog(self, include_failed: bool = False) -> int:
        """Entries a drain has ahead of it (a progress bar's total), read from partial indexes."""
        return self.queue.backlog(include_failed)

    def stats(self) -> QueueStats:
        return self.queue.stats()

    def rescue_expired(self) -> int:
        return self.queue.rescue_expired()
