"""Deletion batches' SQL: the only module that reads or writes mediasync.deletion_batches and the
undo journal (mediasync.deleted_media_files / _tags / _usage).

A batch is opened by the media_files triggers for a statement, or here (`open`) for a path that
queues deletions itself; the brake's decision is made in the database either way
(`mediasync.open_deletion_batch`, migration 070).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from mediasync.db import Connection, Row


class DeletionRepository:
    def say_who(self, conn: Connection, source: str, requested_by: str | None) -> None:
        """Tell the triggers who deletes in this transaction (the batch's `source`, `requested_by`)."""
        conn.execute("deletions.say_who", {"source": source, "requested_by": requested_by})

    def open(self, conn: Connection, *, operation: str, reason: str, rows: int, assets: int, source: str,
             requested_by: str | None = None, library: int | None = None) -> Row:
        """A batch for deletions queued outside a media_files statement, decided by the brake
        (`library`: the size the fraction rule compares with, when the caller knows it)."""
        batch = conn.one("deletions.open_batch", {"operation": operation, "reason": reason, "rows": rows,
                                                  "assets": assets, "source": source,
                                                  "requested_by": requested_by, "library": library})
        assert batch is not None  # the function always returns the row it inserted
        return batch

    def add_queued(self, conn: Connection, batch_id: int, queued: int) -> None:
        conn.execute("deletions.set_queued", {"id": batch_id, "queued": queued})

    def page(self, conn: Connection, status: str | None, limit: int, before_id: int | None = None) -> list[Row]:
        return conn.all("deletions.list", {"status": status, "limit": limit, "before_id": before_id, "id": None})

    def get(self, conn: Connection, batch_id: int) -> Row | None:
        return conn.one("deletions.list", {"status": None, "limit": 1, "before_id": None, "id": batch_id})

    def sample(self, conn: Connection, batch_id: int, limit: int = 20) -> list[Row]:
        return conn.all("deletions.sample", {"id": batch_id, "limit": limit})

    def lock(self, conn: Connection, batch_id: int) -> Row | None:
        return conn.one("deletions.lock", {"id": batch_id})

    def release(self, conn: Connection, batch_id: int, who: str) -> int:
        """Held → released; returns the entries now pending (0 when the batch was not held)."""
        row = conn.one("deletions.release", {"id": batch_id, "who": who}) or {}
        released = int(row.get("entries") or 0)
        if released:
            conn.execute("deletions.wake_cleanup", {"queued": released})
        if row.get("batches"):
            conn.execute("deletions.announce", {"op": "RELEASED", "id": batch_id})
        return released

    def take_undo_lease(self, conn: Connection, batch_id: int, who: str, lease_seconds: float) -> Row | None:
        """Mark the batch undone and hold it for this undo; None while another undo holds it (or it is done)."""
        return conn.one("deletions.take_undo_lease", {"id": batch_id, "who": who, "lease_seconds": lease_seconds})

    def cancel_entries(self, conn: Connection, batch_id: int, note: str) -> int:
        return len(conn.all("deletions.cancel_entries", {"id": batch_id, "note": note}))

    def journaled_rows(self, conn: Connection, batch_id: int) -> list[Row]:
        return conn.all("deletions.journaled_rows", {"id": batch_id})

    def assets_without_rows(self, conn: Connection, batch_id: int) -> list[Row]:
        return conn.all("deletions.assets_without_rows", {"id": batch_id})

    def restore_rows(self, conn: Connection, batch_id: int, ids: Sequence[UUID]) -> set[UUID]:
        """Put the journaled rows back (with their tags and usage); returns the ids restored."""
        if not ids:
            return set()
        return {r["media_file_id"] for r in conn.all("deletions.restore_rows", {"id": batch_id, "ids": list(ids)})}

    def finish_undo(self, conn: Connection, batch_id: int, result: dict[str, Any]) -> Row | None:
        conn.execute("deletions.announce", {"op": "UNDONE", "id": batch_id})
        return conn.one("deletions.finish_undo", {"id": batch_id, "result": json.dumps(result, default=str)})

    def take_new_holds(self, conn: Connection) -> list[Row]:
        return conn.all("deletions.take_new_holds")

    def held_summary(self, conn: Connection) -> Row:
        return conn.one("deletions.held_summary") or {"batches": 0, "assets": 0}

    def purge_journals(self, conn: Connection, cutoff: datetime, limit: int) -> int:
        """Drop the journals of up to `limit` batches older than `cutoff`; how many batches."""
        return conn.execute("deletions.purge_journals", {"cutoff": cutoff, "limit": limit})

    def drop_undo_lease(self, conn: Connection, batch_id: int) -> None:
        conn.execute("deletions.drop_undo_lease", {"id": batch_id})
