"""The media library: upload to Cloudinary then save metadata; soft and hard delete.

Ordering is chosen so nothing is silently lost: the asset is uploaded first and destroyed again
if the row cannot be saved (queued, or left for reconciliation, if even that fails; when the
COMMIT's answer is lost, only once the database says the row did not land); deletes
change the row first — the trigger queues the asset in the same transaction — and then process
that queue entry at once, so the caller learns whether the asset is already gone or queued.
"""

from __future__ import annotations

import base64
import io
import logging
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any, BinaryIO, Literal
from uuid import UUID

from pydantic import Field
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

from mediasync.config import Settings
from mediasync.db import Connection, Database, Row
from mediasync.errors import (
    CommitUncertain,
    DatabaseError,
    DatabaseUnavailable,
    InvalidInput,
    MediasyncError,
    NotFound,
    StoreError,
)
from mediasync.repository.media import MediaRepository
from mediasync.repository.queue import QueueRepository
from mediasync.results import Result
from mediasync.scope import within
from mediasync.services.content import (
    clean_context,
    clean_tags,
    inspect_upload,
    safe_filename,
    safe_folder,
    stream_size,
)
from mediasync.services.queue import CleanupQueue, QueueConfig
from mediasync.store import AssetStore, StoredAsset

log = logging.getLogger(__name__)

# How long an upload whose COMMIT lost its answer keeps asking whether its row landed: a server
# restart or a pooler's failover takes seconds; past this the caller gets its answer (and the asset stays).
UNCERTAIN_SAVE_PATIENCE_S = 10.0

STATUSES = ("active", "deleted")
MAX_PAGE = 500


class MediaRecord(Result):
    """One `media_files` row with its tags, as the API shows it."""

    id: UUID
    public_id: str
    resource_type: str
    type: str
    format: str | None
    bytes: int | None
    width: int | None
    height: int | None
    version: int | None
    etag: str | None
    secure_url: str | None
    original_filename: str | None
    folder: str | None
    asset_id: str | None = None
    asset_folder: str | None = None
    display_name: str | None = None
    status: Literal["active", "deleted"]
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    deleted_by: Literal["app", "sql", "cloudinary"] | None = None
    tags: list[str] = Field(default_factory=list)
    context: dict[str, str] = Field(default_factory=dict, description="contextual metadata: alt, caption, ...")

    @classmethod
    def from_row(cls, row: Row) -> MediaRecord:
        return cls.model_validate({**row, "tags": list(row.get("tags") or []), "context": row.get("context") or {}})


class MediaPage(Result):
    items: list[MediaRecord]
    next_cursor: str | None


CloudinaryState = Literal["deleted", "not_found", "queued"]


class DeleteResult(Result):
    """What a delete did: the row change is done; `cloudinary` says whether the asset is gone yet,
    and the deletion batch it belongs to (held by the delete brake, or waiting out the trash window)."""

    id: str
    public_id: str
    mode: Literal["soft", "hard"]
    cloudinary: CloudinaryState
    queue_id: int | None
    batch_id: int | None = None
    batch_status: Literal["flowing", "held", "released", "undone"] | None = None
    message: str


class MediaLibraryService:
    def __init__(self, db: Database, store: AssetStore, settings: Settings | None = None, *,
                 queue: CleanupQueue | None = None, repository: MediaRepository | None = None) -> None:
        self.db = db
        self.store = store
        self.settings = settings or Settings.from_env()
        self.queue = queue or CleanupQueue(db, store, config=QueueConfig.from_settings(self.settings))
        self.repo = repository or MediaRepository()
        self.queue_repo = QueueRepository()

    # --- upload --------------------------------------------------------------------------

    def upload(self, file: bytes | BinaryIO, filename: str | None, *, folder: str | None = None,
               tags: Sequence[str] = (), context: Mapping[str, str | None] | None = None) -> MediaRecord:
        """Validate, upload (preset + folder, contextual metadata), save the row; compensate if
        the save fails.

        `file` is read in chunks and handed to the store as a stream: the service itself never
        holds the whole file in memory (a non-seekable stream is spooled to a temporary file).
        A file over `chunked_upload_threshold_bytes` goes to Cloudinary as a chunked upload."""
        with _seekable(file, self.settings.max_upload_bytes) as stream:
            kind = inspect_upload(stream, self.settings.max_upload_bytes)
            name = safe_filename(filename, kind.extension)
            target_folder = self._managed_folder(folder)
            tag_list = clean_tags(list(tags))
            metadata = clean_context(context or {})
            chunked = stream_size(stream) > self.settings.chunked_upload_threshold_bytes
            asset = self.store.upload(stream, upload_preset=self.settings.upload_preset, folder=target_folder,
                                      resource_type=kind.resource_type, filename=name, tags=tag_list,
                                      context=metadata or None,
                                      chunk_size=self.settings.chunked_upload_chunk_bytes if chunked else None)
        if metadata and not asset.context:
            asset = replace(asset, context=metadata)
        try:
            media_id = self._save(asset, tag_list)
        except CommitUncertain as exc:
            media_id = self._settle_uncertain_save(asset, exc)
        except DatabaseError as exc:
            raise self._undone(asset, exc) from None
        except BaseException as exc:
            self._compensate(asset, exc)
            raise
        log.info("uploaded %s (%s, %d bytes) as media %s", asset.public_id, kind.mime, asset.bytes, media_id)
        return self.get(media_id)

    def _managed_folder(self, folder: str | None) -> str:
        """The upload's folder: the upload folder by default; any other must lie inside the managed
        folders, so an upload can never land where another application keeps its assets."""
        if not folder:
            return self.settings.upload_folder
        target = safe_folder(folder)
        if not any(within(target, managed) for managed in self.settings.owned_folders):
            raise InvalidInput(f"folder {target!r} is outside the folders mediasync manages "
                               f"({', '.join(self.settings.owned_folders)})", 422)
        return target

    def _save(self, asset: StoredAsset, tags: list[str]) -> UUID:
        with self.db.transaction() as conn:
            return self.repo.insert(conn, asset, tags)

    def _settle_uncertain_save(self, asset: StoredAsset, cause: CommitUncertain) -> UUID:
        """The connection went during COMMIT: ask the database, while it comes back, whether this
        upload's row landed. Landed: the upload succeeded. Not landed: compensate. No answer within
        `UNCERTAIN_SAVE_PATIENCE_S`: keep the asset, since destroying it could strand a saved row;
        if the row did not land, the reconciliation removes the asset as an orphan after its grace."""
        try:
            media_id = self._find_saved(asset)
        except DatabaseError as exc:
            log.error("the save of %s may or may not have committed and the database did not answer "
                      "within %g s (%s); keeping its asset", asset.public_id, UNCERTAIN_SAVE_PATIENCE_S, exc)
            raise CommitUncertain(
                f"the upload {asset.public_id} may or may not have been saved: the database went away "
                f"during COMMIT and did not answer within {UNCERTAIN_SAVE_PATIENCE_S:g} s. Its asset is "
                f"kept; if the row did not land, the reconciliation removes it as an orphan") from None
        if media_id is None:
            raise self._undone(asset, cause) from None
        log.warning("the answer to the save of %s was lost but its row landed (media %s)", asset.public_id, media_id)
        return media_id

    def _find_saved(self, asset: StoredAsset) -> UUID | None:
        """The id of the row saved for exactly this upload (its version), asking again while the
        database is unavailable, for up to `UNCERTAIN_SAVE_PATIENCE_S`."""
        def look() -> UUID | None:
            with self.db.transaction() as conn:
                return self.repo.find_upload(conn, asset)

        patiently = Retrying(retry=retry_if_exception_type(DatabaseUnavailable), reraise=True,
                             stop=stop_after_delay(UNCERTAIN_SAVE_PATIENCE_S),
                             wait=wait_exponential(multiplier=0.1, max=1.0))
        return patiently(look)

    def _undone(self, asset: StoredAsset, cause: DatabaseError) -> DatabaseError:
        """Compensate for a save that did not land; the error to raise says the upload was undone
        (of the cause's kind, except that a settled `CommitUncertain` is no longer uncertain)."""
        self._compensate(asset, cause)
        kind = DatabaseUnavailable if isinstance(cause, CommitUncertain) else type(cause)
        return kind(f"the upload could not be saved, so it was undone: {cause}")

    def _compensate(self, asset: StoredAsset, cause: BaseException) -> None:
        """The row was not saved: remove the asset, else queue it, else leave it to reconciliation."""
        log.warning("saving %s failed (%s); removing the uploaded asset", asset.public_id, cause)
        try:
            self.store.destroy(asset.public_id, asset.resource_type, asset.type)
            return
        except StoreError as exc:
            log.warning("destroying %s failed too (%s); queueing it", asset.public_id, exc)
        try:
            self.queue.enqueue(public_id=asset.public_id, resource_type=asset.resource_type, type=asset.type,
                               reason="upload_compensation")
        except MediasyncError as exc:
            log.error("ORPHANED ASSET %s/%s/%s: not saved, not destroyed, not queued (%s); the nightly "
                      "reconciliation will find it as an orphan", asset.resource_type, asset.type,
                      asset.public_id, exc)

    # --- read ----------------------------------------------------------------------------

    def get(self, media_id: UUID | str) -> MediaRecord:
        key = _media_id(media_id)
        with self.db.transaction() as conn:
            row = self.repo.get(conn, key)
        if row is None:
            raise NotFound(f"media {media_id} not found")
        return MediaRecord.from_row(row)

    def list(self, status: str | None = "active", limit: int = 50, cursor: str | None = None) -> MediaPage:
        if status is not None and status not in STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(STATUSES)} (or omitted for all)", 422)
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}", 422)
        after = _decode_cursor(cursor) if cursor else None
        with self.db.transaction() as conn:
            rows = self.repo.list(conn, status, limit + 1, after)
        items = [MediaRecord.from_row(r) for r in rows[:limit]]
        next_cursor = _encode_cursor(items[-1]) if len(rows) > limit else None
        return MediaPage(items=items, next_cursor=next_cursor)

    # --- delete --------------------------------------------------------------------------

    def soft_delete(self, media_id: UUID | str, requested_by: str | None = None) -> DeleteResult:
        """Mark the row deleted (trigger queues the asset), then remove the asset right away."""
        return self._delete(media_id, self.repo.soft_delete, "soft_delete", "soft", requested_by)

    def hard_delete(self, media_id: UUID | str, requested_by: str | None = None) -> DeleteResult:
        """Delete the row with its tags and usage (trigger queues the asset), then remove the asset."""
        return self._delete(media_id, self.repo.hard_delete, "hard_delete", "hard", requested_by)

    def _delete(self, media_id: UUID | str, change_row: Callable[[Connection, UUID], Row | None],
                reason: str, mode: Literal["soft", "hard"], requested_by: str | None) -> DeleteResult:
        """Change the row and make sure its asset is queued, in one transaction (one deletion batch,
        source `api`); then process that entry, unless the brake holds it or the trash window delays it."""
        key = _media_id(media_id)
        with self.db.transaction() as conn:
            self.queue.batches.say_who(conn, "api", requested_by)
            row = change_row(conn, key)
            if row is None:
                raise NotFound(f"media {media_id} not found")
            entry = self._ensure_queued(conn, row, reason, requested_by)
        return self._remove_now(row, entry, mode)

    def _ensure_queued(self, conn: Connection, row: Row, reason: str, requested_by: str | None) -> Row:
        """The open queue entry for the row's asset (the trigger's, or a new one, in a batch of its
        own, when a previous cleanup of an already-deleted row ended failed), with its batch."""
        entry = self.queue_repo.open_entry(conn, row["public_id"], row["resource_type"], row["type"])
        if entry is None:
            batch = self.queue.batches.open(conn, operation="ENQUEUE", reason=reason, rows=0, assets=1,
                                            source="api", requested_by=requested_by)
            self.queue_repo.enqueue(conn, public_id=row["public_id"], resource_type=row["resource_type"],
                                    type=row["type"], reason=reason, batch_id=batch["id"], media_file_id=row["id"],
                                    max_attempts=self.queue.config.max_attempts)
            entry = self.queue_repo.open_entry(conn, row["public_id"], row["resource_type"], row["type"])
        assert entry is not None  # just queued, in this transaction
        return entry

    def _remove_now(self, row: Row, entry: Row, mode: Literal["soft", "hard"]) -> DeleteResult:
        base: dict[str, Any] = {"id": str(row["id"]), "public_id": row["public_id"], "mode": mode,
                                "queue_id": entry["id"], "batch_id": entry["batch_id"],
                                "batch_status": entry["batch_status"]}
        if entry["status"] == "held":
            return DeleteResult(**base, cloudinary="queued",
                                message=f"deletion batch {entry['batch_id']} is held by the delete brake "
                                        f"({entry['hold_reason']}); release or undo it")
        if entry["available_at"] > entry["now"]:
            return DeleteResult(**base, cloudinary="queued",
                                message=f"the asset is removed at {entry['available_at']:%Y-%m-%d %H:%M:%S %Z} "
                                        f"(MEDIASYNC_DELETE_DELAY_SECONDS); undo batch {entry['batch_id']} "
                                        "before then to keep it")
        entry_id = entry["id"]
        try:
            batch = self.queue.process_batch(1, ids=[entry_id])
        except MediasyncError as exc:  # the row change is committed; the queue will finish the job
            log.warning("immediate removal of %s failed: %s", row["public_id"], exc)
            batch = None
        if batch and batch.deleted:
            return DeleteResult(**base, cloudinary="deleted", message="asset removed from Cloudinary")
        if batch and (batch.not_found or batch.skipped_in_use):
            return DeleteResult(**base, cloudinary="not_found", message="asset was already absent from Cloudinary")
        reason = (batch.errors[0] if batch and batch.errors else
                  "Cloudinary rate limit" if batch and batch.rate_limited else "the entry is being processed")
        return DeleteResult(**base, cloudinary="queued",
                            message=f"Cloudinary removal is queued and will be retried ({reason})")


@contextmanager
def _seekable(file: bytes | BinaryIO, max_bytes: int) -> Iterator[BinaryIO]:
    """A seekable stream over the upload (the caller's own when it can seek); at most
    `max_bytes + 1` bytes are ever copied from a stream that cannot."""
    if isinstance(file, bytes | bytearray):
        yield io.BytesIO(file)
        return
    if file.seekable():
        file.seek(0)
        yield file
        return
    with tempfile.SpooledTemporaryFile(max_size=1 << 20) as spool:
        shutil.copyfileobj(_Bounded(file, max_bytes + 1), spool)
        spool.seek(0)
        yield spool  # type: ignore[misc]


class _Bounded(io.RawIOBase):
    """Reads at most `limit` bytes of `inner` (enough to tell that a file is over the limit)."""

    def __init__(self, inner: BinaryIO, limit: int) -> None:
        self._inner, self._left = inner, limit

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = self._left if size < 0 else min(size, self._left)
        data = self._inner.read(size) if size else b""
        self._left -= len(data)
        return data


def _media_id(value: UUID | str) -> UUID:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        raise NotFound(f"media {value} not found") from None


def _encode_cursor(record: MediaRecord) -> str:
    raw = f"{record.created_at.isoformat()}|{record.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created_at, media_id = raw.split("|")
        return datetime.fromisoformat(created_at), UUID(media_id)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("cursor is malformed; use the next_cursor of a previous page", 422) from None
