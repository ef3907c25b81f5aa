"""The drain: claim due entries and settle them with up to `concurrency` chunks in flight, until
nothing is due, the time budget runs out, or the store rate-limits every path.

Shape (after River/Procrastinate): the claim is one statement and commits before any call to the
store, so a crash never holds rows hostage for longer than the lease. The drain overlaps its work
on a small per-run pool of connections, the next claim running while Cloudinary answers. The
first chunk runs alone, so the Admin API allowance is known before calls overlap.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager

from mediasync.db import Database, PooledDatabase
from mediasync.repository.queue import ClaimedItem, QueueRepository
from mediasync.services.queue.config import QueueConfig
from mediasync.services.queue.results import BatchResult, ProcessResult
from mediasync.services.queue.settle import Settler, chunks_by_asset_kind

log = logging.getLogger(__name__)


class Drain:
    """Claims and settles until the queue has nothing due; any number may run concurrently."""

    def __init__(self, db: Database, config: QueueConfig, settler: Settler,
                 repository: QueueRepository | None = None) -> None:
        self.db = db
        self.config = config
        self.settler = settler
        self.repo = repository or QueueRepository()

    def claim(self, limit: int, ids: Sequence[int] | None = None, db: Database | None = None) -> list[ClaimedItem]:
        """Lease up to `limit` due entries (or just `ids`); committed before returning."""
        with (db or self.db).transaction() as conn:
            return self.repo.claim(conn, limit, self.config.lease.total_seconds(), ids)

    @contextmanager
    def run_database(self) -> Iterator[Database]:
        """One small pool per drain (a claim plus `concurrency` guards), unless the caller's is pooled."""
        if isinstance(self.db, PooledDatabase) or self.config.concurrency == 1:
            yield self.db
            return
        pool = PooledDatabase(self.db.url, max_attempts=self.db.max_attempts,
                              application_name=f"{self.db.application_name}-queue",
                              max_size=self.config.concurrency + 1)
        try:
            yield pool
        finally:
            pool.close()

    def run_once(self, db: Database, total: ProcessResult, batch_size: int | None = None,
                 time_budget: float | None = None, started: float | None = None) -> ProcessResult:
        """Drain on `db` into `total` (counts add up); `time_budget` seconds count from `started`."""
        batch_size = batch_size or self.config.batch_size
        started = time.monotonic() if started is None else started
        waiting: deque[list[ClaimedItem]] = deque()
        in_flight: set[Future[BatchResult]] = set()
        exhausted = False

        def claim_chunks(count: int) -> None:
            """One claim statement for `count` batches, queued as chunks to delete."""
            nonlocal exhausted
            if time_budget is not None and time.monotonic() - started >= time_budget:
                total.stopped_by = "time_budget"
                return
            wanted = batch_size * count
            items = self.claim(wanted, db=db)
            exhausted = len(items) < wanted
            total.batches += -(-len(items) // batch_size)
            total.claimed += len(items)
            waiting.extend(chunks_by_asset_kind(items, batch_size))

        def next_chunk(free_slots: int) -> list[ClaimedItem] | None:
            """The next chunk to delete; when none is waiting, claim a batch for every free slot
            (None: stop claiming)."""
            if not waiting and not exhausted:
                claim_chunks(free_slots)
            return waiting.popleft() if waiting and total.stopped_by == "empty" else None

        with ThreadPoolExecutor(self.config.concurrency, thread_name_prefix="cleanup-chunk") as pool:
            limit = 1  # the first answer tells the Admin allowance; overlap after it
            while True:
                while (total.stopped_by == "empty" and len(in_flight) < limit
                       and (chunk := next_chunk(limit - len(in_flight)))):
                    in_flight.add(pool.submit(self.settler.settle_chunk, db, chunk))
                if not in_flight:
                    break
                if total.stopped_by == "empty" and not waiting and not exhausted:
                    # Claim the next round while Cloudinary answers: freed slots start at once.
                    claim_chunks(self.config.concurrency)
                done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                limit = self.config.concurrency
                for future in done:
                    self._count(total, future.result())
        if waiting:  # claimed, never started: give them back without using an attempt
            self.settler.defer_all(db, waiting, total)
        return total

    @staticmethod
    def _count(total: ProcessResult, chunk: BatchResult) -> None:
        total.add(chunk)
        settled = chunk.completed + chunk.retrying + chunk.failed + chunk.rate_limited
        # One line per settled chunk: what the CLI's progress counts and a task log shows.
        log.info("cleanup batch: claimed=%d deleted=%d not_found=%d", settled, chunk.deleted, chunk.not_found)
        if chunk.rate_limited:
            total.stopped_by = "rate_limited"
