"""The cleanup-queue engine: claim, delete through the budget-aware deleter, record outcomes.

Shape (after River/Procrastinate): the claim is one statement and commits before any call to the
store, so a crash never holds rows hostage for longer than the lease. Each chunk (≤ 100 assets of
one kind) is then deleted inside a short *guard* transaction that locks the chunk's entries,
re-checks that no active media_files row uses the asset (a restore or a re-upload since the
claim), calls the store, and records the outcomes — matched on the claim's attempt — before it
commits. A restore that arrives while the call is in flight waits for the guard and then fails
cleanly (migration 020), so an entry never deletes an asset a live row uses.

A drain overlaps its work: up to `concurrency` chunks in flight on a small per-run pool of
connections, the next claim running while Cloudinary answers. The first chunk of a drain runs
alone, so the Admin API allowance is known before calls overlap. Expired leases are rescued and
stale planner statistics refreshed before the first claim.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict, deque
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime, timedelta, timezone
from uuid import UUID

from mediasync.db import Connection, Database, PooledDatabase
from mediasync.errors import StoreError, StoreRateLimited
from mediasync.repository.deletions import DeletionRepository
from mediasync.repository.queue import ClaimedItem, Failure, QueueRepository
from mediasync.services.queue.deleter import BudgetAwareDeleter, ChunkOutcome
from mediasync.services.queue.results import BatchResult, FailedEntry, ProcessResult, QueueStats
from mediasync.services.retry import RetryPolicy
from mediasync.store import MAX_IDS_PER_ADMIN_DELETE, AssetDeleter

__all__ = ["BatchResult", "CleanupQueue", "FailedEntry", "ProcessResult", "QueueStats"]

log = logging.getLogger(__name__)

DEFAULT_RATE_LIMIT_WAIT = timedelta(minutes=5)
IN_USE_NOTE = "skipped: an active media_files row uses this asset again"
ANALYZE_MIN_CHANGES = 10_000   # refresh the queue table's statistics after at least this many changes...
ANALYZE_MIN_FRACTION = 0.2     # ...when they are also this fraction of the planner's row estimate


class CleanupQueue:
    """Claims due entries, deletes their assets in Admin API-sized chunks per (resource_type, type),
    and records each outcome. Any number of instances may run concurrently."""

    def __init__(self, db: Database, deleter: AssetDeleter | None = None, *,
                 lease: timedelta = timedelta(minutes=5), retry_policy: RetryPolicy | None = None,
                 repository: QueueRepository | None = None, concurrency: int = 4, admin_reserve: int = 50,
                 destroy_concurrency: int = 20) -> None:
        self.db = db
        self.deleter = deleter
        self.lease = lease
        self.retry_policy = retry_policy or RetryPolicy()
        self.repo = repository or QueueRepository()
        self.concurrency = max(1, concurrency)
        self.admin_reserve = admin_reserve
        self.destroy_concurrency = destroy_concurrency
        self.batches = DeletionRepository()
        self._strategy: BudgetAwareDeleter | None = None

    # --- producing -----------------------------------------------------------------------

    def enqueue(self, *, public_id: str, resource_type: str = "image", type: str = "upload",
                reason: str, media_file_id: UUID | None = None, source: str = "api",
                requested_by: str | None = None) -> int:
        """Queue an asset for deletion (idempotent per asset) as a deletion batch of its own, which
        the brake may hold; returns the open entry's id."""
        with self.db.transaction() as conn:
            if (open_entry := self.repo.open_entry_for_asset(conn, public_id, resource_type, type)) is not None:
                return open_entry
            batch = self.batches.open(conn, operation="ENQUEUE", reason=reason, rows=0, assets=1,
                                      source=source, requested_by=requested_by)
            return self.repo.enqueue(conn, public_id=public_id, resource_type=resource_type, type=type,
                                     reason=reason, batch_id=batch["id"], media_file_id=media_file_id,
                                     max_attempts=self.db.max_attempts or 3)

    # --- consuming -----------------------------------------------------------------------

    def claim(self, limit: int, ids: Sequence[int] | None = None, db: Database | None = None) -> list[ClaimedItem]:
        """Lease up to `limit` due entries (or just `ids`); committed before returning."""
        with (db or self.db).transaction() as conn:
            return self.repo.claim(conn, limit, self.lease.total_seconds(), ids)

    def process_batch(self, batch_size: int = 100, ids: Sequence[int] | None = None) -> BatchResult:
        """Claim one batch and settle every entry in it, one chunk after the other."""
        items = self.claim(batch_size, ids)
        result = self.settle(items)
        result.claimed = len(items)
        _log_counts("cleanup batch", result)
        return result

    def settle(self, items: Sequence[ClaimedItem]) -> BatchResult:
        """Delete the assets of entries this processor claimed and record the outcomes, one chunk
        after the other; after a rate limit the rest go back to pending without using an attempt."""
        result = BatchResult()
        chunks = deque(_chunks_by_asset_kind(items))
        while chunks:
            result.add(self._settle_chunk(self.db, chunks.popleft()))
            if result.rate_limited:
                self._defer_all(self.db, chunks, result)
        return result

    def process(self, batch_size: int = 100, retry_failed: bool = False,
                time_budget: float | None = None) -> ProcessResult:
        """Drain: rescue expired leases, optionally revive failed entries, then claim and delete with
        up to `concurrency` chunks in flight until nothing is due, the time budget (seconds) runs
        out, or the store rate-limits every path."""
        started = time.monotonic()
        total = ProcessResult(concurrency=self.concurrency)
        db, own_pool = self._run_database()
        try:
            total.rescued = self.rescue_expired(db=db)
            if retry_failed:
                total.retried_failed = self.retry_failed(db=db)
            total.analyzed = self.refresh_statistics(db)
            self._drain(db, batch_size, started, time_budget, total)
        finally:
            if own_pool:
                db.close()
        total.duration_seconds = round(time.monotonic() - started, 3)
        _log_counts("cleanup drain", total)
        log.info("cleanup drain: batches=%d rescued=%d stopped_by=%s in %.2fs", total.batches, total.rescued,
                 total.stopped_by, total.duration_seconds)
        return total

    def _drain(self, db: Database, batch_size: int, started: float, time_budget: float | None,
               total: ProcessResult) -> None:
        waiting: deque[list[ClaimedItem]] = deque()
        in_flight: set[Future[BatchResult]] = set()
        exhausted = False

        def out_of_time() -> bool:
            return time_budget is not None and time.monotonic() - started >= time_budget

        def claim_chunks(count: int) -> None:
            """One claim statement for `count` batches, queued as chunks to delete."""
            nonlocal exhausted
            if out_of_time():
                total.stopped_by = "time_budget"
                return
            wanted = batch_size * count
            items = self.claim(wanted, db=db)
            exhausted = len(items) < wanted
            total.batches += -(-len(items) // batch_size)
            total.claimed += len(items)
            waiting.extend(_chunks_by_asset_kind(items, batch_size))

        def next_chunk(free_slots: int) -> list[ClaimedItem] | None:
            """The next chunk to delete; when none is waiting, claim a batch for every free slot
            (None: stop claiming)."""
            if not waiting and not exhausted:
                claim_chunks(free_slots)
            return waiting.popleft() if waiting and total.stopped_by == "empty" else None

        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="cleanup-chunk") as pool:
            limit = 1  # the first answer tells the Admin allowance; overlap after it
            while True:
                while (total.stopped_by == "empty" and len(in_flight) < limit
                       and (chunk := next_chunk(limit - len(in_flight)))):
                    in_flight.add(pool.submit(self._settle_chunk, db, chunk))
                if not in_flight:
                    break
                if total.stopped_by == "empty" and not waiting and not exhausted:
                    # Claim the next round while Cloudinary answers: freed slots start at once.
                    claim_chunks(self.concurrency)
                done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                limit = self.concurrency
                for future in done:
                    chunk_result = future.result()
                    total.add(chunk_result)
                    settled = (chunk_result.completed + chunk_result.retrying + chunk_result.failed
                               + chunk_result.rate_limited)
                    # One line per settled chunk: what the CLI's progress counts and a task log shows.
                    log.info("cleanup batch: claimed=%d deleted=%d not_found=%d", settled, chunk_result.deleted,
                             chunk_result.not_found)
                    if chunk_result.rate_limited:
                        total.stopped_by = "rate_limited"
        if waiting:  # claimed, never started: give them back without using an attempt
            self._defer_all(db, waiting, total)

    def _settle_chunk(self, db: Database, chunk: list[ClaimedItem]) -> BatchResult:
        """The guard transaction: lock what this claim still holds, skip assets in use again, delete
        the rest and record every outcome before the locks go."""
        result = BatchResult()
        with db.transaction() as conn:
            held = self.repo.lock_claimed(conn, chunk)
            mine = [i for i in chunk if i.id in held]  # the others were rescued or re-claimed meanwhile
            in_use_ids = self.repo.assets_in_use(conn, [i.id for i in mine])
            in_use = [i for i in mine if i.id in in_use_ids]
            if in_use:
                self.repo.complete(conn, in_use, ["skipped_in_use"] * len(in_use), [IN_USE_NOTE] * len(in_use))
                result.skipped_in_use = len(in_use)
            todo = [i for i in mine if i.id not in in_use_ids]
            if todo:
                self._delete(conn, todo, result)
        return result

    def _delete(self, conn: Connection, chunk: list[ClaimedItem], result: BatchResult) -> None:
        if self.deleter is None:
            raise RuntimeError("CleanupQueue has no asset deleter; pass one to process entries")
        first = chunk[0]
        try:
            answer = self.strategy.delete([i.public_id for i in chunk], first.resource_type, first.type)
        except StoreRateLimited as exc:
            result.admin_calls += 1
            result.store_calls += 1
            self._defer(conn, chunk, exc, result)
            return
        except StoreError as exc:
            result.admin_calls += 1
            result.store_calls += 1
            self._fail(conn, chunk, f"{type(exc).__name__}: {exc}", "store_error", result)
            return
        except Exception as exc:
            log.exception("asset deleter raised unexpectedly")
            self._fail(conn, chunk, f"{type(exc).__name__}: {exc}", "unexpected", result)
            return
        self._record(conn, chunk, answer, result)

    def _record(self, conn: Connection, chunk: list[ClaimedItem], answer: ChunkOutcome, result: BatchResult) -> None:
        outcomes = answer.outcomes
        result.admin_calls += answer.admin_calls
        result.upload_api_calls += answer.upload_api_calls
        result.store_calls += answer.admin_calls + answer.upload_api_calls
        done = [i for i in chunk if i.public_id in outcomes]
        self.repo.complete(conn, done, [outcomes[i.public_id] for i in done])
        result.deleted += sum(outcomes[i.public_id] == "deleted" for i in done)
        result.not_found += sum(outcomes[i.public_id] == "not_found" for i in done)
        if answer.path == "admin":
            result.deleted_via_admin += len(done)
        else:
            result.deleted_via_upload_api += len(done)
        refused = [i for i in chunk if isinstance(answer.errors.get(i.public_id), StoreRateLimited)]
        if refused:
            self._defer(conn, refused, answer.errors[refused[0].public_id], result)  # type: ignore[arg-type]
        by_error: dict[str, list[ClaimedItem]] = defaultdict(list)
        for item in chunk:
            error = answer.errors.get(item.public_id)
            if item.public_id in outcomes or isinstance(error, StoreRateLimited):
                continue
            text = f"{type(error).__name__}: {error}" if error else "the store did not report an outcome for this asset"
            by_error[text].append(item)
        for text, items in by_error.items():
            self._fail(conn, items, text, "store_error" if text.startswith("Store") else "no_answer", result)

    def _fail(self, conn: Connection, items: list[ClaimedItem], error: str, kind: str, result: BatchResult) -> None:
        failures = [Failure(i, error, kind, self.retry_policy.delay(i.attempts)) for i in items]
        statuses = self.repo.fail(conn, failures)
        result.failed += sum(s == "failed" for s in statuses.values())
        result.retrying += sum(s == "pending" for s in statuses.values())
        if error not in result.errors:
            result.errors.append(error)
        log.warning("cleanup: %d entr%s failed (%s): %s", len(items), "y" if len(items) == 1 else "ies", kind, error)

    def _defer(self, conn: Connection, items: list[ClaimedItem], exc: StoreRateLimited, result: BatchResult) -> None:
        reset_at = exc.reset_at or datetime.now(timezone.utc) + DEFAULT_RATE_LIMIT_WAIT
        self.repo.defer_rate_limited(conn, items, reset_at, f"rate limited: {exc}")
        result.rate_limited += len(items)
        result.rate_limit_reset_at = reset_at
        log.warning("cleanup: rate limited; %d entries deferred until %s without using an attempt",
                    len(items), reset_at.isoformat())

    def _defer_all(self, db: Database, chunks: deque[list[ClaimedItem]], result: BatchResult) -> None:
        """Claimed chunks never sent to the store after a rate limit: back to pending, attempt given back."""
        items = [item for chunk in chunks for item in chunk]
        chunks.clear()
        if items:
            with db.transaction() as conn:
                self._defer(conn, items, StoreRateLimited("not attempted: the store rate-limited this drain",
                                                          result.rate_limit_reset_at), result)

    @property
    def strategy(self) -> BudgetAwareDeleter:
        """The budget-aware deleter over the current `deleter` (rebuilt when it is replaced)."""
        if self._strategy is None or self._strategy.store is not self.deleter:
            assert self.deleter is not None
            self._strategy = BudgetAwareDeleter(self.deleter, reserve=self.admin_reserve,
                                                destroy_concurrency=self.destroy_concurrency)
        return self._strategy

    def _run_database(self) -> tuple[Database, bool]:
        """One small pool per drain (a claim plus `concurrency` guards), unless the caller's is pooled."""
        if isinstance(self.db, PooledDatabase) or self.concurrency == 1:
            return self.db, False
        return PooledDatabase(self.db.url, max_attempts=self.db.max_attempts,
                              application_name=f"{self.db.application_name}-queue",
                              max_size=self.concurrency + 1), True

    # --- maintenance ---------------------------------------------------------------------

    def rescue_expired(self, limit: int = 1000, db: Database | None = None) -> int:
        """Return entries whose lease expired (their processor died) to pending/failed."""
        rescued = 0
        while True:
            with (db or self.db).transaction() as conn:
                counts = self.repo.rescue_expired(conn, limit)
            batch = counts["pending"] + counts["failed"]
            rescued += batch
            if batch < limit:
                break
        if rescued:
            log.warning("cleanup: rescued %d entries whose lease expired", rescued)
        return rescued

    def retry_failed(self, ids: Sequence[int] | None = None, db: Database | None = None) -> int:
        """Give failed entries (all, or `ids`) a fresh attempt budget."""
        with (db or self.db).transaction() as conn:
            revived = self.repo.retry_failed(conn, ids)
        if revived:
            log.info("cleanup: %d failed entries back to pending", revived)
        return revived

    def refresh_statistics(self, db: Database | None = None) -> bool:
        """ANALYZE the queue table when it changed a lot since the planner last looked (a bulk
        DELETE just queued 100k rows): with stale statistics every claim sorts the whole backlog."""
        with (db or self.db).transaction() as conn:
            modified, estimated = self.repo.statistics_staleness(conn)
            if modified < ANALYZE_MIN_CHANGES or modified < ANALYZE_MIN_FRACTION * estimated:
                return False
            self.repo.analyze(conn)
        log.info("cleanup: analysed the queue table (%d changes since the last ANALYZE, %d rows estimated)",
                 modified, estimated)
        return True

    def due_work(self) -> int:
        """How many entries a drain would act on now (due pending entries and expired leases)."""
        with self.db.transaction() as conn:
            return self.repo.due_work(conn)

    def stats(self, recent_errors: int = 5) -> QueueStats:
        with self.db.transaction() as conn:
            counts = self.repo.counts_by_status(conn)
            pending = self.repo.pending_summary(conn)
            expired = self.repo.expired_leases(conn)
            failures = self.repo.recent_failures(conn, recent_errors)
            held_batches = self.batches.held_summary(conn)["batches"]
        return QueueStats(
            pending=counts["pending"], processing=counts["processing"], completed=counts["completed"],
            failed=counts["failed"], held=counts["held"], cancelled=counts["cancelled"], held_batches=held_batches,
            due=pending["due"], expired_leases=expired,
            oldest_pending_age_seconds=(round(pending["oldest_pending_age_seconds"], 3)
                                        if pending["oldest_pending_age_seconds"] is not None else None),
            next_retry_at=pending["next_retry_at"],
            recent_errors=[FailedEntry.model_validate(f) for f in failures],
        )


def _log_counts(what: str, r: BatchResult) -> None:
    log.info("%s: claimed=%d deleted=%d not_found=%d skipped_in_use=%d retrying=%d failed=%d rate_limited=%d "
             "admin_calls=%d upload_api_calls=%d via_admin=%d via_upload_api=%d", what, r.claimed, r.deleted,
             r.not_found, r.skipped_in_use, r.retrying, r.failed, r.rate_limited, r.admin_calls, r.upload_api_calls,
             r.deleted_via_admin, r.deleted_via_upload_api)


def _chunks_by_asset_kind(items: Sequence[ClaimedItem], size: int = MAX_IDS_PER_ADMIN_DELETE
                          ) -> Iterator[list[ClaimedItem]]:
    """Group by (resource_type, type) — one Admin call serves one kind — in chunks of at most `size`
    (and never more than the Admin API accepts)."""
    size = max(1, min(size, MAX_IDS_PER_ADMIN_DELETE))
    groups: dict[tuple[str, str], list[ClaimedItem]] = defaultdict(list)
    for item in items:
        groups[(item.resource_type, item.type)].append(item)
    for group in groups.values():
        for start in range(0, len(group), size):
            yield group[start:start + size]
