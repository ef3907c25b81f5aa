"""The media library's SQL: the only module that writes public.media_files and its child rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from mediasync.db import Connection, Row
from mediasync.store import StoredAsset


class MediaRepository:
    def insert(self, conn: Connection, asset: StoredAsset, tags: Sequence[str] = ()) -> UUID:
        """Insert the row for an uploaded asset (and its tags); returns the new id."""
        row = conn.one("media.insert", asset.as_params())
        assert row is not None  # INSERT ... RETURNING always returns the row
        if tags:
            self.add_tags(conn, row["id"], tags)
        return row["id"]

    def find_upload(self, conn: Connection, asset: StoredAsset) -> UUID | None:
        """The row saved for exactly this upload of the asset (its version), if there is one."""
        row = conn.one("media.find_upload", asset.as_params())
        return row["id"] if row else None

    def add_tags(self, conn: Connection, media_id: UUID, tags: Sequence[str]) -> None:
        conn.execute("media.insert_tags", {"media_file_id": media_id, "tags": list(tags)})

    def add_usage(self, conn: Connection, media_id: UUID, entity_type: str, entity_id: str,
                  field: str | None = None) -> None:
        """Record that an entity uses the media (rows cascade away with a hard delete)."""
        conn.execute("media.insert_usage", {"media_file_id": media_id, "entity_type": entity_type,
                                            "entity_id": entity_id, "field": field})

    def get(self, conn: Connection, media_id: UUID) -> Row | None:
        return conn.one("media.get", {"id": media_id})

    def list(self, conn: Connection, status: str | None, limit: int,
             after: tuple[datetime, UUID] | None = None) -> list[Row]:
        return conn.all("media.list", {
            "status": status, "limit": limit,
            "after_created_at": after[0] if after else None, "after_id": after[1] if after else None,
        })

    def related_counts(self, conn: Connection, media_id: UUID) -> Row:
        """How many rows the media, its tags and its usage have (all 0 once hard deleted)."""
        row = conn.one("media.related_counts", {"id": media_id})
        assert row is not None
        return row

    def soft_delete(self, conn: Connection, media_id: UUID, deleted_by: str = "app") -> Row | None:
        """Mark the row deleted in the caller's transaction, recording who did it."""
        conn.execute("media.set_deleted_by", {"who": deleted_by})
        return conn.one("media.soft_delete", {"id": media_id})

    def hard_delete(self, conn: Connection, media_id: UUID, reason: str = "hard_delete") -> Row | None:
        """Delete the row in the caller's transaction, tagging the queued cleanup with `reason`."""
        conn.execute("media.set_delete_reason", {"reason": reason})
        return conn.one("media.hard_delete", {"id": media_id})

    def delete_as_plain_sql(self, conn: Connection, media_id: UUID) -> int:
        """DELETE with no reason set, exactly as a person typing it in psql would."""
        return conn.execute("media.delete_plain", {"id": media_id})

    def update_original_filename(self, conn: Connection, media_id: UUID, original_filename: str) -> int:
        return conn.execute("media.update_original_filename", {"id": media_id,
                                                               "original_filename": original_filename})

    def delete_under_prefix(self, conn: Connection, prefix: str) -> int:
        """Hard delete every row whose public_id starts with `prefix` (the trigger queues the assets)."""
        return conn.execute("media.delete_under_prefix", {"prefix": prefix})
