"""The cleanup queue's settings, built once from `mediasync.config.Settings` (with the environment)
and handed to every queue service, so no service carries defaults of its own."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from mediasync.config import Settings
from mediasync.services.retry import RetryPolicy

# Beside a guard per chunk in flight, a drain holds the claim running ahead and the statistics' query.
DRAIN_SPARE_CONNECTIONS = 2


def drain_pool_size(concurrency: int) -> int:
    """Connections for a pool one drain has to itself (its own, or the pool of a command that runs it)."""
    return max(1, concurrency) + DRAIN_SPARE_CONNECTIONS


@dataclass(frozen=True)
class QueueConfig:
    """What the drain, the rescuer, the analyzer and the producer read. Every field but the tuning
    constants comes from `Settings`; `from_settings` is the one place that maps them."""

    batch_size: int
    concurrency: int  # chunks in flight per drain (MEDIASYNC_CLEANUP_CONCURRENCY)
    admin_reserve: int  # Admin API calls kept for reconciliation (MEDIASYNC_RECONCILE_ADMIN_API_RESERVE)
    destroy_concurrency: int  # Upload API destroy calls in flight (MEDIASYNC_CLEANUP_DESTROY_CONCURRENCY)
    max_attempts: int  # attempts before an entry is failed (MEDIASYNC_MAX_ATTEMPTS)
    lease: timedelta = timedelta(minutes=5)
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    rate_limit_wait: timedelta = timedelta(minutes=5)  # when a rate limit names no reset time
    rescue_limit: int = 1000  # expired leases returned per statement
    # ANALYZE the queue table when it gained at least this many rows since the planner counted it...
    analyze_min_changes: int = 10_000
    # ...and at least as many as it counted (the table doubled): a planner that knows the table holds
    # thousands of rows already plans the claim as an index scan, and an ANALYZE costs 100-300 ms.
    analyze_min_fraction: float = 1.0

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: Any) -> QueueConfig:
        """The queue's config from `settings` (default: `Settings.from_env()`), with `overrides`
        (None values ignored) for callers that tune one field."""
        s = settings or Settings.from_env()
        config = cls(batch_size=s.cleanup_batch_size, concurrency=s.cleanup_concurrency,
                     admin_reserve=s.reconcile_admin_api_reserve, destroy_concurrency=s.cleanup_destroy_concurrency,
                     max_attempts=s.max_attempts)
        return config.with_overrides(**overrides)

    def with_overrides(self, **overrides: Any) -> QueueConfig:
        """A copy with the given fields replaced (None: keep)."""
        changes = {k: v for k, v in overrides.items() if v is not None}
        if "concurrency" in changes:
            changes["concurrency"] = max(1, changes["concurrency"])
        return replace(self, **changes) if changes else self
