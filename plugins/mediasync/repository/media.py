"""The media library's SQL: the only module that writes public.media_files and its tags."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import psycopg

from mediasync.db.queries import query
from mediasync.store import UploadedAsset


def _q(name: str) -> str:
    return query("media", name)


class MediaRepository:
    def insert(self, conn: psycopg.Connection, asset: UploadedAsset, tags: Sequence[str] = ()) -> UUID:
        """Insert the row for an uploaded asset (and its tags); returns the new id."""
        row = conn.execute(_q("insert"), {
            "public_id": asset.public_id, "resource_type": asset.resource_type, "type": asset.type,
            "format": asset.format, "bytes": asset.bytes, "width": asset.width, "height": asset.height,
            "version": asset.version, "etag": asset.etag, "secure_url": asset.secure_url,
            "original_filename": asset.original_filename, "folder": asset.folder,
        }).fetchone()
        if tags:
            conn.execute(_q("insert_tags"), {"media_file_id": row["id"], "tags": list(tags)})
        return row["id"]

    def get(self, conn: psycopg.Connection, media_id: UUID) -> dict | None:
        return conn.execute(_q("get"), {"id": media_id}).fetchone()

    def list(self, conn: psycopg.Connection, status: str | None, limit: int,
             after: tuple[datetime, UUID] | None = None) -> list[dict]:
        return conn.execute(_q("list"), {
            "status": status, "limit": limit,
            "after_created_at": after[0] if after else None, "after_id": after[1] if after else None,
        }).fetchall()

    def soft_delete(self, conn: psycopg.Connection, media_id: UUID) -> dict | None:
        return conn.execute(_q("soft_delete"), {"id": media_id}).fetchone()

    def hard_delete(self, conn: psycopg.Connection, media_id: UUID, reason: str = "hard_delete") -> dict | None:
        """Delete the row in the caller's transaction, tagging the queued cleanup with `reason`."""
        conn.execute(_q("set_delete_reason"), {"reason": reason})
        return conn.execute(_q("hard_delete"), {"id": media_id}).fetchone()
