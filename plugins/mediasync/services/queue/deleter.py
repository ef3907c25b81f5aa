"""Which Cloudinary API deletes a chunk: the budget-aware deleter.

Cloudinary's Admin API `delete_resources` removes 100 assets a call but counts against the hourly
Admin allowance (500 calls on free plans, 2,000 on paid) that the reconciliation's listing also
needs; the Upload API's `destroy` removes one asset a call and is not rate-limited. So: Admin API
while the allowance the last Admin answer reported is above the reserve kept for reconciliation
(`Settings.reconcile_admin_api_reserve`); concurrent `destroy` calls (bounded, with their own
backoff) once it runs down to the reserve or Cloudinary answers 420/429; Admin API again after
the allowance resets. Each chunk's answer says which path deleted it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Literal

from mediasync.errors import StoreError, StoreRateLimited
from mediasync.store import AssetDeleter, AssetDestroyer, DeleteOutcome

log = logging.getLogger(__name__)

DeletePath = Literal["admin", "upload_api"]
ALLOWANCE_UNKNOWN_RESET = timedelta(minutes=5)  # a low allowance with no reset time: look again after this


@dataclass
class ChunkOutcome:
    """What deleting one chunk did: outcome per public id, errors per public id (the ids the
    store did not settle), and the calls it took on each API."""

    path: DeletePath
    outcomes: dict[str, DeleteOutcome] = field(default_factory=dict)
    errors: dict[str, StoreError] = field(default_factory=dict)
    admin_calls: int = 0
    upload_api_calls: int = 0


class BudgetAwareDeleter:
    """Deletes chunks of one (resource_type, type) through the Admin or the Upload API, spending
    the Admin allowance only down to `reserve`. Thread-safe: chunks may be deleted concurrently."""

    def __init__(self, store: AssetDeleter, *, reserve: int = 50, destroy_concurrency: int = 20,
                 destroy_rate_limit_retries: int = 3, destroy_backoff_seconds: float = 1.0) -> None:
        self.store = store
        self.reserve = reserve
        self.destroy_concurrency = destroy_concurrency
        self.destroy_rate_limit_retries = destroy_rate_limit_retries
        self.destroy_backoff_seconds = destroy_backoff_seconds
        self._admin_refused_until: datetime | None = None
        self._admin_in_flight = 0
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    @property
    def can_destroy(self) -> bool:
        return isinstance(self.store, AssetDestroyer)

    def may_overlap(self, calls: int) -> bool:
        """Whether `calls` chunks may start at once: the store knows what is left of the Admin
        allowance in the current window (an answer to this process, or a figure the last process
        left) and it leaves room for all of them above the reserve. Otherwise one chunk goes first
        and its answer (or its 420) tells what is left before calls overlap."""
        allowance = getattr(self.store, "admin_allowance", None)
        if allowance is None or allowance.remaining is None:
            return False
        if allowance.reset_at is not None and datetime.now(timezone.utc) >= allowance.reset_at:
            return False  # a new window: learn it
        return allowance.remaining - calls > self.reserve

    def admin_available(self, now: datetime | None = None) -> bool:
        """Whether the next chunk may go through the Admin API (without taking a call from the budget)."""
        with self._lock:
            return self._admin_allowed(now or datetime.now(timezone.utc))

    def _admin_allowed(self, now: datetime) -> bool:
        if not self.can_destroy:
            return True  # no other way: the Admin API answers (and 420s propagate as rate limits)
        if self._admin_refused_until is not None:
            if now < self._admin_refused_until:
                return False
            self._admin_refused_until = None
            log.info("cleanup: the Admin API allowance has reset; deleting through delete_resources again")
        allowance = getattr(self.store, "admin_allowance", None)
        if allowance is None or allowance.remaining is None:
            return True
        until = allowance.reset_at or (allowance.seen_at or now) + ALLOWANCE_UNKNOWN_RESET
        if now >= until:
            return True  # the window the figure belongs to is over
        # Calls already sent but not answered will take from the same allowance.
        return allowance.remaining - self._admin_in_flight > self.reserve

    def _take_admin_call(self) -> bool:
        with self._lock:
            if not self._admin_allowed(datetime.now(timezone.utc)):
                return False
            self._admin_in_flight += 1
            return True

    def delete(self, public_ids: Sequence[str], resource_type: str, type: str) -> ChunkOutcome:
        """Delete one chunk (≤ 100 ids). Raises `StoreRateLimited` only when no path is left, and
        other `StoreError`s when the Admin call failed as a whole."""
        if self._take_admin_call():
            try:
                outcomes = self.store.delete_many(public_ids, resource_type, type)
                return ChunkOutcome("admin", outcomes, admin_calls=1)
            except StoreRateLimited as exc:
                if not self.can_destroy:
                    raise
                self._refuse_admin_until(exc.reset_at)
            finally:
                with self._lock:
                    self._admin_in_flight -= 1
            result = self._destroy_each(public_ids, resource_type, type)
            result.admin_calls += 1
            return result
        return self._destroy_each(public_ids, resource_type, type)

    def _refuse_admin_until(self, reset_at: datetime | None) -> None:
        until = reset_at or datetime.now(timezone.utc) + ALLOWANCE_UNKNOWN_RESET
        with self._lock:
            self._admin_refused_until = until
        log.warning("cleanup: Cloudinary refused an Admin API call (rate limit); deleting with Upload API destroy "
                    "until %s", until.isoformat())

    def _destroy_each(self, public_ids: Sequence[str], resource_type: str, type: str) -> ChunkOutcome:
        destroyer = self.store
        assert isinstance(destroyer, AssetDestroyer)
        result = ChunkOutcome("upload_api")
        calls = [0]
        calls_lock = threading.Lock()

        def one(public_id: str) -> tuple[str, DeleteOutcome | StoreError]:
            for attempt in range(self.destroy_rate_limit_retries + 1):
                with calls_lock:
                    calls[0] += 1
                try:
                    return public_id, destroyer.destroy(public_id, resource_type, type)
                except StoreRateLimited as exc:
                    if attempt == self.destroy_rate_limit_retries:
                        return public_id, exc
                    time.sleep(self.destroy_backoff_seconds * 2 ** attempt)
                except StoreError as exc:  # transient errors were already retried by the client
                    return public_id, exc
            raise AssertionError("unreachable")  # pragma: no cover

        for public_id, answer in self._executor().map(one, list(dict.fromkeys(public_ids))):
            if isinstance(answer, StoreError):
                result.errors[public_id] = answer
            else:
                result.outcomes[public_id] = answer
        result.upload_api_calls = calls[0]
        return result

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.destroy_concurrency, thread_name_prefix="cloudinary-destroy")
            return self._pool

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
