"""The drain: claim due entries and settle them with up to `concurrency` chunks in flight, until
nothing is due, the time budget runs out, or the store rate-limits every path.

Shape (after River/Procrastinate): the claim is one statement and commits before any call to the
store, so a crash never holds rows hostage for longer than the lease. The drain overlaps its work
on a small per-run pool of connections, the next claim running on its own thread while Cloudinary
answers, so a freed slot starts its next chunk at once. Unless the Admin API allowance is known (an
answer, or the figure the last process left: services.allowance) to leave room for a full round
above the reserve, the first chunk runs alone. A drain on a pool it shares (the API server's) keeps
to half of it, so requests still find connections.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import Any

from mediasync.db import Database, PooledDatabase
from mediasync.repository.queue import ClaimedItem, QueueRepository
from mediasync.services.queue.config import QueueConfig, drain_pool_size
from mediasync.services.queue.results import BatchResult, ProcessResult
from mediasync.services.queue.settle import Settler, chunks_by_asset_kind

log = logging.getLogger(__name__)

SHARED_POOL_SHARE = 0.5  # of a caller's pool a drain may hold: its claim plus one guard per chunk in flight


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

    def concurrency_on(self, db: Database) -> int:
        """Chunks in flight on `db`: the configured number, but never more than the pool can hold
        beside the claim's connection, and on a pool that concurrent requests share (the API
        server's) no more than `SHARED_POOL_SHARE` of it."""
        if not isinstance(db, PooledDatabase):
            return self.config.concurrency
        room = db.max_size if db.dedicated else int(db.max_size * SHARED_POOL_SHARE)
        return max(1, min(self.config.concurrency, room - 1))

    @contextmanager
    def run_database(self) -> Iterator[Database]:
        """One small pool per drain (a claim, the statistics and `concurrency` guards), unless the
        caller's is pooled."""
        if isinstance(self.db, PooledDatabase) or self.config.concurrency == 1:
            yield self.db
            return
        pool = PooledDatabase(self.db.url, max_attempts=self.db.max_attempts,
                              application_name=f"{self.db.application_name}-queue",
                              max_size=drain_pool_size(self.config.concurrency), dedicated=True)
        try:
            yield pool
        finally:
            pool.close()

    def run_once(self, db: Database, total: ProcessResult, batch_size: int | None = None,
                 time_budget: float | None = None, started: float | None = None,
                 beside_first_chunk: Callable[[], object] | None = None) -> ProcessResult:
        """Drain on `db` into `total` (counts add up); `time_budget` seconds count from `started`.
        `beside_first_chunk` runs on a thread of its own from the moment the first chunk starts
        (the analyzer: neither the first Cloudinary call nor the claims wait for it)."""
        batch_size = batch_size or self.config.batch_size
        concurrency = self.concurrency_on(db)
        started = time.monotonic() if started is None else started
        waiting: deque[list[ClaimedItem]] = deque()
        in_flight: set[Future[BatchResult]] = set()
        claiming: Future[list[ClaimedItem]] | None = None
        side: Future[object] | None = None
        wanted = 0
        exhausted = False

        def take(claimed: list[ClaimedItem]) -> None:
            """Queue a claim's entries as chunks to delete."""
            nonlocal exhausted
            exhausted = len(claimed) < wanted
            total.batches += -(-len(claimed) // batch_size)
            total.claimed += len(claimed)
            waiting.extend(chunks_by_asset_kind(claimed, batch_size))

        with (ThreadPoolExecutor(concurrency, thread_name_prefix="cleanup-chunk") as pool,
              ThreadPoolExecutor(1, thread_name_prefix="cleanup-claim") as claimer,
              ThreadPoolExecutor(1, thread_name_prefix="cleanup-beside") as beside):
            # Unless the Admin allowance is known to leave room for a full round, one chunk first: its
            # answer tells what is left; overlap after it.
            limit = concurrency if self.settler.may_overlap(concurrency) else 1
            while True:
                while total.stopped_by != "rate_limited" and len(in_flight) < limit and waiting:
                    in_flight.add(pool.submit(self.settler.settle_chunk, db, waiting.popleft()))
                if claiming is None and total.stopped_by == "empty" and not exhausted and len(waiting) < concurrency:
                    if time_budget is not None and time.monotonic() - started >= time_budget:
                        total.stopped_by = "time_budget"  # what is claimed still runs; nothing more is claimed
                    else:
                        # One claim runs ahead on its own thread: a freed slot never waits for a claim.
                        wanted = batch_size * (concurrency if total.claimed else limit)
                        claiming = claimer.submit(self.claim, wanted, None, db)
                if not in_flight and claiming is None:
                    break
                watched: set[Future[Any]] = {*in_flight, *([claiming] if claiming else [])}
                done, _ = wait(watched, return_when=FIRST_COMPLETED)
                if claiming in done:
                    take(claiming.result())
                    claiming = None
                    if beside_first_chunk is not None and waiting:
                        side = beside.submit(beside_first_chunk)
                        beside_first_chunk = None
                for future in done & in_flight:
                    in_flight.remove(future)
                    limit = concurrency
                    self._count(total, future.result())
        if side is not None:
            side.result()  # its failure is the drain's
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
