"""Upgrades in place: a database set up and used by the previous release (numbered migrations up
to 045, no repeatable definitions) upgrades with `db upgrade` losing nothing — rows, tags, usage,
queue entries, runs — and its pending entries keep flowing, a listing loads its snapshot (binary
COPY, in the types the upgraded table has) and the current listing summary and diff run on it;
a second upgrade is a no-op."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import psycopg

from mediasync.db import Database
from mediasync.repository.migrations import discover, upgrade_all
from mediasync.repository.queue import QueueRepository
from mediasync.repository.reconciliation import ReconciliationRepository
from mediasync.scope import ManagedScope
from mediasync.store import ListedFacts, ListingSource

PREVIOUS_RELEASE_LAST = "045"  # the last numbered migration the previous release shipped


def previous_release(tmp_path: Path) -> Path:
    """The previous release's migrations: the same files (applied ones are never edited), up to 045."""
    directory = tmp_path / "previous"
    directory.mkdir()
    for migration in discover():
        if migration.version <= PREVIOUS_RELEASE_LAST:
            (directory / f"{migration.label}.sql").write_text(migration.path.read_text())
    return directory


TABLES = ("public.media_files", "public.media_tags", "public.media_usage", "mediasync.reconciliation_runs")


def snapshot(conn: psycopg.Connection, columns: dict[str, list[str]] | None = None) -> dict[str, list[tuple]]:
    """Every row of the tables the previous release kept, in the columns it had (later migrations add some)."""
    columns = columns or old_columns(conn)
    return {table: conn.execute(f"SELECT {', '.join(columns[table])} FROM {table} ORDER BY 1, 2").fetchall()
            for table in TABLES}


def old_columns(conn: psycopg.Connection) -> dict[str, list[str]]:
    return {table: [r[0] for r in conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped "
        "ORDER BY attnum", (table,))] for table in TABLES}


def test_a_previous_release_database_upgrades_in_place_losing_nothing(empty_database_url, tmp_path: Path):
    db = Database(empty_database_url)
    old = upgrade_all(db, previous_release(tmp_path))
    assert old.migrations[-1].startswith(PREVIOUS_RELEASE_LAST) and old.repeatables == []
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        conn.execute("""
            INSERT INTO media_files (public_id, format, bytes, version, status)
            SELECT 'main-uploads/old' || i, 'png', 100 + i, 1, 'active' FROM generate_series(1, 5) AS i""")
        conn.execute("INSERT INTO media_tags (media_file_id, tag) SELECT id, 'kept' FROM media_files")
        conn.execute("INSERT INTO media_usage (media_file_id, entity_type, entity_id) "
                     "SELECT id, 'page', 'home' FROM media_files")
        conn.execute("DELETE FROM media_files WHERE public_id = 'main-uploads/old5'")  # queued by the old trigger
        conn.execute("INSERT INTO mediasync.reconciliation_runs (mode, status) VALUES ('dry_run', 'completed')")
        columns = old_columns(conn)
        before = snapshot(conn, columns)
        queued = conn.execute("SELECT public_id, status FROM cloudinary_cleanup_queue").fetchall()
    assert queued == [("main-uploads/old5", "pending")]

    upgraded = upgrade_all(db)
    assert [m.split("_")[0] for m in old.migrations + upgraded.migrations] == [m.version for m in discover()]
    assert upgraded.repeatables  # the current definitions replace the old release's functions
    again = upgrade_all(db)
    assert again.migrations == [] and again.repeatables == []

    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        assert snapshot(conn, columns) == before
        assert conn.execute("SELECT public_id, status FROM cloudinary_cleanup_queue").fetchall() == queued
    with db.transaction() as conn:  # the pending entry still flows: the current claim takes it
        claimed = QueueRepository().claim(conn, 10, 60)
    assert [item.public_id for item in claimed] == ["main-uploads/old5"]
    listed = ListedFacts("main-uploads/new", "image", "upload", "png", 5_000_000_000, 2, "e", None, 4, 3,
                         datetime(2024, 4, 5, tzinfo=timezone.utc), "id-new", None, None, False)
    key, source = ManagedScope(("main-uploads",), "fixed").inventory_key, ListingSource("image", prefix="main-uploads/")
    with db.transaction() as conn:  # the current listing stores into the upgraded snapshot
        ReconciliationRepository().start_listing(conn, key, source, listed_before=False)
        ReconciliationRepository().store_page(conn, key, source, [(listed, "main-uploads")], None, 0)
    with psycopg.connect(empty_database_url) as conn:
        stored = conn.execute("SELECT public_id, bytes, width, height, created_at, placeholder "
                              "FROM mediasync.listing_snapshot").fetchall()
    assert stored == [("main-uploads/new", 5_000_000_000, 4, 3, datetime(2024, 4, 5, tzinfo=timezone.utc), False)]
    with db.transaction() as conn:  # and the current summary and diff run on it: the new asset, the old rows
        repo = ReconciliationRepository()
        summary = repo.listing_summary(conn, key)
        run = repo.create_run(conn, "dry_run", {}, key)
        counts = repo.diff(conn, run_id=run["id"], scope=ManagedScope(("main-uploads",), "fixed"),
                           resource_types=("image",), grace_cutoff=datetime.now(timezone.utc),
                           listing_started_at=summary["started_at"])
    assert (summary["assets_listed"], summary["placeholders"], summary["unmanaged"]) == (1, 0, 0)
    assert (counts.get("orphan_asset"), counts.get("missing_asset")) == (1, 4)
