"""The emulator's SQLite schema, and bringing a data dir written by an older emulator up to it
(kept apart from the store that uses it: the store's job is assets, this file's the tables)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS assets (
    seq INTEGER PRIMARY KEY,
    asset_id TEXT NOT NULL UNIQUE,
    resource_type TEXT NOT NULL, type TEXT NOT NULL, public_id TEXT NOT NULL,
    version INTEGER NOT NULL, version_id TEXT NOT NULL, format TEXT, bytes INTEGER NOT NULL,
    width INTEGER, height INTEGER, pages INTEGER NOT NULL DEFAULT 1, etag TEXT NOT NULL,
    created_at TEXT NOT NULL, asset_folder TEXT NOT NULL DEFAULT '', display_name TEXT,
    original_filename TEXT, tags TEXT NOT NULL DEFAULT '[]', blob TEXT, placeholder INTEGER NOT NULL DEFAULT 0,
    context TEXT NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX IF NOT EXISTS assets_identity ON assets (resource_type, type, public_id);
CREATE INDEX IF NOT EXISTS assets_created ON assets (resource_type, type, seq);
CREATE INDEX IF NOT EXISTS assets_created_any_type ON assets (resource_type, seq);
CREATE INDEX IF NOT EXISTS assets_by_folder ON assets (asset_folder, seq);
CREATE INDEX IF NOT EXISTS assets_uploaded ON assets (resource_type, type, created_at);
CREATE TABLE IF NOT EXISTS presets (name TEXT PRIMARY KEY, unsigned INTEGER NOT NULL, settings TEXT NOT NULL);
"""


def open_database(path: Path) -> sqlite3.Connection:
    """The store's connection: autocommit (the store opens its own transactions), WAL, and the
    schema current whatever emulator version wrote the data dir."""
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    _migrate_v1(db)
    db.executescript(_SCHEMA)
    _add_placeholder_column(db)
    _add_context_column(db)
    return db


def _migrate_v1(db: sqlite3.Connection) -> None:
    """Data dirs written before assets had a creation sequence: keep their assets."""
    cols = [r[1] for r in db.execute("PRAGMA table_info(assets)")]
    if not cols or "seq" in cols:
        return
    db.executescript("ALTER TABLE assets RENAME TO assets_v1;" + _SCHEMA)
    db.execute(
        "INSERT INTO assets (asset_id, resource_type, type, public_id, version, version_id, format, bytes, width,"
        " height, etag, created_at, asset_folder, original_filename, tags, blob)"
        " SELECT asset_id, resource_type, type, public_id, version, version_id, format, bytes, width, height,"
        " etag, created_at, coalesce(asset_folder, ''), original_filename, tags, blob FROM assets_v1"
        " ORDER BY created_at")
    db.execute("DROP TABLE assets_v1")


def _add_placeholder_column(db: sqlite3.Connection) -> None:
    """Data dirs written before backups: every asset there is live."""
    if "placeholder" not in [r[1] for r in db.execute("PRAGMA table_info(assets)")]:
        db.execute("ALTER TABLE assets ADD COLUMN placeholder INTEGER NOT NULL DEFAULT 0")


def _add_context_column(db: sqlite3.Connection) -> None:
    """Data dirs written before assets had contextual metadata: the column, empty."""
    if "context" not in [r[1] for r in db.execute("PRAGMA table_info(assets)")]:
        db.execute("ALTER TABLE assets ADD COLUMN context TEXT NOT NULL DEFAULT '{}'")
