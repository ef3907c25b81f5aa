"""Migrations on a real PostgreSQL: empty DB, re-apply, concurrent upgrades, Supabase roles."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import psycopg
import psycopg.sql
import pytest

from mediasync.errors import MigrationError
from mediasync.hooks.postgres import Database
from mediasync.repository.migrations import discover, upgrade

SUPABASE_ROLES = ("anon", "authenticated", "service_role")


def applied(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT version FROM mediasync.schema_migrations ORDER BY version")]


def test_applies_on_empty_database_then_is_a_no_op(empty_database_url):
    db = Database(empty_database_url)
    first = upgrade(db)
    assert [name.split("_")[0] for name in first] == [m.version for m in discover()]
    assert upgrade(db) == []
    assert applied(empty_database_url) == [m.version for m in discover()]
    with psycopg.connect(empty_database_url) as conn:
        tables = {r[0] for r in conn.execute(
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE schemaname IN ('public','mediasync')")}
    assert {"public.media_files", "public.media_tags", "public.media_usage", "public.cloudinary_cleanup_queue",
            "mediasync.schema_migrations", "mediasync.reconciliation_runs", "mediasync.reconciliation_items",
            "mediasync.listing_checkpoints", "mediasync.listing_snapshot"} <= tables


def test_concurrent_upgrades_apply_each_migration_once(empty_database_url):
    db = Database(empty_database_url)
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(upgrade(db))
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(len(r) for r in results) == [0, 0, len(discover())]
    assert applied(empty_database_url) == [m.version for m in discover()]


def test_changed_migration_is_refused(empty_database_url, tmp_path: Path):
    for migration in discover():
        shutil.copy(migration.path, tmp_path / migration.path.name)
    db = Database(empty_database_url)
    upgrade(db, tmp_path)
    first = sorted(tmp_path.glob("001_*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited after release\n")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        upgrade(db, tmp_path)


def test_failed_migration_leaves_previous_version(empty_database_url, tmp_path: Path):
    for migration in discover():
        shutil.copy(migration.path, tmp_path / migration.path.name)
    (tmp_path / "900_broken.sql").write_text("CREATE TABLE public.half_done (id int);\nSELECT 1/0;\n")
    db = Database(empty_database_url)
    with pytest.raises(MigrationError, match="900_broken.sql failed: division by zero"):
        upgrade(db, tmp_path)
    assert "900" not in applied(empty_database_url)
    with psycopg.connect(empty_database_url) as conn:
        assert conn.execute("SELECT to_regclass('public.half_done')").fetchone()[0] is None


def create_supabase_roles(conn: psycopg.Connection) -> None:
    """Supabase's API roles (supabase/postgres migrations/db/init-scripts/00000000000000-initial-schema.sql:
    `create role anon nologin noinherit; ... service_role nologin noinherit bypassrls`, made INHERIT by
    20230529180330_alter_api_roles_for_inherit.sql). Roles are server-wide and other test sessions may
    create them at the same moment: a lost race is fine."""
    for role in SUPABASE_ROLES:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
            continue
        bypass = " BYPASSRLS" if role == "service_role" else ""
        try:
            conn.execute(f"CREATE ROLE {role} NOLOGIN INHERIT{bypass}")
        except (psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
            pass  # another test session created it meanwhile (the loser of the race may see either error)


@pytest.fixture
def supabase_like_database(empty_database_url):
    """An empty database set up the way Supabase's bootstrap leaves one: the API roles, the realtime
    publication, USAGE on public and, for the role that runs the migrations, default privileges
    giving anon/authenticated/service_role everything on new tables, sequences and functions in
    public. Supabase's init scripts run as postgres, so their unqualified
    `alter default privileges in schema public grant all on tables|functions|sequences to postgres,
    anon, authenticated, service_role` is FOR ROLE postgres, and they repeat it FOR USER supabase_admin:
    whichever of the two runs `db upgrade`, its new objects in public start out granted."""
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        create_supabase_roles(conn)
        migrator = conn.execute("SELECT current_user").fetchone()[0]
        conn.execute("CREATE PUBLICATION supabase_realtime")
        conn.execute("GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role")
        for kind in ("TABLES", "FUNCTIONS", "SEQUENCES"):
            conn.execute(psycopg.sql.SQL(
                "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public GRANT ALL ON {} TO anon, authenticated, service_role"
            ).format(psycopg.sql.Identifier(migrator), psycopg.sql.SQL(kind)))
        # PostgreSQL's own defaults, which Supabase keeps: EXECUTE on new functions and USAGE on new
        # types for PUBLIC, in every schema (stated explicitly; this is what the built-in default is).
        conn.execute(psycopg.sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} GRANT EXECUTE ON FUNCTIONS TO PUBLIC")
                     .format(psycopg.sql.Identifier(migrator)))
        conn.execute(psycopg.sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} GRANT USAGE ON TYPES TO PUBLIC")
                     .format(psycopg.sql.Identifier(migrator)))
        # The model must really grant: a table made now, as the migrations will, is open to anon.
        conn.execute("CREATE TABLE public.bootstrap_probe (id int)")
        assert conn.execute("SELECT has_table_privilege('anon', 'public.bootstrap_probe', 'DELETE')").fetchone()[0]
        conn.execute("DROP TABLE public.bootstrap_probe")
    return empty_database_url


def test_supabase_roles_and_publication(supabase_like_database):
    upgrade(Database(supabase_like_database))
    with psycopg.connect(supabase_like_database, autocommit=True) as conn:
        in_publication = conn.execute(
            "SELECT tablename FROM pg_publication_tables WHERE pubname = 'supabase_realtime'").fetchall()
        assert ("media_files",) in in_publication
        rls = dict(conn.execute(
            "SELECT relname, relrowsecurity FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'"
        ).fetchall())
        assert rls and all(rls.values()), rls
        conn.execute("INSERT INTO media_files (public_id) VALUES ('main-uploads/visible'), ('main-uploads/hidden')")
        conn.execute("UPDATE media_files SET status = 'deleted' WHERE public_id = 'main-uploads/hidden'")

        for role in ("anon", "authenticated"):
            conn.execute(f"SET ROLE {role}")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT * FROM cloudinary_cleanup_queue")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT * FROM mediasync.reconciliation_runs")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("DELETE FROM media_files")
            conn.execute("RESET ROLE")

        conn.execute("SET ROLE anon")
        assert conn.execute("SELECT public_id FROM media_files").fetchall() == [("main-uploads/visible",)]
        conn.execute("SET ROLE service_role")
        assert conn.execute("SELECT count(*) FROM cloudinary_cleanup_queue").fetchone()[0] == 1
        conn.execute("RESET ROLE")
    assert upgrade(Database(supabase_like_database)) == []


def test_plain_postgres_needs_no_supabase_objects(empty_database_url):
    """Where the publication does not exist, the migrations neither create nor need it."""
    upgrade(Database(empty_database_url))
    with psycopg.connect(empty_database_url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_publication WHERE pubname = 'supabase_realtime'").fetchone()[0] == 0
