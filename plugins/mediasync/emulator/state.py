"""The emulator's persistent asset store: metadata in SQLite, bytes as files, in one data dir.

`seq` (the rowid) is the creation order: listings without a prefix walk it newest first, so assets
added between pages never shift the pages still to come (the queries live in `listings`, the
upload presets in `presets`).
A deleted asset with a backup stays as a placeholder row (bytes 0, no blob; `emulator.backups`).
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
from typing import Any, Protocol

from mediasync.emulator.listings import ListingQueries, Page, SearchExtent, decode_cursor, encode_cursor
from mediasync.emulator.presets import PresetStore
from mediasync.emulator.schema import open_database

__all__ = ["Asset", "AssetStore", "Page", "decode_cursor", "encode_cursor", "iso_now"]


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
    placeholder: bool = False  # deleted, backup kept: Cloudinary still answers for it (bytes 0)
    context: dict[str, str] = field(default_factory=dict)  # contextual metadata ("custom" context)

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Asset:
        """Positional (the columns are the fields, in order); untagged assets without context skip
        the JSON parser — a listing page builds 500 of these, a million-asset listing two million."""
        values = list(row)
        values[_TAGS] = [] if values[_TAGS] == "[]" else json.loads(values[_TAGS])
        values[_PLACEHOLDER] = bool(values[_PLACEHOLDER])
        values[_CONTEXT] = {} if values[_CONTEXT] == "{}" else json.loads(values[_CONTEXT])
        return cls(*values)

    def as_row(self) -> tuple:
        return tuple(json.dumps(getattr(self, c)) if c in ("tags", "context") else getattr(self, c) for c in COLUMNS)


COLUMNS = tuple(f.name for f in fields(Asset))
_TAGS = COLUMNS.index("tags")
_PLACEHOLDER = COLUMNS.index("placeholder")
_CONTEXT = COLUMNS.index("context")
_SELECT = f"SELECT {','.join(COLUMNS)} FROM assets"


def iso_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class BackupIndex(Protocol):
    """Which assets have a backup (so their deletion leaves a placeholder), and forgetting one."""

    def backed_up(self, asset_ids: Sequence[str]) -> set[str]: ...

    def forget(self, asset_ids: Sequence[str]) -> None: ...


class AssetStore(ListingQueries, PresetStore):
    """Thread-safe: one SQLite connection behind a lock (every statement is short). `backups`,
    when set, decides which deleted assets stay as placeholders."""

    select = _SELECT
    row_to_asset = staticmethod(Asset.from_row)

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.blob_dir = self.data_dir / "blobs"
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self.generation = 0  # bumped by every write: what a cached search extent was counted at
        self.search_extents: dict[tuple, tuple[int, SearchExtent]] = {}
        self.db = open_database(self.data_dir / "emulator.sqlite3")
        self.ensure_default_presets()
        self.backups: BackupIndex | None = None

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
            self.generation += 1

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        with self.lock:
            return self.db.execute(sql, args).fetchall()

    def close(self) -> None:
        with self.lock:
            self.db.close()

    # --- single assets -------------------------------------------------------------------

    def get(self, resource_type: str, type: str, public_id: str, *, placeholders: bool = False) -> Asset | None:
        """The live asset (a placeholder too with `placeholders`: only `api.resource` answers for one)."""
        live = "" if placeholders else " AND placeholder = 0"
        rows = self.query(f"{_SELECT} WHERE resource_type = ? AND type = ? AND public_id = ?{live}",
                          (resource_type, type, public_id))
        return Asset.from_row(rows[0]) if rows else None

    def by_asset_ids(self, asset_ids: Sequence[str], *, placeholders: bool = False) -> list[Asset]:
        """Live ones unless asked: `resources_by_asset_ids` never returns deleted, backed-up assets."""
        if not asset_ids:
            return []
        live = "" if placeholders else " AND placeholder = 0"
        rows = self.query(f"{_SELECT} WHERE asset_id IN ({','.join('?' * len(asset_ids))}){live} ORDER BY seq DESC",
                          list(asset_ids))
        return [Asset.from_row(r) for r in rows]

    def put(self, *, resource_type: str, type: str, public_id: str, data: bytes | Path, format: str | None,
            width: int | None, height: int | None, pages: int, asset_folder: str, display_name: str | None,
            original_filename: str | None, tags: list[str], context: dict[str, str] | None = None
            ) -> tuple[Asset, bool]:
        """Store an asset, or overwrite one (same asset_id, new version); returns (asset, overwritten).
        `data` is the bytes, or a file (an assembled chunked upload) that is moved into the store.
        Onto a placeholder: a new upload of that asset (its asset_id), overwriting nothing live."""
        with self.lock:
            held = self.get(resource_type, type, public_id, placeholders=True)
            existing = held if held and not held.placeholder else None
            if held and held.placeholder:
                self.delete_rows([held])
            asset_id = held.asset_id if held else secrets.token_hex(16)
            blob = self.blob_dir / asset_id
            if isinstance(data, Path):
                size, etag = data.stat().st_size, _file_md5(data)
                os.replace(data, blob)
            else:
                size, etag = len(data), _md5(data)
                blob.write_bytes(data)
            version = max(int(time.time()), held.version + 1 if held else 0)
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
        """Change metadata in place (public_id, type, asset_folder, display_name, tags, context); asset_id
        stays. A placeholder holding the new public_id gives way (with its backup)."""
        updated = replace(asset, **changes)
        displaced: list[str] = []
        with self.tx() as db:
            if (updated.type, updated.public_id) != (asset.type, asset.public_id):
                key = (updated.resource_type, updated.type, updated.public_id)
                where = "resource_type = ? AND type = ? AND public_id = ? AND placeholder = 1"
                displaced = [r[0] for r in db.execute(f"SELECT asset_id FROM assets WHERE {where}", key)]
                db.execute(f"DELETE FROM assets WHERE {where}", key)
            db.execute(f"UPDATE assets SET ({','.join(COLUMNS[1:])}) = ({','.join('?' * (len(COLUMNS) - 1))})"
                       " WHERE seq = ?", (*updated.as_row()[1:], asset.seq))
        if displaced and self.backups:
            self.backups.forget(displaced)
        return updated

    def delete_assets(self, assets: Sequence[Asset]) -> None:
        """Delete assets; those with a backup stay as placeholders (bytes 0, no blob)."""
        kept = self.backups.backed_up([a.asset_id for a in assets]) if self.backups and assets else set()
        self.delete_rows([a for a in assets if a.asset_id not in kept])
        with self.tx() as db:
            db.executemany("UPDATE assets SET placeholder = 1, bytes = 0, blob = NULL WHERE seq = ?",
                           [(a.seq,) for a in assets if a.asset_id in kept])
        for asset in assets:
            if asset.blob:
                (self.blob_dir / asset.blob).unlink(missing_ok=True)

    def delete_rows(self, assets: Sequence[Asset]) -> None:
        with self.tx() as db:
            db.executemany("DELETE FROM assets WHERE seq = ?", [(a.seq,) for a in assets])

    def delete(self, resource_type: str, type: str, public_ids: Sequence[str]) -> tuple[dict[str, str], list[Asset]]:
        """({public_id: "deleted" | "not_found"}, the deleted assets) — Cloudinary's answer shape."""
        with self.lock:
            # One statement for the whole call; a placeholder (deleted, backup kept) is not found.
            gone = [a for a in self.by_public_ids(resource_type, type, public_ids) if not a.placeholder]
            found = {a.public_id for a in gone}
            outcome = {public_id: "deleted" if public_id in found else "not_found" for public_id in public_ids}
            self.delete_assets(gone)
        return outcome, gone

    # --- bulk ----------------------------------------------------------------------------

    def count(self) -> int:
        """Live assets (placeholders are deleted assets)."""
        return self.query("SELECT count(*) FROM assets WHERE placeholder = 0")[0][0]

    def seed(self, n: int, prefix: str = "main-uploads/seed", resource_type: str = "image", type: str = "upload",
             bytes_each: int = 1024, folder_mode: str = "fixed", age_seconds: int = 0, spread_seconds: int = 0) -> int:
        """Plant n synthetic assets straight into the store (benchmarks, drift tests) — no bytes on
        disk. Fixed mode: public_id = prefix + 7-digit number. Dynamic mode: the prefix's folder part
        becomes the asset_folder and the public_id carries no folder. Unspread, they share one creation second;
        they are created last-numbered first, so a newest-first listing meets them in name order.
        `age_seconds`: uploaded that long ago (an account's history, for incremental listings).
        `spread_seconds`: uploads spread evenly over that many seconds before it, the first-numbered
        oldest (a library built over time: uploaded_at ranges can split its listing)."""
        uploaded = datetime.now(timezone.utc) - timedelta(seconds=age_seconds)
        folder, _, stem = prefix.rpartition("/")
        name = prefix if folder_mode == "fixed" else stem

        def when(i: int) -> tuple[str, int]:
            moment = uploaded - timedelta(seconds=spread_seconds * (n - 1 - i) // max(n, 1))
            return moment.strftime("%Y-%m-%dT%H:%M:%SZ"), int(moment.timestamp())

        rows = ((secrets.token_hex(16), resource_type, type, f"{name}{i:07d}", version, secrets.token_hex(16), "png",
                 bytes_each, 1, 1, 1, _md5(f"{prefix}{i}".encode()), created, folder,
                 f"{stem}{i:07d}", None, "[]", None, 0, "{}")
                for i in reversed(range(n)) for created, version in [when(i)])
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
