"""The notification ingest's SQL: the notifications log, the per-asset clocks, and the changes a
Cloudinary notification makes to media_files and media_tags (always in the caller's transaction)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from mediasync.db import Connection, Row


class NotificationRepository:
    # --- the log -------------------------------------------------------------------------

    def record(self, conn: Connection, *, body_sha256: str, notification_type: str, request_id: str | None,
               asset_ids: Sequence[str], public_ids: Sequence[str], transport: str, source: str | None,
               event_at: datetime, signed_at: datetime, body: dict[str, Any]) -> int | None:
        """Store the notification; None when the same bytes were stored before (a redelivery)."""
        return conn.scalar("notifications.record", {
            "body_sha256": body_sha256, "notification_type": notification_type, "request_id": request_id,
            "asset_ids": list(asset_ids), "public_ids": list(public_ids), "transport": transport, "source": source,
            "event_at": event_at, "signed_at": signed_at, "body": body})

    def previous(self, conn: Connection, body_sha256: str) -> Row | None:
        return conn.one("notifications.previous", {"body_sha256": body_sha256})

    def finish(self, conn: Connection, notification_id: int, outcome: str, changed_rows: int,
               detail: str | None) -> None:
        conn.execute("notifications.finish", {"id": notification_id, "outcome": outcome,
                                              "changed_rows": changed_rows, "detail": detail})

    def summary(self, conn: Connection) -> Row:
        row = conn.one("notifications.summary")
        assert row is not None  # an aggregate always returns a row
        return row

    def dead_letter(self, conn: Connection, *, channel: str, message_id: str | None, receive_count: int,
                    reason: str, signed_at: str | None, signature: str | None, payload: bytes | None) -> int:
        """Record a poll message that will never apply (before it is acknowledged)."""
        digest = hashlib.sha256(payload).hexdigest() if payload is not None else None
        dead_id: int = conn.scalar("notifications.dead_letter", {
            "channel": channel, "message_id": message_id, "receive_count": receive_count, "reason": reason[:2000],
            "signed_at": signed_at, "signature": signature, "body_sha256": digest, "payload": payload})
        return dead_id

    def dead_letter_summary(self, conn: Connection) -> Row:
        row = conn.one("notifications.dead_letter_summary")
        assert row is not None  # an aggregate always returns a row
        return row

    def repairs_since(self, conn: Connection, since: datetime) -> list[Row]:
        return conn.all("notifications.repairs_since", {"since": since})

    # --- order safety --------------------------------------------------------------------

    def advance_clock(self, conn: Connection, asset_key: str, aspect: str, event_at: datetime) -> bool:
        """True (and the clock moved) unless a later event of this aspect was applied already."""
        return conn.one("notifications.advance_clock", {"asset_key": asset_key, "aspect": aspect,
                                                        "event_at": event_at}) is not None

    def advance_clocks(self, conn: Connection, asset_key: str, aspects: Sequence[str], event_at: datetime) -> set[str]:
        """`advance_clock` for many aspects at once; the aspects whose clock moved."""
        distinct = list(dict.fromkeys(aspects))
        if not distinct:
            return set()
        rows = conn.all("notifications.advance_clocks", {"asset_key": asset_key, "aspects": distinct,
                                                         "event_at": event_at})
        return {r["aspect"] for r in rows}

    def clock(self, conn: Connection, asset_key: str, aspect: str) -> datetime | None:
        value: datetime | None = conn.scalar("notifications.clock", {"asset_key": asset_key, "aspect": aspect})
        return value

    # --- media_files ---------------------------------------------------------------------

    def lock_row(self, conn: Connection, asset_id: str | None, public_id: str, resource_type: str,
                 type: str) -> Row | None:
        """The asset's row, locked: matched by asset_id where known, else by its key."""
        return conn.one("notifications.lock_row", {"asset_id": asset_id, "public_id": public_id,
                                                   "resource_type": resource_type, "type": type})

    def lock_key(self, conn: Connection, public_id: str, resource_type: str, type: str) -> Row | None:
        return conn.one("notifications.lock_key", {"public_id": public_id, "resource_type": resource_type,
                                                   "type": type})

    def mark_deleted_by_cloudinary(self, conn: Connection, media_id: UUID) -> bool:
        """Soft delete with deleted_by='cloudinary': the trigger queues nothing (the asset is already
        gone) and opens no deletion batch. False when the row was already deleted."""
        conn.execute("notifications.set_deleted_by_cloudinary")
        return conn.one("notifications.mark_deleted", {"id": media_id}) is not None

    def move_row(self, conn: Connection, media_id: UUID, **fields: Any) -> bool:
        """New public_id/type/folder/display name/URL; False when nothing differed."""
        return conn.one("notifications.move_row", {"id": media_id, **fields}) is not None

    def set_display_name(self, conn: Connection, media_id: UUID, display_name: str | None) -> bool:
        return conn.one("notifications.set_display_name", {"id": media_id, "display_name": display_name}) is not None

    def change_tags(self, conn: Connection, media_id: UUID, added: Sequence[str], removed: Sequence[str]) -> int:
        """Add and remove tags; the row is touched once so the page hears about it."""
        changed = len(conn.all("notifications.add_tags", {"id": media_id, "tags": list(added)})) if added else 0
        if removed:
            changed += len(conn.all("notifications.remove_tags", {"id": media_id, "tags": list(removed)}))
        if changed:
            conn.execute("notifications.touch_row", {"id": media_id})
        return changed

    def change_context(self, conn: Connection, media_id: UUID, set: dict[str, str], removed: Sequence[str]) -> bool:
        """Set some context keys and remove others; False when the row already said so."""
        return conn.one("notifications.change_context", {"id": media_id, "set": dict(set),
                                                         "removed": list(removed)}) is not None

    def refresh_content(self, conn: Connection, media_id: UUID, asset: dict[str, Any]) -> bool:
        return conn.one("notifications.refresh_content", {"id": media_id, **asset}) is not None

    def adopt(self, conn: Connection, asset: dict[str, Any]) -> UUID | None:
        """Insert the row of an external upload (or revive a soft-deleted row with its key)."""
        media_id: UUID | None = conn.scalar("notifications.adopt", asset)
        return media_id

    def rows_in_folder(self, conn: Connection, from_path: str) -> list[Row]:
        return conn.all("notifications.rows_in_folder", {"from_path": from_path})

    def set_folder(self, conn: Connection, media_id: UUID, asset_folder: str, folder: str | None) -> bool:
        return conn.one("notifications.set_folder", {"id": media_id, "asset_folder": asset_folder,
                                                     "folder": folder}) is not None
