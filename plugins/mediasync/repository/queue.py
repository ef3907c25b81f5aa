"""The cleanup queue's SQL: the only module that reads or writes public.cloudinary_cleanup_queue.

Every method takes the connection to run on, so the caller decides the transaction boundaries
(the claim commits before any Cloudinary call; each outcome is recorded in its own transaction).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from mediasync.db import Connection, Row


@dataclass(frozen=True)
class ClaimedItem:
    """A queue entry this processor holds the lease on; `attempts` identifies this claim."""

    id: int
    public_id: str
    resource_type: str
    type: str
    media_file_id: UUID | None
    reason: str
    attempts: int
    max_attempts: int


@dataclass(frozen=True)
class Failure:
    item: ClaimedItem
    error: str
    kind: str
    delay_seconds: float


class QueueRepository:
    """Named queue queries over a `mediasync.db.Connection` (rows as dicts)."""

    def enqueue(self, conn: Connection, *, public_id: str, resource_type: str, type: str, reason: str,
                batch_id: int, max_attempts: int, media_file_id: UUID | None = None) -> int:
        """Queue an asset in deletion batch `batch_id` (held if the batch is); the open entry's id."""
        return conn.scalar("queue.enqueue", {
            "public_id": public_id, "resource_type": resource_type, "type": type, "batch_id": batch_id,
            "media_file_id": media_file_id, "reason": reason, "max_attempts": max_attempts,
        })

    def open_entry_for_asset(self, conn: Connection, public_id: str, resource_type: str,
                             type: str) -> int | None:
        """The asset's pending, processing or held entry, if any."""
        return conn.scalar("queue.open_entry_for_asset",
                           {"public_id": public_id, "resource_type": resource_type, "type": type})

    def open_entry(self, conn: Connection, public_id: str, resource_type: str, type: str) -> Row | None:
        """The asset's open entry with its batch's status and hold reason, and the database's now()."""
        return conn.one("queue.open_entry_with_batch",
                        {"public_id": public_id, "resource_type": resource_type, "type": type})

    def claim(self, conn: Connection, limit: int, lease_seconds: float,
              ids: Sequence[int] | None = None) -> list[ClaimedItem]:
        """Lease up to `limit` due entries (or just `ids`), after the claims before this one (the
        caller's transaction must end soon: the turn is held until it does)."""
        conn.execute("queue.serialize_claims")
        rows = conn.all("queue.claim", {"limit": limit, "lease_seconds": lease_seconds,
                                        "ids": list(ids) if ids is not None else None})
        return [ClaimedItem(**row) for row in rows]

    def lock_claimed(self, conn: Connection, items: Sequence[ClaimedItem]) -> set[int]:
        """Lock the entries still held by this claim until the transaction ends; returns their ids."""
        if not items:
            return set()
        rows = conn.all("queue.lock_claimed", {"ids": [i.id for i in items], "attempts": [i.attempts for i in items]})
        return {r["id"] for r in rows}

    def assets_in_use(self, conn: Connection, ids: Sequence[int]) -> set[int]:
        """Ids of entries whose asset an active media_files row uses."""
        if not ids:
            return set()
        return {r["id"] for r in conn.all("queue.assets_in_use", {"ids": list(ids)})}

    def statistics_staleness(self, conn: Connection) -> tuple[int, int]:
        """(rows gained since the planner last counted, the planner's row estimate) of the queue table."""
        row = conn.one("queue.statistics_staleness") or {}
        return int(row.get("grown") or 0), int(row.get("estimated_rows") or 0)

    def analyze(self, conn: Connection) -> None:
        conn.execute("queue.analyze")

    def complete(self, conn: Connection, items: Sequence[ClaimedItem], outcomes: Sequence[str],
                 notes: Sequence[str | None] | None = None) -> int:
        """Settle claimed entries with Cloudinary's answer per entry (`deleted`, `not_found`,
        `skipped_in_use`)."""
        if not items:
            return 0
        notes = list(notes) if notes is not None else [None] * len(items)
        return conn.execute("queue.complete", {"ids": [i.id for i in items], "attempts": [i.attempts for i in items],
                                               "notes": notes, "outcomes": list(outcomes)})

    def fail(self, conn: Connection, failures: Sequence[Failure]) -> dict[int, str]:
        """Record failed attempts; returns id -> new status (`pending` or `failed`)."""
        if not failures:
            return {}
        rows = conn.all("queue.fail", {
            "ids": [f.item.id for f in failures], "attempts": [f.item.attempts for f in failures],
            "errors": [f.error for f in failures], "kinds": [f.kind for f in failures],
            "delays": [f.delay_seconds for f in failures],
        })
        return {r["id"]: r["status"] for r in rows}

    def defer_rate_limited(self, conn: Connection, items: Sequence[ClaimedItem],
                           available_at: datetime, error: str) -> int:
        if not items:
            return 0
        return conn.execute("queue.defer_rate_limited", {
            "ids": [i.id for i in items], "attempts": [i.attempts for i in items],
            "available_at": available_at, "error": error,
        })

    def rescue_expired(self, conn: Connection, limit: int) -> dict[str, int]:
        rows = conn.all("queue.rescue_expired", {"limit": limit})
        return {"pending": sum(r["status"] == "pending" for r in rows),
                "failed": sum(r["status"] == "failed" for r in rows)}

    def retry_failed(self, conn: Connection, ids: Sequence[int] | None = None) -> int:
        return len(conn.all("queue.retry_failed", {"ids": list(ids) if ids is not None else None}))

    def counts_by_status(self, conn: Connection) -> dict[str, int]:
        return {r["status"]: r["n"] for r in conn.all("queue.counts_by_status")}

    def pending_summary(self, conn: Connection) -> Row:
        return conn.one("queue.pending_summary") or {}

    def due_work(self, conn: Connection) -> int:
        return int(conn.scalar("queue.due_work") or 0)

    def backlog(self, conn: Connection, include_failed: bool) -> int:
        """Pending entries (and failed ones, when `include_failed`), without counting the history."""
        return int(conn.scalar("queue.backlog", {"include_failed": include_failed}) or 0)

    def expired_leases(self, conn: Connection) -> int:
        return int(conn.scalar("queue.expired_leases") or 0)

    def recent_failures(self, conn: Connection, limit: int = 5) -> list[Row]:
        return conn.all("queue.recent_failures", {"limit": limit})

    def purge_completed(self, conn: Connection, cutoff: datetime, limit: int) -> int:
        return conn.execute("queue.purge_completed", {"cutoff": cutoff, "limit": limit})

    def get(self, conn: Connection, entry_id: int) -> Row | None:
        return conn.one("queue.get", {"id": entry_id})

    def latest_for_asset(self, conn: Connection, public_id: str, resource_type: str = "image",
                         type: str = "upload") -> Row | None:
        """The newest entry (any status) for an asset."""
        return conn.one("queue.latest_for_asset", {"public_id": public_id, "resource_type": resource_type,
                                                   "type": type})
