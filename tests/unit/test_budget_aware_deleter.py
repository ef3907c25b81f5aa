"""The budget-aware deleter's choice of API, as a pure object (a store double that reports an
allowance like Cloudinary's headers do)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

import pytest

from mediasync.errors import StoreRateLimited, StoreTransientError
from mediasync.services.queue.deleter import BudgetAwareDeleter
from mediasync.store import AdminAllowance, DeleteOutcome


def in_half_an_hour() -> datetime:
    """Read at each use: the whole suite may run this module half an hour after collecting it."""
    return datetime.now(timezone.utc) + timedelta(minutes=30)


class Store:
    def __init__(self, remaining: int | None, reset_at: datetime | None = None) -> None:
        self.remaining = remaining
        self.reset_at = reset_at or in_half_an_hour()
        self.admin_calls: list[list[str]] = []
        self.destroyed: list[str] = []
        self.refuse_admin = False
        self.destroy_errors: dict[str, Exception] = {}

    @property
    def admin_allowance(self) -> AdminAllowance | None:
        return None if self.remaining is None else AdminAllowance(self.remaining, self.reset_at, 500, datetime.now(timezone.utc))

    def delete_many(self, public_ids: Sequence[str], resource_type: str = "image",
                    type: str = "upload") -> dict[str, DeleteOutcome]:
        if self.refuse_admin:
            raise StoreRateLimited("Rate Limit Exceeded", in_half_an_hour())
        self.admin_calls.append(list(public_ids))
        if self.remaining is not None:
            self.remaining -= 1
        return dict.fromkeys(public_ids, "deleted")

    def destroy(self, public_id: str, resource_type: str = "image", type: str = "upload") -> DeleteOutcome:
        if public_id in self.destroy_errors:
            raise self.destroy_errors[public_id]
        self.destroyed.append(public_id)
        return "deleted"


def test_admin_while_above_the_reserve():
    store = Store(remaining=60)
    outcome = BudgetAwareDeleter(store, reserve=50).delete(["a", "b"], "image", "upload")
    assert (outcome.path, outcome.admin_calls, outcome.upload_api_calls) == ("admin", 1, 0)
    assert outcome.outcomes == {"a": "deleted", "b": "deleted"} and store.destroyed == []


def test_destroy_at_the_reserve_and_admin_again_after_the_reset():
    store = Store(remaining=50, reset_at=datetime.now(timezone.utc) + timedelta(minutes=30))
    deleter = BudgetAwareDeleter(store, reserve=50)
    outcome = deleter.delete(["a", "b", "b"], "image", "upload")
    assert (outcome.path, outcome.admin_calls, outcome.upload_api_calls) == ("upload_api", 0, 2)
    assert sorted(store.destroyed) == ["a", "b"] and store.admin_calls == []
    store.reset_at = datetime.now(timezone.utc) - timedelta(seconds=1)  # that hour is over
    assert deleter.delete(["c"], "image", "upload").path == "admin"


def test_calls_in_flight_count_against_the_allowance():
    store = Store(remaining=52, reset_at=datetime.now(timezone.utc) + timedelta(minutes=30))
    deleter = BudgetAwareDeleter(store, reserve=50)
    assert [deleter._take_admin_call() for _ in range(3)] == [True, True, False]  # 52, 51 left: then the reserve
    assert deleter.admin_available() is False


def test_a_420_switches_to_destroy_for_this_chunk_and_until_the_reset():
    store = Store(remaining=None)
    store.refuse_admin = True
    deleter = BudgetAwareDeleter(store, reserve=50)
    outcome = deleter.delete(["a"], "image", "upload")
    assert (outcome.path, outcome.admin_calls, outcome.upload_api_calls) == ("upload_api", 1, 1)
    store.refuse_admin = False
    assert deleter.delete(["b"], "image", "upload").path == "upload_api"  # no Admin call before the reset
    assert store.admin_calls == []


def test_destroy_errors_are_per_asset_and_rate_limits_are_retried():
    store = Store(remaining=0)
    store.destroy_errors = {"bad": StoreTransientError("HTTP 503"), "slow": StoreRateLimited("429", None)}
    deleter = BudgetAwareDeleter(store, reserve=50, destroy_rate_limit_retries=2, destroy_backoff_seconds=0)
    outcome = deleter.delete(["ok", "bad", "slow"], "image", "upload")
    assert outcome.outcomes == {"ok": "deleted"}
    assert isinstance(outcome.errors["bad"], StoreTransientError)
    assert isinstance(outcome.errors["slow"], StoreRateLimited)
    assert outcome.upload_api_calls == 1 + 1 + 3  # the rate-limited one was tried three times


def test_without_destroy_a_rate_limit_propagates():
    class AdminOnly:
        def delete_many(self, public_ids, resource_type="image", type="upload"):
            raise StoreRateLimited("Rate Limit Exceeded", None)

    with pytest.raises(StoreRateLimited):
        BudgetAwareDeleter(AdminOnly(), reserve=50).delete(["a"], "image", "upload")
