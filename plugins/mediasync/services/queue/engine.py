"""`CleanupQueue`: the queue's services over one database, composed — the producer, the drain
(with its settler), the rescuer, the reviver, the analyzer and the statistics. A drain runs the
maintenance services first (as River's maintenance runs before its producers fetch), then drains.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import timedelta
from uuid import UUID

from mediasync.db import Database
from mediasync.repository.deletions import DeletionRepository
from mediasync.repository.queue import ClaimedItem, QueueRepository
from mediasync.services.allowance import AllowanceMemory
from mediasync.services.queue.analyzer import Analyzer
from mediasync.services.queue.config import QueueConfig
from mediasync.services.queue.deleter import BudgetAwareDeleter
from mediasync.services.queue.drain import Drain
from mediasync.services.queue.producer import Producer
from mediasync.services.queue.rescuer import Rescuer
from mediasync.services.queue.results import BatchResult, ProcessResult, QueueStats
from mediasync.services.queue.reviver import Reviver
from mediasync.services.queue.settle import Settler
from mediasync.services.queue.stats import StatsReader
from mediasync.services.retry import RetryPolicy
from mediasync.store import AssetDeleter

log = logging.getLogger(__name__)


class CleanupQueue:
    """Claims due entries, deletes their assets in Admin API-sized chunks per (resource_type, type),
    and records each outcome. Any number of instances may run concurrently. `config` defaults to
    the environment's settings; the keyword arguments override single fields of it."""

    def __init__(self, db: Database, deleter: AssetDeleter | None = None, *, config: QueueConfig | None = None,
                 lease: timedelta | None = None, retry_policy: RetryPolicy | None = None,
                 repository: QueueRepository | None = None, concurrency: int | None = None,
                 admin_reserve: int | None = None, destroy_concurrency: int | None = None) -> None:
        self.db = db
        self.repo = repository or QueueRepository()
        self.batches = DeletionRepository()
        self.allowance = AllowanceMemory(db)
        config = (config or QueueConfig.from_settings()).with_overrides(
            lease=lease, retry_policy=retry_policy, concurrency=concurrency, admin_reserve=admin_reserve,
            destroy_concurrency=destroy_concurrency)
        self.settler = Settler(config, deleter, self.repo)
        self.config = config

    @property
    def config(self) -> QueueConfig:
        return self._config

    @config.setter
    def config(self, config: QueueConfig) -> None:
        """Hand the one config to every service (they are cheap to build)."""
        self._config = config
        self.settler.config = config
        self.producer = Producer(self.db, config, self.repo, self.batches)
        self.drain = Drain(self.db, config, self.settler, self.repo)
        self.rescuer = Rescuer(self.db, config, self.repo)
        self.reviver = Reviver(self.db, self.repo)
        self.analyzer = Analyzer(self.db, config, self.repo)
        self.statistics = StatsReader(self.db, self.repo, self.batches)

    @property
    def retry_policy(self) -> RetryPolicy:
        return self.config.retry_policy

    @retry_policy.setter
    def retry_policy(self, policy: RetryPolicy) -> None:
        self.config = self.config.with_overrides(retry_policy=policy)

    @property
    def deleter(self) -> AssetDeleter | None:
        return self.settler.deleter

    @deleter.setter
    def deleter(self, deleter: AssetDeleter | None) -> None:
        self.settler.deleter = deleter

    @property
    def strategy(self) -> BudgetAwareDeleter:
        return self.settler.strategy

    def enqueue(self, *, public_id: str, resource_type: str = "image", type: str = "upload",
                reason: str, media_file_id: UUID | None = None, source: str = "api",
                requested_by: str | None = None) -> int:
        """Queue an asset for deletion (idempotent per asset); the open entry's id."""
        return self.producer.enqueue(public_id=public_id, resource_type=resource_type, type=type, reason=reason,
                                     media_file_id=media_file_id, source=source, requested_by=requested_by)

    def claim(self, limit: int, ids: Sequence[int] | None = None, db: Database | None = None) -> list[ClaimedItem]:
        return self.drain.claim(limit, ids, db)

    def settle(self, items: Sequence[ClaimedItem]) -> BatchResult:
        return self.settler.settle(self.db, items)

    def process_batch(self, batch_size: int | None = None, ids: Sequence[int] | None = None) -> BatchResult:
        """Claim one batch (or just `ids`) and settle every entry in it, one chunk after the other."""
        items = self.claim(batch_size or self.config.batch_size, ids)
        result = self.settle(items)
        result.claimed = len(items)
        log.info("cleanup batch: claimed=%d deleted=%d not_found=%d", result.claimed, result.deleted,
                 result.not_found)
        return result

    def process(self, batch_size: int | None = None, retry_failed: bool = False,
                time_budget: float | None = None) -> ProcessResult:
        """Rescue expired leases, optionally revive failed entries, then drain until nothing is due,
        `time_budget` seconds pass, or the store rate-limits every path; stale planner statistics
        are refreshed while the first chunk is in flight."""
        started = time.monotonic()
        with self.drain.run_database() as db:
            total = ProcessResult(concurrency=self.drain.concurrency_on(db))
            self.allowance.recall(self.deleter, db)
            total.rescued = self.rescuer.run_once(db).rescued
            if retry_failed:
                total.retried_failed = self.reviver.run_once(db=db).revived

            def refresh_statistics() -> None:
                total.analyzed = self.analyzer.run_once(db).analyzed

            self.drain.run_once(db, total, batch_size, time_budget, started, beside_first_chunk=refresh_statistics)
            if total.admin_calls:
                self.allowance.remember(self.deleter, db)
        total.duration_seconds = round(time.monotonic() - started, 3)
        log.info("%s", total.summary())
        return total

    def rescue_expired(self) -> int:
        """Return entries whose lease expired (their processor died) to pending/failed."""
        return self.rescuer.run_once().rescued

    def retry_failed(self, ids: Sequence[int] | None = None) -> int:
        """Give failed entries (all, or `ids`) a fresh attempt budget."""
        return self.reviver.run_once(ids).revived

    def refresh_statistics(self) -> bool:
        """ANALYZE the queue table when it changed a lot since the planner last looked."""
        return self.analyzer.run_once().analyzed

    def backlog(self, include_failed: bool = False) -> int:
        return self.statistics.backlog(include_failed)

    def due_work(self) -> int:
        return self.statistics.due_work()

    def stats(self, recent_errors: int = 5) -> QueueStats:
        return self.statistics.run_once(recent_errors)
