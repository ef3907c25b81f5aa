"""Settling claimed entries: the guard transaction per chunk and the outcome of every entry.

Each chunk (≤ 100 assets of one kind) is deleted inside a short *guard* transaction that locks the
chunk's entries, re-checks that no active media_files row uses the asset (a restore or a re-upload
since the claim), calls the store, and records the outcomes — matched on the claim's attempt —
before it commits. A restore that arrives while the call is in flight waits for the guard and then
fails cleanly, so an entry never deletes an asset a live row uses.
"""

from __future__ import annotations

import logging
from collections import defaultdict, deque
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone

from mediasync.db import Connection, Database
from mediasync.errors import StoreError, StoreRateLimited
from mediasync.repository.queue import ClaimedItem, Failure, QueueRepository
from mediasync.services.queue.config import QueueConfig
from mediasync.services.queue.deleter import BudgetAwareDeleter, ChunkOutcome
from mediasync.services.queue.results import BatchResult
from mediasync.store import MAX_IDS_PER_ADMIN_DELETE, AssetDeleter

log = logging.getLogger(__name__)

IN_USE_NOTE = "skipped: an active media_files row uses this asset again"


class Settler:
    """Deletes the assets of claimed entries through the budget-aware deleter and records each
    outcome; thread-safe, so a drain may settle several chunks at once."""

    def __init__(self, config: QueueConfig, deleter: AssetDeleter | None = None,
                 repository: QueueRepository | None = None) -> None:
        self.config = config
        self.deleter = deleter
        self.repo = repository or QueueRepository()
        self._strategy: BudgetAwareDeleter | None = None

    @property
    def strategy(self) -> BudgetAwareDeleter:
        """The budget-aware deleter over the current `deleter` (rebuilt when it is replaced)."""
        if self._strategy is None or self._strategy.store is not self.deleter:
            assert self.deleter is not None
            self._strategy = BudgetAwareDeleter(self.deleter, reserve=self.config.admin_reserve,
                                                destroy_concurrency=self.config.destroy_concurrency)
        return self._strategy

    def may_overlap(self, calls: int) -> bool:
        """Whether `calls` chunks may start at once (see `BudgetAwareDeleter.may_overlap`)."""
        return self.deleter is not None and self.strategy.may_overlap(calls)

    def settle(self, db: Database, items: Sequence[ClaimedItem]) -> BatchResult:
        """Settle entries this processor claimed, one chunk after the other; after a rate limit
        the rest go back to pending without using an attempt."""
        result = BatchResult()
        chunks = deque(chunks_by_asset_kind(items))
        while chunks:
            result.add(self.settle_chunk(db, chunks.popleft()))
            if result.rate_limited:
                self.defer_all(db, chunks, result)
        return result

    def settle_chunk(self, db: Database, chunk: list[ClaimedItem]) -> BatchResult:
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

    def defer_all(self, db: Database, chunks: deque[list[ClaimedItem]], result: BatchResult) -> None:
        """Claimed chunks never sent to the store after a rate limit: back to pending, attempt given back."""
        items = [item for chunk in chunks for item in chunk]
        chunks.clear()
        if items:
            with db.transaction() as conn:
                self._defer(conn, items, StoreRateLimited("not attempted: the store rate-limited this drain",
                                                          result.rate_limit_reset_at), result)

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
        failures = [Failure(i, error, kind, self.config.retry_policy.delay(i.attempts)) for i in items]
        statuses = self.repo.fail(conn, failures)
        result.failed += sum(s == "failed" for s in statuses.values())
        result.retrying += sum(s == "pending" for s in statuses.values())
        if error not in result.errors:
            result.errors.append(error)
        log.warning("cleanup: %d entr%s failed (%s): %s", len(items), "y" if len(items) == 1 else "ies", kind, error)

    def _defer(self, conn: Connection, items: list[ClaimedItem], exc: StoreRateLimited, result: BatchResult) -> None:
        reset_at = exc.reset_at or datetime.now(timezone.utc) + self.config.rate_limit_wait
        self.repo.defer_rate_limited(conn, items, reset_at, f"rate limited: {exc}")
        result.rate_limited += len(items)
        result.rate_limit_reset_at = reset_at
        log.warning("cleanup: rate limited; %d entries deferred until %s without using an attempt",
                    len(items), reset_at.isoformat())


def chunks_by_asset_kind(items: Sequence[ClaimedItem], size: int = MAX_IDS_PER_ADMIN_DELETE
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
