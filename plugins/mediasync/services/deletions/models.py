"""What the delete brake reports: a deletion batch, a page of them, and the answers of a decision."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from pydantic import Field, computed_field

from mediasync.results import Result

BatchStatus = Literal["flowing", "held", "released", "undone"]
BATCH_STATUSES: tuple[str, ...] = ("flowing", "held", "released", "undone")

_VERBS = {"DELETE": "deleted", "UPDATE": "soft-deleted", "TRUNCATE": "truncated"}


class DeletionBatch(Result):
    """One statement, API request or reconciliation apply that queued Cloudinary deletions."""

    id: int
    created_at: datetime
    source: Literal["sql", "api", "reconcile"]
    operation: str
    reason: str | None = None
    db_user: str
    application_name: str | None = None
    client_addr: str | None = None
    backend_pid: int | None = None
    transaction_id: int | None = None
    requested_by: str | None = None
    rows_affected: int
    assets: int
    queued: int
    status: BatchStatus
    hold_reason: str | None = None
    available_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    alerted_at: datetime | None = None
    undo_finished_at: datetime | None = None
    undo_until: datetime | None = None
    entries: dict[str, int] = Field(default_factory=dict, description="the batch's queue entries per status")

    @classmethod
    def from_row(cls, row: dict[str, Any], undo_days: int) -> DeletionBatch:
        values = dict(row)
        values["client_addr"] = str(row["client_addr"]) if row.get("client_addr") is not None else None
        values["entries"] = row.get("entries") or {}
        values["undo_until"] = None if row.get("journal_purged_at") else row["created_at"] + timedelta(days=undo_days)
        return cls.model_validate(values)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def summary(self) -> str:
        """The batch as an operator reads it: "5,000 assets deleted from psql by postgres at 14:02"."""
        what = f"{self.assets:,} asset{'s' if self.assets != 1 else ''}"
        if self.rows_affected and self.operation in _VERBS:
            what += f" ({self.rows_affected:,} row{'s' if self.rows_affected != 1 else ''} {_VERBS[self.operation]})"
        origin = {"sql": f"from {self.application_name or 'SQL'}", "api": "through the API",
                  "reconcile": "by a reconciliation"}[self.source]
        who = self.requested_by or self.db_user
        return f"{what} {origin} by {who} at {self.created_at:%Y-%m-%d %H:%M:%S %Z}".strip()


class DeletionBatchDetail(DeletionBatch):
    """A batch with a sample of what it removed."""

    sample: list[dict[str, Any]] = Field(default_factory=list)
    undo_result: dict[str, Any] | None = None


class DeletionPage(Result):
    items: list[DeletionBatch]
    next_cursor: str | None = None


class ReleaseResult(Result):
    batch: DeletionBatch
    released_entries: int = Field(description="held entries that became pending")
    already_released: bool = False


class NotRestorable(Result):
    public_id: str
    resource_type: str
    type: str
    media_file_id: UUID | None = None
    reason: str


class UndoResult(Result):
    """What an undo gave back."""

    batch_id: int
    decided_by: str | None
    decided_at: datetime | None
    rows_restored: int = 0
    assets_kept: int = Field(0, description="assets never deleted: their entries were cancelled or are still held")
    assets_restored: int = Field(0, description="assets brought back from Cloudinary's backups")
    entries_cancelled: int = 0
    not_restorable: list[NotRestorable] = Field(default_factory=list)
    already_undone: bool = False
