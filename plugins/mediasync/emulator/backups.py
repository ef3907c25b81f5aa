"""Cloudinary's backups in the emulator: what is backed up, what a deletion leaves, what restore does.

Cloudinary keeps no backups unless asked: the account's automatic backup (`--backups`, or
`{"backups": true}` at run time) backs up every upload, and an upload's own `backup` parameter
overrides the account setting either way (`backup=true` on an account without backups, `false` on
one with them). An asset replaced by a new upload keeps its latest backed-up version.

Deleting an asset that has a backup leaves a placeholder: `api.resource` still answers for it, with
`bytes` 0 and `placeholder: true` (the SDKs' own `test_restore`), while every call that changes an
asset, delivery and `resources_by_asset_ids` treat it as gone. `restore` (by public_id) and
`restore_by_asset_ids` bring back the latest backed-up version — of a deleted asset, or of a live one
("they can be existing or deleted assets", as the SDKs document) — and answer per id with the
restored resource or `{"error": "no_backup"}`, as Cloudinary's API specification describes.

The backed-up bytes live in `<data-dir>/backups/<version_id>`, their facts in the `backups` table
of the same SQLite store, so they survive restarts like every other piece of state.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mediasync.emulator.state import Asset, AssetStore, iso_now

_SCHEMA = """
CREATE TABLE IF NOT EXISTS backups (
    asset_id TEXT PRIMARY KEY, version INTEGER NOT NULL, version_id TEXT NOT NULL, format TEXT,
    bytes INTEGER NOT NULL, width INTEGER, height INTEGER, pages INTEGER NOT NULL, etag TEXT NOT NULL,
    backed_up_at TEXT NOT NULL
);
"""
NO_BACKUP = "no_backup"  # the per-id error Cloudinary's API specification names for an id it cannot restore


@dataclass(frozen=True)
class Backup:
    """The latest backed-up version of one asset."""

    asset_id: str
    version: int
    version_id: str
    format: str | None
    bytes: int
    width: int | None
    height: int | None
    pages: int
    etag: str
    backed_up_at: str


def wants_backup(account_backups: bool, params: dict[str, Any]) -> bool:
    """Whether an upload is backed up: its `backup` parameter (or its preset's) overrides the account."""
    given = params.get("backup")
    if given is None or given == "":
        return account_backups
    return str(given).lower() in ("1", "true", "yes")


class BackupStore:
    """The backed-up versions, beside the asset store (same SQLite connection and lock). Installs
    itself as the store's `backups`, so every deletion path leaves placeholders the same way."""

    def __init__(self, store: AssetStore) -> None:
        self.store = store
        self.dir = store.data_dir / "backups"
        self.dir.mkdir(parents=True, exist_ok=True)
        with store.lock:
            store.db.executescript(_SCHEMA)
        store.backups = self

    # --- what the asset store asks ---------------------------------------------------------

    def backed_up(self, asset_ids: Sequence[str]) -> set[str]:
        if not asset_ids:
            return set()
        rows = self.store.query(f"SELECT asset_id FROM backups WHERE asset_id IN ({','.join('?' * len(asset_ids))})",
                                list(asset_ids))
        return {r[0] for r in rows}

    def forget(self, asset_ids: Sequence[str]) -> None:
        for backup in filter(None, map(self.latest, asset_ids)):
            (self.dir / backup.version_id).unlink(missing_ok=True)
        with self.store.tx() as db:
            db.executemany("DELETE FROM backups WHERE asset_id = ?", [(a,) for a in asset_ids])

    # --- backing up ------------------------------------------------------------------------

    def keep(self, asset: Asset, data: bytes | Path | None) -> Backup:
        """Back up this version of the asset (it becomes the one a restore brings back); `data` is its
        bytes, or the file they lie in (copied, never read into memory)."""
        previous = self.latest(asset.asset_id)
        size = len(data) if isinstance(data, bytes | bytearray) else (data.stat().st_size if data else 0)
        backup = Backup(asset.asset_id, asset.version, asset.version_id, asset.format, size, asset.width,
                        asset.height, asset.pages, asset.etag, iso_now())
        if isinstance(data, bytes | bytearray):
            (self.dir / backup.version_id).write_bytes(data)
        elif data is not None:
            shutil.copyfile(data, self.dir / backup.version_id)
        with self.store.tx() as db:
            db.execute("INSERT OR REPLACE INTO backups VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (backup.asset_id, backup.version, backup.version_id, backup.format, backup.bytes,
                        backup.width, backup.height, backup.pages, backup.etag, backup.backed_up_at))
        if previous and previous.version_id != backup.version_id:
            (self.dir / previous.version_id).unlink(missing_ok=True)
        return backup

    def latest(self, asset_id: str) -> Backup | None:
        rows = self.store.query("SELECT * FROM backups WHERE asset_id = ?", (asset_id,))
        return Backup(*rows[0]) if rows else None

    # --- restoring -------------------------------------------------------------------------

    def restore(self, asset: Asset, version_id: str | None = None) -> Asset | None:
        """Bring back the asset's latest backed-up version (or the named one, if that is it); None
        when there is no such backup. The asset keeps its asset_id, public_id, folder and tags."""
        backup = self.latest(asset.asset_id)
        if backup is None or (version_id and version_id != backup.version_id):
            return None
        shutil.copyfile(self.dir / backup.version_id, self.store.blob_dir / asset.asset_id)
        restored = {"placeholder": False, "bytes": backup.bytes, "version": backup.version,
                    "version_id": backup.version_id, "format": backup.format, "width": backup.width,
                    "height": backup.height, "pages": backup.pages, "etag": backup.etag, "blob": asset.asset_id}
        return self.store.update(asset, **restored)

    # --- bookkeeping -----------------------------------------------------------------------

    def placeholders(self) -> int:
        return self.store.query("SELECT count(*) FROM assets WHERE placeholder = 1")[0][0]

    def reset(self) -> None:
        """Forget every backup (the asset store's reset forgets the placeholders)."""
        with self.store.tx() as db:
            db.execute("DELETE FROM backups")
        for path in self.dir.iterdir():
            path.unlink(missing_ok=True)

