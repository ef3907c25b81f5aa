"""Repeatable definitions (sql/repeatable/R__*.sql): the current definition of every function and
trigger, applied after the numbered migrations on a fresh database, re-applied when a file changes
(and only then), in one transaction under the migration lock."""

from __future__ import annotations

import re
import shutil
import threading
import time
from pathlib import Path

import psycopg
import pytest

from mediasync.db import Database
from mediasync.db.queries import sql_root
from mediasync.errors import MigrationError
from mediasync.repository.migrations import REPEATABLE_DIR, discover, discover_repeatable, upgrade, upgrade_all
from support.concurrency import run_at_once

SQL = Path(str(sql_root()))
# The open-entry predicate spelled out: `status IN ('pending', 'processing'[, 'held'])`, in any order.
OPEN_STATUSES = re.compile(r"IN\s*\(\s*'(pending|processing|held)'(\s*,\s*'(pending|processing|held)'){1,2}\s*\)")


def copy_schema(into: Path) -> Path:
    """The package's numbered migrations and repeatables, in a folder a test may edit."""
    for migration in discover():
        shutil.copy(str(migration.path), into / migration.path.name)
    shutil.copytree(SQL / REPEATABLE_DIR, into / REPEATABLE_DIR)
    return into


def repeatables_applied(url: str) -> dict[str, tuple[str, object]]:
    with psycopg.connect(url) as conn:
        return {r[0]: (r[1], r[2]) for r in conn.execute(
            "SELECT name, checksum, applied_at FROM mediasync.schema_repeatables")}


def scalar(url: str, statement: str) -> object:
    with psycopg.connect(url) as conn:
        return conn.execute(statement).fetchone()[0]


def test_a_fresh_database_gets_every_repeatable_then_an_unchanged_one_is_not_reapplied(empty_database_url):
    db = Database(empty_database_url)
    first = upgrade_all(db)
    assert [m.split("_")[0] for m in first.migrations] == [m.version for m in discover()]
    assert first.repeatables == [m.label for m in discover_repeatable()] and first.repeatables
    recorded = repeatables_applied(empty_database_url)
    assert {name: checksum for name, (checksum, _) in recorded.items()} == {
        m.name: m.checksum for m in discover_repeatable()}

    again = upgrade_all(db)
    assert (again.migrations, again.repeatables) == ([], [])
    assert repeatables_applied(empty_database_url) == recorded  # not even re-stamped
    assert upgrade(db) == []


def test_a_changed_repeatable_is_reapplied_alone(empty_database_url, tmp_path: Path):
    schema = copy_schema(tmp_path)
    db = Database(empty_database_url)
    upgrade_all(db, schema)
    before = repeatables_applied(empty_database_url)

    definition = schema / REPEATABLE_DIR / "R__max_attempts.sql"
    definition.write_text(definition.read_text().replace("'max_attempts'), 3)", "'max_attempts'), 4)"))
    result = upgrade_all(db, schema)
    assert (result.migrations, result.repeatables) == ([], ["R__max_attempts"])
    with psycopg.connect(empty_database_url) as conn:
        conn.execute("DELETE FROM mediasync.runtime_settings WHERE name = 'max_attempts'")
        assert conn.execute("SELECT mediasync.max_attempts()").fetchone()[0] == 4  # the new definition
        conn.rollback()
    after = repeatables_applied(empty_database_url)
    assert after["max_attempts"][0] != before["max_attempts"][0]
    assert {k: v for k, v in after.items() if k != "max_attempts"} == {
        k: v for k, v in before.items() if k != "max_attempts"}
    assert upgrade_all(db, schema).repeatables == []


def test_a_failing_repeatable_leaves_every_definition_as_it_was(empty_database_url, tmp_path: Path):
    schema = copy_schema(tmp_path)
    db = Database(empty_database_url)
    upgrade_all(db, schema)
    before = repeatables_applied(empty_database_url)
    attempts = schema / REPEATABLE_DIR / "R__max_attempts.sql"
    attempts.write_text(attempts.read_text().replace("'max_attempts'), 3)", "'max_attempts'), 4)"))
    touch = schema / REPEATABLE_DIR / "R__touch_media_file.sql"
    touch.write_text(touch.read_text() + "\nSELECT 1/0;\n")

    with pytest.raises(MigrationError, match=r"repeatable R__touch_media_file\.sql failed: division by zero"):
        upgrade_all(db, schema)
    assert repeatables_applied(empty_database_url) == before
    assert "4)" not in scalar(empty_database_url, "SELECT pg_get_functiondef('mediasync.max_attempts()'::regprocedure)")

    touch.write_text(touch.read_text().replace("\nSELECT 1/0;\n", "\n"))
    assert upgrade_all(db, schema).repeatables == ["R__max_attempts", "R__touch_media_file"]


def test_concurrent_upgrades_apply_each_repeatable_once(empty_database_url):
    db = Database(empty_database_url)
    results = run_at_once(lambda: upgrade_all(db).repeatables)
    assert sorted(len(r) for r in results) == [0, 0, len(discover_repeatable())]


def test_a_changed_repeatable_waits_for_the_migration_lock(empty_database_url, tmp_path: Path):
    schema = copy_schema(tmp_path)
    db = Database(empty_database_url)
    upgrade_all(db, schema)
    definition = schema / REPEATABLE_DIR / "R__max_attempts.sql"
    definition.write_text(definition.read_text().replace("'max_attempts'), 3)", "'max_attempts'), 4)"))
    done: list[list[str]] = []
    with psycopg.connect(empty_database_url) as holder:
        holder.execute("SELECT pg_advisory_xact_lock(7261520001)")  # another upgrader's lock
        worker = threading.Thread(target=lambda: done.append(upgrade_all(db, schema).repeatables))
        worker.start()
        deadline = time.monotonic() + 30
        with psycopg.connect(empty_database_url, autocommit=True) as watcher:
            while not watcher.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                      "AND ((classid::bigint << 32) | objid::bigint) = 7261520001 AND NOT granted").fetchone()[0]:
                assert time.monotonic() < deadline, "the upgrade never asked for the migration lock"
                time.sleep(0.05)
            assert not done  # waiting: nothing re-applied while another upgrader holds the lock
            assert "4)" not in watcher.execute(
                "SELECT pg_get_functiondef('mediasync.max_attempts()'::regprocedure)").fetchone()[0]
        holder.rollback()
    worker.join(timeout=60)
    assert done == [["R__max_attempts"]]


def test_every_function_and_trigger_has_its_current_definition_in_a_repeatable(db_url):
    text = "\n".join(p.read_text() for p in sorted((SQL / REPEATABLE_DIR).glob("R__*.sql")))
    defined = set(re.findall(r"CREATE OR REPLACE FUNCTION (mediasync\.\w+)\(", text))
    triggers = set(re.findall(r"CREATE TRIGGER (\w+)", text))
    with psycopg.connect(db_url) as conn:
        functions = {r[0] for r in conn.execute(
            "SELECT n.nspname || '.' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname IN ('mediasync', 'public')")}
        live_triggers = {r[0] for r in conn.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")}
        views = conn.execute("SELECT count(*) FROM pg_views WHERE schemaname IN ('mediasync', 'public')").fetchone()[0]
    assert functions == defined
    assert live_triggers == triggers
    assert views == 0  # a view would be defined in a repeatable too


def test_numbered_migrations_after_the_repeatables_hold_only_tables_and_data():
    """Since the repeatables, a function, trigger or view changes in its R__ file; a numbered
    migration redefining one would be overwritten by the repeatable on the next upgrade."""
    for migration in discover():
        if migration.version > "075":
            assert not re.search(r"CREATE\s+(OR\s+REPLACE\s+)?(FUNCTION|TRIGGER|VIEW)", migration.sql, re.I), \
                f"{migration.label}.sql defines a function, trigger or view: put it in sql/repeatable/"


def test_the_open_entry_predicate_is_declared_once_and_serves_the_index(db_url):
    spelled = [p.name for p in (*(SQL / "queries").glob("*.sql"), *(SQL / REPEATABLE_DIR).glob("*.sql"))
               if OPEN_STATUSES.search(p.read_text())]
    assert spelled == ["R__is_open_entry.sql"]
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT pg_get_expr(indpred, indrelid) FROM pg_index "
                            "WHERE indexrelid = 'public.cleanup_queue_one_open_per_asset'::regclass"
                            ).fetchone()[0] == "mediasync.is_open_entry(status)"
        assert conn.execute("SELECT provolatile FROM pg_proc WHERE oid = 'mediasync.is_open_entry(text)'::regprocedure"
                            ).fetchone()[0] == "i"
        assert [r[0] for r in conn.execute(
            "SELECT s FROM unnest(ARRAY['pending', 'processing', 'held', 'completed', 'failed', 'cancelled']) s "
            "WHERE mediasync.is_open_entry(s)")] == ["pending", "processing", "held"]
        conn.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(r[0] for r in conn.execute(
            "EXPLAIN SELECT id FROM public.cloudinary_cleanup_queue WHERE public_id = 'a' AND resource_type = 'image' "
            "AND type = 'upload' AND mediasync.is_open_entry(status)"))
        assert "cleanup_queue_one_open_per_asset" in plan  # the planner inlines the function: the index serves
        conn.execute("INSERT INTO public.cloudinary_cleanup_queue (public_id, reason) VALUES ('a', 'db_delete')")
        inserted = conn.execute(
            "INSERT INTO public.cloudinary_cleanup_queue (public_id, reason) VALUES ('a', 'db_delete') "
            "ON CONFLICT (public_id, resource_type, type) WHERE mediasync.is_open_entry(status) DO NOTHING").rowcount
        assert inserted == 0  # the index is the arbiter of one open entry per asset


def test_the_databases_fallback_for_max_attempts_is_the_settings_default(db_url):
    """MEDIASYNC_MAX_ATTEMPTS' default is Settings.max_attempts; the database falls back to the same
    figure when nothing was published."""
    from mediasync.config import Settings

    with psycopg.connect(db_url) as conn:
        conn.execute("DELETE FROM mediasync.runtime_settings WHERE name = 'max_attempts'")
        assert conn.execute("SELECT mediasync.max_attempts()").fetchone()[0] == Settings.max_attempts
