"""The cleanup-queue engine: claim, delete through an `AssetDeleter`, record outcomes.

Shape (after River/Procrastinate): the claim is one statement and commits before any call to the
store, so a crash never holds rows hostage for longer than the lease; each outcome is recorded
in its own short transaction right after the store answers; expired leases are rescued.
The engine knows nothing about Cloudinary — `CleanupQueueProcessor` plugs the Cloudinary hook in.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import Literal
from uuid import UUID

from pydantic import Field, computed_field, field_serializer

from mediasync.db import Database
from mediasync.errors import StoreError, StoreRateLimited
from mediasync.repository.queue import ClaimedItem, Failure, QueueRepository
from mediasync.results import Result
from mediasync.services.retry import RetryPolicy
from mediasync.store import MAX_IDS_PER_ADMIN_DELETE, AssetDeleter

log = logging.getLogger(__name__)

DEFAULT_RATE_LIMIT_WAIT = timedelta(minutes=5)
IN_USE_NOTE = "skipped: an active media_files row uses this asset again"


class BatchResult(Result):
    """What one claim-and-delete round did, in numbers."""

    claimed: int = 0
    deleted: int = 0
    not_found: int = 0
    skipped_in_use: int = 0
    retrying: int = 0
    failed: int = 0
    rate_limited: int = 0
    store_calls: int = 0
    rate_limit_reset_at: datetime | None = None
    errors: list[str] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def completed(self) -> int:
        return self.deleted + self.not_found + self.skipped_in_use

    @field_serializer("errors")
    def _first_errors(self, errors: list[str]) -> list[str]:
        return errors[:10]

    def add(self, other: BatchResult) -> None:
        for name in ("claimed", "deleted", "not_found", "skipped_in_use", "retrying", "failed",
                     "rate_limited", "store_calls"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.rate_limit_reset_at = other.rate_limit_reset_at or self.rate_limit_reset_at
        self.errors.extend(e for e in other.errors if e not in self.errors)


class ProcessResult(BatchResult):
    """A drain: several batches, plus maintenance done before them."""

    batches: int = 0
    rescued: int = 0
    retried_failed: int = 0
    stopped_by: Literal["empty", "time_budget", "rate_limited"] = "empty"
    duration_seconds: float = 0.0


class FailedEntry(Result):
    """A cleanup that ran out of attempts, for people to look at."""

    id: int
    public_id: str
    resource_type: str
    type: str
    reason: str
    attempts: int
    last_error: str | None
    updated_at: datetime


class QueueStats(Result):
    pending: int
    processing: int
    completed: int
    failed: int
    due: int
    expired_leases: int
    oldest_pending_age_seconds: float | None
    next_retry_at: datetime | None
    recent_errors: list[FailedEntry]


class CleanupQueue:
    """Claims due entries, deletes their assets in Admin API-sized chunks per (resource_type, type),
    and records each outcome. Any number of instances may run concurrently."""

    def __init__(self, db: Database, deleter: AssetDeleter | None = None, *,
                 lease: timedelta = timedelta(minutes=5), retry_policy: RetryPolicy | None = None,
                 repository: QueueRepository | None = None) -> None:
        self.db = db
        self.deleter = deleter
        self.lease = lease
        self.retry_policy = retry_policy or RetryPolicy()
        self.repo = repository or QueueRepository()

    # --- producing -----------------------------------------------------------------------

    def enqueue(self, *, public_id: str, resource_type: str = "image", type: str = "upload",
                reason: str, media_file_id: UUID | None = None) -> int:
        """Queue an asset for deletion (idempotent per asset); returns the open entry's id."""
        with self.db.transaction() as conn:
            return self.repo.enqueue(conn, public_id=public_id, resource_type=resource_type, type=type,
                                     reason=reason, media_file_id=media_file_id,
                                     max_attempts=self.db.max_attempts or 3)

    # --- consuming -----------------------------------------------------------------------

    def claim(self, limit: int, ids: Sequence[int] | None = None) -> list[ClaimedItem]:
        """Lease up to `limit` due entries (or just `ids`); committed before returning."""
        with self.db.transaction() as conn:
            return self.repo.claim(conn, limit, self.lease.total_seconds(), ids)

    def process_batch(self, batch_size: int = 100, ids: Sequence[int] | None = None) -> BatchResult:
        """Claim one batch and settle every entry in it."""
        items = self.claim(batch_size, ids)
        result = BatchResult(claimed=len(items))
        if not items:
            return result
        in_use = [i for i in items if i.in_use]
        if in_use:
            self._complete(in_use, note=IN_USE_NOTE)
            result.skipped_in_use = len(in_use)
        chunks = list(_chunks_by_asset_kind([i for i in items if not i.in_use]))
        for index, chunk in enumerate(chunks):
            try:
                self._delete_chunk(chunk, result)
            except StoreRateLimited as exc:
                remaining = [item for later in chunks[index:] for item in later]
                self._defer(remaining, exc, result)
                break
        log.info("cleanup batch: claimed=%d deleted=%d not_found=%d skipped_in_use=%d retrying=%d failed=%d "
                 "rate_limited=%d store_calls=%d", result.claimed, result.deleted, result.not_found,
                 result.skipped_in_use, result.retrying, result.failed, result.rate_limited, result.store_calls)
        return result

    def process(self, batch_size: int = 100, retry_failed: bool = False,
                time_budget: float | None = None) -> ProcessResult:
        """Drain: rescue expired leases, optionally revive failed entries, then process batches until
        the queue has nothing due, the time budget (seconds) runs out, or the store rate-limits us."""
        started = time.monotonic()
        total = ProcessResult()
        total.rescued = self.rescue_expired()
        if retry_failed:
            total.retried_failed = self.retry_failed()
        while True:
            batch = self.process_batch(batch_size)
            if batch.claimed:
                total.batches += 1
            total.add(batch)
            if batch.rate_limited:
                total.stopped_by = "rate_limited"
                break
            if batch.claimed < batch_size:
                total.stopped_by = "empty"
                break
            if time_budget is not None and time.monotonic() - started >= time_budget:
                total.stopped_by = "time_budget"
                break
        total.duration_seconds = round(time.monotonic() - started, 3)
        log.info("cleanup drain: batches=%d claimed=%d completed=%d retrying=%d failed=%d rescued=%d "
                 "stopped_by=%s in %.2fs", total.batches, total.claimed, total.completed, total.retrying,
                 total.failed, total.rescued, total.stopped_by, total.duration_seconds)
        return total

    def _delete_chunk(self, chunk: list[ClaimedItem], result: BatchResult) -> None:
        """One Admin API call for one chunk of assets of one kind; rate limits propagate to the caller."""
        if self.deleter is None:
            raise RuntimeError("CleanupQueue has no asset deleter; pass one to process entries")
        first = chunk[0]
        result.store_calls += 1
        try:
            outcomes = self.deleter.delete_many([i.public_id for i in chunk], first.resource_type, first.type)
        except StoreRateLimited:
            raise
        except StoreError as exc:
            self._fail(chunk, f"{type(exc).__name__}: {exc}", "store_error", result)
            return
        except Exception as exc:
            log.exception("asset deleter raised unexpectedly")
            self._fail(chunk, f"{type(exc).__name__}: {exc}", "unexpected", result)
            return
        done = [i for i in chunk if i.public_id in outcomes]
        unanswered = [i for i in chunk if i.public_id not in outcomes]
        self._complete(done)
        result.deleted += sum(outcomes[i.public_id] == "deleted" for i in done)
        result.not_found += sum(outcomes[i.public_id] == "not_found" for i in done)
        if unanswered:
            self._fail(unanswered, "the store did not report an outcome for this asset", "no_answer", result)

    def _complete(self, items: list[ClaimedItem], note: str | None = None) -> None:
        with self.db.transaction() as conn:
            self.repo.complete(conn, items, [note] * len(items))

    def _fail(self, items: list[ClaimedItem], error: str, kind: str, result: BatchResult) -> None:
        failures = [Failure(i, error, kind, self.retry_policy.delay(i.attempts)) for i in items]
        with self.db.transaction() as conn:
            statuses = self.repo.fail(conn, failures)
        result.failed += sum(s == "failed" for s in statuses.values())
        result.retrying += sum(s == "pending" for s in statuses.values())
        if error not in result.errors:
            result.errors.append(error)
        log.warning("cleanup: %d entr%s failed (%s): %s", len(items), "y" if len(items) == 1 else "ies", kind, error)

    def _defer(self, items: list[ClaimedItem], exc: StoreRateLimited, result: BatchResult) -> None:
        reset_at = exc.reset_at or datetime.now(timezone.utc) + DEFAULT_RATE_LIMIT_WAIT
        with self.db.transaction() as conn:
            self.repo.defer_rate_limited(conn, items, reset_at, f"rate limited: {exc}")
        result.rate_limited += len(items)
        result.rate_limit_reset_at = reset_at
        log.warning("cleanup: rate limited; %d entries deferred until %s without using an attempt",
                    len(items), reset_at.isoformat())

    # --- maintenance ---------------------------------------------------------------------

    def rescue_expired(self, limit: int = 1000) -> int:
        """Return entries whose lease expired (their processor died) to pending/failed."""
        rescued = 0
        while True:
            with self.db.transaction() as conn:
                counts = self.repo.rescue_expired(conn, limit)
            batch = counts["pending"] + counts["failed"]
            rescued += batch
            if batch < limit:
                break
        if rescued:
            log.warning("cleanup: rescued %d entries whose lease expired", rescued)
        return rescued

    def retry_failed(self, ids: Sequence[int] | None = None) -> int:
        """Give failed entries (all, or `ids`) a fresh attempt budget."""
        with self.db.transaction() as conn:
            revived = self.repo.retry_failed(conn, ids)
        if revived:
            log.info("cleanup: %d failed entries back to pending", revived)
        return revived

    def stats(self, recent_errors: int = 5) -> QueueStats:
        with self.db.transaction() as conn:
            counts = self.repo.counts_by_status(conn)
            pending = self.repo.pending_summary(conn)
            expired = self.repo.expired_leases(conn)
            failures = self.repo.recent_failures(conn, recent_errors)
        return QueueStats(
            pending=counts["pending"], processing=counts["processing"], completed=counts["completed"],
            failed=counts["failed"], due=pending["due"], expired_leases=expired,
            oldest_pending_age_seconds=(round(pending["oldest_pending_age_seconds"], 3)
                                        if pending["oldest_pending_age_seconds"] is not None else None),
            next_retry_at=pending["next_retry_at"],
            recent_errors=[FailedEntry.model_validate(f) for f in failures],
        )


def _chunks_by_asset_kind(items: Sequence[ClaimedItem]) -> Iterator[list[ClaimedItem]]:
    """Group by (resource_type, type) — one Admin call serves one kind — in chunks the Admin API accepts."""
    groups: dict[tuple[str, str], list[ClaimedItem]] = defaultdict(list)
    for item in items:
        groups[(item.resource_type, item.type)].append(item)
    for group in groups.values():
        for start in range(0, len(group), MAX_IDS_PER_ADMIN_DELETE):
            yield group[start:start + MAX_IDS_PER_ADMIN_DELETE]
