"""The emulator's persistent asset store: metadata in SQLite, bytes as files, in one data dir.

`seq` (the rowid) is the creation order: listings without a prefix walk it newest first, so assets
added between pages never shift the pages still to come (the queries live in `listings`, the
upload presets in `presets`).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from mediasync.emulator.listings import ListingQueries, Page, decode_cursor, encode_cursor
from mediasync.emulator.presets import PresetStore

__all__ = ["Asset", "AssetStore", "Page", "decode_cursor", "encode_cursor", "iso_now"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS assets (
    seq INTEGER PRIMARY KEY,
    asset_id TEXT NOT NULL UNIQUE,
    resource_type TEXT NOT NULL, type TEXT NOT NULL, public_id TEXT NOT NULL,
    version INTEGER NOT NULL, version_id TEXT NOT NULL, format TEXT, bytes INTEGER NOT NULL,
    width INTEGER, height INTEGER, pages INTEGER NOT NULL DEFAULT 1, etag TEXT NOT NULL,
    created_at TEXT NOT NULL, asset_folder TEXT NOT NULL DEFAULT '', display_name TEXT,
    original_filename TEXT, tags TEXT NOT NULL DEFAULT '[]', blob TEXT, context TEXT NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX IF NOT EXISTS assets_identity ON assets (resource_type, type, public_id);
CREATE INDEX IF NOT EXISTS assets_created ON assets (resource_type, type, seq);
CREATE INDEX IF NOT EXISTS assets_created_any_type ON assets (resource_type, seq);
CREATE INDEX IF NOT EXISTS assets_by_folder ON assets (asset_folder, seq);
CREATE TABLE IF NOT EXISTS presets (name TEXT PRIMARY KEY, unsigned INTEGER NOT NULL, settings TEXT NOT NULL);
"""


def _md5(data: bytes) -> str:
    """Cloudinary's etag: the MD5 of the bytes (a fingerprint, not a security measure)."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _file_md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Asset:
    seq: int
    asset_id: str
    resource_type: str
    type: str
    public_id: str
    version: int
    version_id: str
    format: str | None
    bytes: int
    width: int | None
    height: int | None
    pages: int
    etag: str
    created_at: str
    asset_folder: str
    display_name: str | None
    original_filename: str | None
    tags: list[str]
    blob: str | None
    context: dict[str, str] = field(default_factory=dict)  # contextual metadata ("custom" context)

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Asset:
        """Positional (the columns are the fields, in order); untagged assets without context skip
        the JSON parser — a listing page builds 500 of these, a million-asset listing two million."""
        values = list(row)
        values[_TAGS] = [] if values[_TAGS] == "[]" else json.loads(values[_TAGS])
        values[_CONTEXT] = {} if values[_CONTEXT] == "{}" else json.loads(values[_CONTEXT])
        return cls(*values)

    def as_row(self) -> tuple:
        return tuple(json.dumps(getattr(self, c)) if c in ("tags", "context") else getattr(self, c) for c in COLUMNS)


COLUMNS = tuple(f.name for f in fields(Asset))
_TAGS = COLUMNS.index("tags")
_CONTEXT = COLUMNS.index("context")
_SELECT = f"SELECT {','.join(COLUMNS)} FROM assets"


def iso_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class AssetStore(ListingQueries, PresetStore):
    """Thread-safe: one SQLite connection behind a lock (every statement is short)."""

    select = _SELECT
    row_to_asset = staticmethod(Asset.from_row)

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.blob_dir = self.data_dir / "blobs"
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self.db = sqlite3.connect(self.data_dir / "emulator.sqlite3", check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self._migrate_v1()
        self.db.executescript(_SCHEMA)
        self._add_context_column()
        self.ensure_default_presets()

    def _migrate_v1(self) -> None:
        """Data dirs written before assets had a creation sequence: keep their assets."""
        cols = [r[1] for r in self.db.execute("PRAGMA table_info(assets)")]
        if not cols or "seq" in cols:
            return
        self.db.executescript("ALTER TABLE assets RENAME TO assets_v1;" + _SCHEMA)
        self.db.execute(
            "INSERT INTO assets (asset_id, resource_type, type, public_id, version, version_id, format, bytes, width,"
            " height, etag, created_at, asset_folder, original_filename, tags, blob)"
            " SELECT asset_id, resource_type, type, public_id, version, version_id, format, bytes, width, height,"
            " etag, created_at, coalesce(asset_folder, ''), original_filename, tags, blob FROM assets_v1"
            " ORDER BY created_at")
        self.db.execute("DROP TABLE assets_v1")

    def _add_context_column(self) -> None:
        """Data dirs written before assets had contextual metadata: the column, empty."""
        if "context" not in [r[1] for r in self.db.execute("PRAGMA table_info(assets)")]:
            self.db.execute("ALTER TABLE assets ADD COLUMN context TEXT NOT NULL DEFAULT '{}'")

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        with self.lock:
            return self.db.execute(sql, args).fetchall()

    def close(self) -> None:
        with self.lock:
            self.db.close()

    # --- single assets -------------------------------------------------------------------

    def get(self, resource_type: str, type: str, public_id: str) -> Asset | None:
        rows = self.query(f"{_SELECT} WHERE resource_type = ? AND type = ? AND public_id = ?",
                          (resource_type, type, public_id))
        return Asset.from_row(rows[0]) if rows else None

    def by_asset_ids(self, asset_ids: Sequence[str]) -> list[Asset]:
        if not asset_ids:
            return []
        rows = self.query(f"{_SELECT} WHERE asset_id IN ({','.join('?' * len(asset_ids))}) ORDER BY seq DESC",
                          list(asset_ids))
        return [Asset.from_row(r) for r in rows]

    def put(self, *, resource_type: str, type: str, public_id: str, data: bytes | Path, format: str | None,
            width: int | None, height: int | None, pages: int, asset_folder: str, display_name: str | None,
            original_filename: str | None, tags: list[str], context: dict[str, str] | None = None
            ) -> tuple[Asset, bool]:
        """Store an asset, or overwrite one (same asset_id, new version); returns (asset, overwritten).
        `data` is the bytes, or a file (an assembled chunked upload) that is moved into the store."""
        with self.lock:
            existing = self.get(resource_type, type, public_id)
            asset_id = existing.asset_id if existing else secrets.token_hex(16)
            blob = self.blob_dir / asset_id
            if isinstance(data, Path):
                size, etag = data.stat().st_size, _file_md5(data)
                os.replace(data, blob)
            else:
                size, etag = len(data), _md5(data)
                blob.write_bytes(data)
            version = max(int(time.time()), existing.version + 1 if existing else 0)
            asset = Asset(seq=existing.seq if existing else 0, asset_id=asset_id, resource_type=resource_type,
                          type=type, public_id=public_id, version=version, version_id=secrets.token_hex(16),
                          format=format, bytes=size, width=width, height=height, pages=pages, etag=etag,
                          created_at=existing.created_at if existing else iso_now(), asset_folder=asset_folder,
                          display_name=display_name, original_filename=original_filename, tags=tags,
                          blob=asset_id, context=dict(context or {}))
            with self.tx() as db:
                if existing:
                    db.execute(f"UPDATE assets SET ({','.join(COLUMNS[1:])}) = ({','.join('?' * (len(COLUMNS) - 1))})"
                               " WHERE seq = ?", (*asset.as_row()[1:], existing.seq))
                else:
                    cur = db.execute(f"INSERT INTO assets ({','.join(COLUMNS[1:])}) VALUES "
                                     f"({','.join('?' * (len(COLUMNS) - 1))})", asset.as_row()[1:])
                    asset.seq = int(cur.lastrowid or 0)
            return asset, existing is not None

    def blob_path(self, asset: Asset) -> Path | None:
        path = self.blob_dir / asset.blob if asset.blob else None
        return path if path and path.exists() else None

    def update(self, asset: Asset, **changes: Any) -> Asset:
        """Change metadata in place (public_id, type, asset_folder, display_name, tags, context); asset_id stays."""
        updated = replace(asset, **changes)
        with self.tx() as db:
            db.execute(f"UPDATE assets SET ({','.join(COLUMNS[1:])}) = ({','.join('?' * (len(COLUMNS) - 1))})"
                       " WHERE seq = ?", (*updated.as_row()[1:], asset.seq))
        return updated

    def delete_assets(self, assets: Sequence[Asset]) -> None:
        with self.tx() as db:
            db.executemany("DELETE FROM assets WHERE seq = ?", [(a.seq,) for a in assets])
        for asset in assets:
            if asset.blob:
                (self.blob_dir / asset.blob).unlink(missing_ok=True)

    def delete(self, resource_type: str, type: str, public_ids: Sequence[str]) -> tuple[dict[str, str], list[Asset]]:
        """({public_id: "deleted" | "not_found"}, the deleted assets) — Cloudinary's answer shape."""
        outcome: dict[str, str] = {}
        gone: list[Asset] = []
        with self.lock:
            for public_id in public_ids:
                asset = self.get(resource_type, type, public_id)
                outcome[public_id] = "deleted" if asset else "not_found"
                if asset and all(a.seq != asset.seq for a in gone):
                    gone.append(asset)
            self.delete_assets(gone)
        return outcome, gone

    # --- bulk ----------------------------------------------------------------------------

    def count(self) -> int:
        return self.query("SELECT count(*) FROM assets")[0][0]

    def seed(self, n: int, prefix: str = "main-uploads/seed", resource_type: str = "image", type: str = "upload",
             bytes_each: int = 1024, folder_mode: str = "fixed", age_seconds: int = 0) -> int:
        """Plant n synthetic assets straight into the store (benchmarks, drift tests) — no bytes on
        disk. Fixed mode: public_id = prefix + 7-digit number. Dynamic mode: the prefix's folder part
        becomes the asset_folder and the public_id carries no folder. They share one creation second;
        they are created last-numbered first, so a newest-first listing meets them in name order.
        `age_seconds`: uploaded that long ago (an account's history, for incremental listings)."""
        uploaded = datetime.now(timezone.utc) - timedelta(seconds=age_seconds)
        created, version = uploaded.strftime("%Y-%m-%dT%H:%M:%SZ"), int(uploaded.timestamp())
        folder, _, stem = prefix.rpartition("/")
        name = prefix if folder_mode == "fixed" else stem
        rows = ((secrets.token_hex(16), resource_type, type, f"{name}{i:07d}", version, secrets.token_hex(16), "png",
                 bytes_each, 1, 1, 1, _md5(f"{prefix}{i}".encode()), created, folder,
                 f"{stem}{i:07d}", None, "[]", None, "{}") for i in reversed(range(n)))
        with self.tx() as db:
            db.executemany(f"INSERT OR REPLACE INTO assets ({','.join(COLUMNS[1:])}) VALUES "
                           f"({','.join('?' * (len(COLUMNS) - 1))})", rows)
        return n

    def reset(self) -> None:
        """Forget every asset and preset (defaults come back)."""
        with self.tx() as db:
            db.execute("DELETE FROM assets")
            db.execute("DELETE FROM presets")
        for blob in self.blob_dir.iterdir():
            blob.unlink(missing_ok=True)
        self.ensure_default_presets()


EmulatorState = AssetStore  # the name older callers import
