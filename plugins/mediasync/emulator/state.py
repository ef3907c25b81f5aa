"""The emulator's persistent state: asset metadata in SQLite, bytes as files, in one data dir.

Listing is an index range scan on (resource_type, type, public_id) from the cursor's key, so page
N of a million assets costs the same as page 1 — the emulator is never a reconciliation's bottleneck.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

DEFAULT_PRESETS = {"tap2go-uploads": {"unsigned": True, "settings": {"folder": "main-uploads"}}}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS assets (
    resource_type TEXT NOT NULL, type TEXT NOT NULL, public_id TEXT NOT NULL,
    asset_id TEXT NOT NULL, version INTEGER NOT NULL, version_id TEXT NOT NULL, format TEXT,
    bytes INTEGER NOT NULL, width INTEGER, height INTEGER, etag TEXT NOT NULL, created_at TEXT NOT NULL,
    asset_folder TEXT, original_filename TEXT, tags TEXT NOT NULL DEFAULT '[]', blob TEXT,
    PRIMARY KEY (resource_type, type, public_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS presets (name TEXT PRIMARY KEY, unsigned INTEGER NOT NULL, settings TEXT NOT NULL);
"""

_COLUMNS = ("resource_type", "type", "public_id", "asset_id", "version", "version_id", "format", "bytes", "width",
            "height", "etag", "created_at", "asset_folder", "original_filename", "tags", "blob")


@dataclass
class Asset:
    resource_type: str
    type: str
    public_id: str
    asset_id: str
    version: int
    version_id: str
    format: str | None
    bytes: int
    width: int | None
    height: int | None
    etag: str
    created_at: str
    asset_folder: str | None
    original_filename: str | None
    tags: list[str]
    blob: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Asset:
        data = dict(zip(_COLUMNS, row))
        data["tags"] = json.loads(data["tags"])
        return cls(**data)

    def as_row(self) -> tuple:
        return tuple(json.dumps(self.tags) if c == "tags" else getattr(self, c) for c in _COLUMNS)


def iso_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def encode_cursor(public_id: str) -> str:
    return base64.urlsafe_b64encode(public_id.encode()).decode()


def decode_cursor(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        raise ValueError(f"Invalid next_cursor {cursor!r}") from None


class EmulatorState:
    """Thread-safe: one SQLite connection behind a lock (requests are short)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.blob_dir = self.data_dir / "blobs"
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.data_dir / "emulator.sqlite3", check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._ensure_default_presets()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- presets -------------------------------------------------------------------------

    def _ensure_default_presets(self) -> None:
        with self._tx() as db:
            for name, preset in DEFAULT_PRESETS.items():
                db.execute("INSERT OR IGNORE INTO presets VALUES (?, ?, ?)",
                           (name, int(preset["unsigned"]), json.dumps(preset["settings"])))

    def preset(self, name: str) -> dict | None:
        with self._lock:
            row = self._db.execute("SELECT name, unsigned, settings FROM presets WHERE name = ?", (name,)).fetchone()
        return {"name": row[0], "unsigned": bool(row[1]), "settings": json.loads(row[2])} if row else None

    def presets(self) -> list[dict]:
        with self._lock:
            rows = self._db.execute("SELECT name, unsigned, settings FROM presets ORDER BY name").fetchall()
        return [{"name": r[0], "unsigned": bool(r[1]), "settings": json.loads(r[2])} for r in rows]

    def save_preset(self, name: str, unsigned: bool, settings: dict) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO presets VALUES (?, ?, ?)", (name, int(unsigned), json.dumps(settings)))

    # --- assets --------------------------------------------------------------------------

    def put(self, *, resource_type: str, type: str, public_id: str, data: bytes, format: str | None,
            width: int | None, height: int | None, asset_folder: str | None, original_filename: str | None,
            tags: list[str]) -> Asset:
        """Store (or overwrite, with a new version) an asset and its bytes."""
        blob = hashlib.sha256(f"{resource_type}/{type}/{public_id}".encode()).hexdigest()
        (self.blob_dir / blob).write_bytes(data)
        existing = self.get(resource_type, type, public_id)
        version = max(int(time.time()), existing.version + 1 if existing else 0)
        asset = Asset(resource_type=resource_type, type=type, public_id=public_id,
                      asset_id=existing.asset_id if existing else secrets.token_hex(16), version=version,
                      version_id=secrets.token_hex(16), format=format, bytes=len(data), width=width, height=height,
                      etag=hashlib.md5(data).hexdigest(), created_at=existing.created_at if existing else iso_now(),
                      asset_folder=asset_folder, original_filename=original_filename, tags=tags, blob=blob)
        with self._tx() as db:
            db.execute(f"INSERT OR REPLACE INTO assets VALUES ({','.join('?' * len(_COLUMNS))})", asset.as_row())
        return asset

    def get(self, resource_type: str, type: str, public_id: str) -> Asset | None:
        with self._lock:
            row = self._db.execute(f"SELECT {','.join(_COLUMNS)} FROM assets "
                                   "WHERE resource_type = ? AND type = ? AND public_id = ?",
                                   (resource_type, type, public_id)).fetchone()
        return Asset.from_row(row) if row else None

    def read_bytes(self, asset: Asset) -> bytes | None:
        path = self.blob_dir / asset.blob if asset.blob else None
        return path.read_bytes() if path and path.exists() else None

    def delete(self, resource_type: str, type: str, public_ids: list[str]) -> dict[str, str]:
        """{public_id: "deleted" | "not_found"} — Cloudinary's answer shape."""
        outcome: dict[str, str] = {}
        blobs: list[str] = []
        with self._tx() as db:
            for public_id in public_ids:
                row = db.execute("SELECT blob FROM assets WHERE resource_type = ? AND type = ? AND public_id = ?",
                                 (resource_type, type, public_id)).fetchone()
                if row is None:
                    outcome[public_id] = "not_found"
                    continue
                db.execute("DELETE FROM assets WHERE resource_type = ? AND type = ? AND public_id = ?",
                           (resource_type, type, public_id))
                outcome[public_id] = "deleted"
                if row[0]:
                    blobs.append(row[0])
        for blob in blobs:
            (self.blob_dir / blob).unlink(missing_ok=True)
        return outcome

    def list(self, resource_type: str, type: str | None, prefix: str | None, after: str | None, limit: int,
             descending: bool = False) -> tuple[list[Asset], str | None]:
        """One page ordered by public_id; the cursor is the last public_id (opaque to clients)."""
        clauses, args = ["resource_type = ?"], [resource_type]
        if type:
            clauses.append("type = ?")
            args.append(type)
        if prefix:
            clauses.append("public_id >= ? AND public_id < ?")
            args += [prefix, prefix + "\U0010ffff"]
        if after is not None:
            clauses.append("public_id < ?" if descending else "public_id > ?")
            args.append(after)
        order = "DESC" if descending else "ASC"
        sql = (f"SELECT {','.join(_COLUMNS)} FROM assets WHERE {' AND '.join(clauses)} "
               f"ORDER BY type {order}, public_id {order} LIMIT ?")
        with self._lock:
            rows = self._db.execute(sql, (*args, limit + 1)).fetchall()
        assets = [Asset.from_row(r) for r in rows[:limit]]
        next_cursor = encode_cursor(assets[-1].public_id) if len(rows) > limit else None
        return assets, next_cursor

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM assets").fetchone()[0]

    def seed(self, n: int, prefix: str = "main-uploads/seed", resource_type: str = "image",
             type: str = "upload", bytes_each: int = 1024) -> int:
        """Plant n synthetic assets (`prefix` + 7-digit number) straight into the store — for
        benchmarks and drift tests that need many assets without n HTTP uploads. No bytes on disk."""
        now, version = iso_now(), int(time.time())
        rows = ((resource_type, type, f"{prefix}{i:07d}", secrets.token_hex(16), version, secrets.token_hex(16),
                 "png", bytes_each, 1, 1, hashlib.md5(f"{prefix}{i}".encode()).hexdigest(), now,
                 prefix.rsplit("/", 1)[0] if "/" in prefix else "", None, "[]", None) for i in range(n))
        with self._tx() as db:
            db.executemany(f"INSERT OR REPLACE INTO assets VALUES ({','.join('?' * len(_COLUMNS))})", rows)
        return n

    def reset(self) -> None:
        """Forget every asset and preset (defaults come back)."""
        with self._tx() as db:
            db.execute("DELETE FROM assets")
            db.execute("DELETE FROM presets")
        for blob in self.blob_dir.iterdir():
            blob.unlink(missing_ok=True)
        self._ensure_default_presets()
