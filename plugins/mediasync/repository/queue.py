"""The cleanup queue's SQL: the only module that reads or writes public.cloudinary_cleanup_queue.

Every method takes the connection to run on, so the caller decides the transaction boundaries
(the claim commits before any Cloudinary call; each outcome is recorded in its own transaction).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import psycopg

from mediasync.db.queries import query


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
    in_use: bool


@dataclass(frozen=True)
class Failure:
    item: ClaimedItem
    error: str
    kind: str
    delay_seconds: float


def _q(name: str) -> str:
    return query("queue", name)


class QueueRepository:
    """Named queue queries over a psycopg connection (rows as dicts)."""

    def enqueue(self, conn: psycopg.Connection, *, public_id: str, resource_type: str, type: str,
                reason: str, media_file_id: UUID | None = None, max_attempts: int = 3) -> int:
        row = conn.execute(_q("enqueue"), {
            "public_id": public_id, "resource_type": resource_type, "type": type,
            "media_file_id": media_file_id, "reason": reason, "max_attempts": max_attempts,
        }).fetchone()
        return row["id"]

    def open_entry_for_asset(self, conn: psycopg.Connection, public_id: str, resource_type: str,
                             type: str) -> int | None:
        row = conn.execute(_q("open_entry_for_asset"),
                           {"public_id": public_id, "resource_type": resource_type, "type": type}).fetchone()
        return row["id"] if row else None

    def claim(self, conn: psycopg.Connection, limit: int, lease_seconds: float,
              ids: Sequence[int] | None = None) -> list[ClaimedItem]:
        rows = conn.execute(_q("claim"), {"limit": limit, "lease_seconds": lease_seconds,
                                          "ids": list(ids) if ids is not None else None}).fetchall()
        return [ClaimedItem(**row) for row in rows]

    def complete(self, conn: psycopg.Connection, items: Sequence[ClaimedItem],
                 notes: Sequence[str | None] | None = None) -> int:
        if not items:
            return 0
        notes = list(notes) if notes is not None else [None] * len(items)
        cur = conn.execute(_q("complete"), {"ids": [i.id for i in items], "attempts": [i.attempts for i in items],
                                            "notes": notes})
        return cur.rowcount

    def fail(self, conn: psycopg.Connection, failures: Sequence[Failure]) -> dict[int, str]:
        """Record failed attempts; returns id -> new status (`pending` or `failed`)."""
        if not failures:
            return {}
        rows = conn.execute(_q("fail"), {
            "ids": [f.item.id for f in failures], "attempts": [f.item.attempts for f in failures],
            "errors": [f.error for f in failures], "kinds": [f.kind for f in failures],
            "delays": [f.delay_seconds for f in failures],
        }).fetchall()
        return {r["id"]: r["status"] for r in rows}

    def defer_rate_limited(self, conn: psycopg.Connection, items: Sequence[ClaimedItem],
                           available_at: datetime, error: str) -> int:
        if not items:
            return 0
        cur = conn.execute(_q("defer_rate_limited"), {
            "ids": [i.id for i in items], "attempts": [i.attempts for i in items],
            "available_at": available_at, "error": error,
        })
        return cur.rowcount

    def rescue_expired(self, conn: psycopg.Connection, limit: int) -> dict[str, int]:
        rows = conn.execute(_q("rescue_expired"), {"limit": limit}).fetchall()
        return {"pending": sum(r["status"] == "pending" for r in rows),
                "failed": sum(r["status"] == "failed" for r in rows)}

    def retry_failed(self, conn: psycopg.Connection, ids: Sequence[int] | None = None) -> int:
        return len(conn.execute(_q("retry_failed"), {"ids": list(ids) if ids is not None else None}).fetchall())

    def counts_by_status(self, conn: psycopg.Connection) -> dict[str, int]:
        return {r["status"]: r["n"] for r in conn.execute(_q("counts_by_status"))}

    def pending_summary(self, conn: psycopg.Connection) -> dict:
        return dict(conn.execute(_q("pending_summary")).fetchone())

    def expired_leases(self, conn: psycopg.Connection) -> int:
        return conn.execute(_q("expired_leases")).fetchone()["n"]

    def recent_failures(self, conn: psycopg.Connection, limit: int = 5) -> list[dict]:
        return conn.execute(_q("recent_failures"), {"limit": limit}).fetchall()

    def purge_completed(self, conn: psycopg.Connection, cutoff: datetime, limit: int) -> int:
        return conn.execute(_q("purge_completed"), {"cutoff": cutoff, "limit": limit}).rowcount

    def get(self, conn: psycopg.Connection, entry_id: int) -> dict | None:
        return conn.execute(_q("get"), {"id": entry_id}).fetchone()
