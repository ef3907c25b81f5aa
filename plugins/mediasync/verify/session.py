"""What every verification check stands on: the verification's own namespace, a media library
confined to it, uploads of distinct tiny images, the Cloudinary listing of its folder, LISTEN for
live notifications, and removing everything afterwards."""

from __future__ import annotations

import json
import secrets
import struct
import time
import zlib
from dataclasses import replace
from typing import Any
from uuid import UUID

from mediasync.db import Connection
from mediasync.errors import MediasyncError, SessionRequired
from mediasync.repository.media import MediaRepository
from mediasync.repository.queue import QueueRepository
from mediasync.repository.reconciliation import ReconciliationRepository
from mediasync.runtime import Services
from mediasync.scope import ManagedScope, ResolvedFolderMode
from mediasync.services.live import CHANNEL
from mediasync.services.media_library import MediaLibraryService, MediaRecord
from mediasync.verify.namespace import TAG, VerifyNamespace


def tiny_png(seed: int) -> bytes:
    """A valid 1×1 PNG whose pixel depends on `seed`, so every upload has distinct bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    pixel = bytes([0, seed % 256, (seed * 7) % 256, (seed * 13) % 256])
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(pixel)) + chunk(b"IEND", b""))


class VerifySession:
    """The state one `mediasync verify` run shares between its checks."""

    def __init__(self, services: Services) -> None:
        self.s = services
        self.namespace = VerifyNamespace(services, f"{time.strftime('%Y%m%d%H%M%S')}-{secrets.token_hex(3)}")
        self.folder = self.namespace.folder
        self._schema_ok = True
        self.events: list[dict] = []
        self._listener: Connection | None = None
        self._seed = 0
        self._mode: ResolvedFolderMode | None = None
        self.media_repo = MediaRepository()
        self.queue_repo = QueueRepository()
        self.runs_repo = ReconciliationRepository()
        # Uploads are confined to the managed folders; the verification's own folder is admitted for
        # its own media library only (production uploads stay confined).
        self.settings = replace(services.settings,
                                managed_folders=(*services.settings.owned_folders, self.folder))
        self.media = MediaLibraryService(services.db, services.store, self.settings, queue=services.queue)

    def _upload(self, media: MediaLibraryService | None = None) -> MediaRecord:
        self._seed += 1
        record = (media or self.media).upload(tiny_png(self._seed), f"verify-{self._seed}.png",
                                                folder=self.folder, tags=[TAG])
        self.namespace.public_ids.add(record.public_id)  # in dynamic folders the public_id names no folder
        return record

    def _asset_exists(self, public_id: str, resource_type: str = "image") -> bool:
        return public_id in self._folder_assets(resource_type)

    def _folder_mode(self) -> ResolvedFolderMode:
        if self._mode is None:
            self._mode = self.s.reconciler.folder_mode()
        return self._mode

    def _folder_assets(self, resource_type: str = "image") -> set[str]:
        """The public ids of the live assets in the verify folder, listed the way the account's
        folder mode needs (by prefix with fixed folders, by asset folder with dynamic ones). A
        placeholder (deleted in an account with backups) is not there any more."""
        ids: set[str] = set()
        for source in ManagedScope((self.folder,), self._folder_mode()).sources((resource_type,)):
            ids |= {a.public_id for page in self.s.store.iter_source_pages(source) for a in page.assets
                    if not a.placeholder}
        return ids

    def _listen(self) -> Connection:
        """The LISTEN connection; `SessionRequired` through a transaction pooler."""
        if self._listener is None:
            listener = self.s.db.connect(autocommit=True)
            try:
                listener.listen(CHANNEL)
            except MediasyncError:
                listener.close()
                raise
            self._listener = listener
        return self._listener

    def _listening(self) -> bool:
        """Whether live notifications can be awaited here (the live-notification row reports why not)."""
        try:
            self._listen()
        except SessionRequired:
            return False
        return True

    def _wait_event(self, op: str, media_id: UUID, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            if any(e["op"] == op and str(media_id) in e.get("ids", []) for e in self.events):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            for payload in self._listen().notifications(timeout=min(remaining, 0.5), stop_after=1):
                self.events.append(json.loads(payload))

    def _queue_entry(self, public_id: str) -> dict[str, Any] | None:
        with self.s.db.transaction() as conn:
            return self.queue_repo.latest_for_asset(conn, public_id)

    def _delete_as_plain_sql(self, media_id: UUID) -> None:
        with self.s.db.transaction() as conn:
            self.media_repo.delete_as_plain_sql(conn, media_id)

    def _cleanup(self) -> None:
        """Remove everything this run created, whatever the checks left."""
        try:
            if self._schema_ok:
                self.namespace.remove(self._folder_assets, self._folder_mode)
        finally:
            if self._listener is not None:
                self._listener.close()
