"""What the cleanup queue's services report: per batch, per drain, per maintenance job, and the
queue's statistics. Each has a one-line `summary()` — what the DAG task log and the CLI print."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, computed_field, field_serializer

from mediasync.results import Result

_COUNTS = ("claimed", "deleted", "not_found", "skipped_in_use", "retrying", "failed", "rate_limited", "store_calls",
           "admin_calls", "upload_api_calls", "deleted_via_admin", "deleted_via_upload_api")


class BatchResult(Result):
    """What one claim-and-delete round did, in numbers. `deleted_via_*` say which Cloudinary API
    settled how many entries (`deleted` + `not_found`); `store_calls` is both APIs' calls."""

    claimed: int = 0
    deleted: int = 0
    not_found: int = 0
    skipped_in_use: int = 0
    retrying: int = 0
    failed: int = 0
    rate_limited: int = 0
    store_calls: int = 0
    admin_calls: int = 0
    upload_api_calls: int = 0
    deleted_via_admin: int = 0
    deleted_via_upload_api: int = 0
    rate_limit_reset_at: datetime | None = None
    errors: list[str] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def completed(self) -> int:
        return self.deleted + self.not_found + self.skipped_in_use

    @field_serializer("errors")
    def _first_errors(self, errors: list[str]) -> list[str]:
        return errors[:10]

    def summary(self) -> str:
        """One line: every count, then which API settled how many (with the calls it took)."""
        return _line(self, _SUMMARY_COUNTS) + (f" via_admin={self.deleted_via_admin} (admin_calls={self.admin_calls})"
                                               f" via_upload_api={self.deleted_via_upload_api}"
                                               f" (upload_api_calls={self.upload_api_calls})")

    def add(self, other: BatchResult) -> None:
        for name in _COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.rate_limit_reset_at = other.rate_limit_reset_at or self.rate_limit_reset_at
        self.errors.extend(e for e in other.errors if e not in self.errors)


class ProcessResult(BatchResult):
    """A drain: several batches (overlapping), plus maintenance done before them."""

    batches: int = 0
    rescued: int = 0
    retried_failed: int = 0
    analyzed: bool = False
    concurrency: int = 1
    stopped_by: Literal["empty", "time_budget", "rate_limited"] = "empty"
    duration_seconds: float = 0.0

    def summary(self) -> str:
        maintenance = _line(self, ("rescued", "retried_failed", "analyzed", "batches"))
        return (f"cleanup queue: {super().summary()} {maintenance}"
                f" stopped_by={self.stopped_by} in {self.duration_seconds:.2f}s")


class RescueResult(Result):
    """The rescuer: entries whose lease expired (their processor died), back to pending or failed."""

    rescued: int = 0

    def summary(self) -> str:
        return f"cleanup rescuer: {self.rescued} entries whose lease expired returned"


class ReviveResult(Result):
    """Failed entries given a fresh attempt budget."""

    revived: int = 0

    def summary(self) -> str:
        return f"cleanup retry: {self.revived} failed entries back to pending"


class AnalyzeResult(Result):
    """The analyzer: whether the queue table's planner statistics were refreshed, and why."""

    analyzed: bool = False
    changes: int = 0
    estimated_rows: int = 0

    def summary(self) -> str:
        verdict = "analysed the queue table" if self.analyzed else "statistics still fresh"
        return f"cleanup analyzer: {verdict} ({self.changes} rows more than the planner's " \
               f"{self.estimated_rows})"


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
    held: int = Field(0, description="entries of deletion batches the delete brake holds")
    cancelled: int = Field(0, description="entries an undo took back")
    held_batches: int = Field(0, description="deletion batches waiting for a release or an undo")
    due: int
    expired_leases: int
    oldest_pending_age_seconds: float | None
    next_retry_at: datetime | None
    recent_errors: list[FailedEntry]

    def summary(self) -> str:
        oldest = "-" if self.oldest_pending_age_seconds is None else f"{self.oldest_pending_age_seconds:.0f}s"
        return (f"cleanup queue: {_line(self, _STATS_COUNTS)} oldest_pending={oldest}"
                f" recent_errors={len(self.recent_errors)}")


_SUMMARY_COUNTS = ("claimed", "deleted", "not_found", "skipped_in_use", "retrying", "failed", "rate_limited")
_STATS_COUNTS = ("pending", "processing", "held", "held_batches", "failed", "completed", "cancelled", "due",
                 "expired_leases")


def _line(result: Result, names: tuple[str, ...]) -> str:
    """`name=value` for each of `names`, space-separated (booleans as yes/no)."""
    def text(value: object) -> str:
        return ("yes" if value else "no") if isinstance(value, bool) else str(value)
    return " ".join(f"{name}={text(getattr(result, name))}" for name in names)
