"""Migrations on a real PostgreSQL: empty DB, re-apply, concurrent upgrades, Supabase roles."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import psycopg
import psycopg.sql
import pytest

from mediasync.db import Database
from mediasync.errors import MigrationError
from mediasync.repository.migrations import discover, upgrade
from support.concurrency import run_at_once

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
    results = run_at_once(lambda: upgrade(db))
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
    with pytest.raises(MigrationError, match=r"900_broken\.sql failed: division by zero"):
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
        # Another test session may create it meanwhile (the loser of the race may see either error).
        with contextlib.suppress(psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
            conn.execute(f"CREATE ROLE {role} NOLOGIN INHERIT{bypass}")


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


# --- API role privileges (issue 16, item 12) ----------------------------------------------------
# Everything anon and authenticated may hold on an object in public or mediasync. Any other privilege
# on any object of any kind, found from the catalogs below, fails the tests: a later migration that
# leaves a new object with Supabase's default grants (or PostgreSQL's PUBLIC defaults) shows up here.
API_ROLE_ALLOW_LIST = {
    ("anon", "schema public", "USAGE"),  # Supabase's bootstrap; public is not mediasync's
    ("authenticated", "schema public", "USAGE"),
    ("anon", "table public.media_files", "SELECT"),  # RLS: active rows only
    ("authenticated", "table public.media_files", "SELECT"),
    ("authenticated", "table public.media_tags", "SELECT"),
    ("authenticated", "table public.media_usage", "SELECT"),
}

_TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
_CATALOG_PRIVILEGES = f"""
WITH roles(role) AS (VALUES ('anon'), ('authenticated')),
schemas AS (SELECT oid, nspname FROM pg_namespace WHERE nspname IN ('public', 'mediasync')),
privileged AS (
    -- relations: tables, partitioned tables, views, materialized views, foreign tables; columns too
    SELECT CASE c.relkind WHEN 'S' THEN 'sequence' ELSE 'table' END || ' ' || format('%I.%I', s.nspname, c.relname) AS object,
           r.role, p.privilege,
           CASE WHEN c.relkind = 'S' THEN has_sequence_privilege(r.role, c.oid, p.privilege)
                ELSE has_table_privilege(r.role, c.oid, p.privilege)
                     OR (p.privilege IN ('SELECT', 'INSERT', 'UPDATE', 'REFERENCES')
                         AND has_any_column_privilege(r.role, c.oid, p.privilege)) END AS held,
           c.relkind::text AS kind
      FROM pg_class c JOIN schemas s ON s.oid = c.relnamespace CROSS JOIN roles r
     CROSS JOIN LATERAL unnest(CASE WHEN c.relkind = 'S' THEN ARRAY['USAGE', 'SELECT', 'UPDATE']
                                    WHEN current_setting('server_version_num')::int >= 170000
                                    THEN ARRAY{list(_TABLE_PRIVILEGES)!r} || 'MAINTAIN'::text
                                    ELSE ARRAY{list(_TABLE_PRIVILEGES)!r} END) AS p(privilege)
     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
    UNION ALL
    -- functions, procedures, aggregates, trigger functions
    SELECT 'routine ' || format('%I.%I(%s)', s.nspname, f.proname, pg_get_function_identity_arguments(f.oid)),
           r.role, 'EXECUTE', has_function_privilege(r.role, f.oid, 'EXECUTE'), 'routine:' || f.prokind::text
      FROM pg_proc f JOIN schemas s ON s.oid = f.pronamespace CROSS JOIN roles r
    UNION ALL
    -- user types (enums, domains, composite, range); array, multirange and table row types have no
    -- privileges of their own
    SELECT 'type ' || format('%I.%I', s.nspname, t.typname), r.role, 'USAGE',
           has_type_privilege(r.role, t.oid, 'USAGE'), 'type:' || t.typtype::text
      FROM pg_type t JOIN schemas s ON s.oid = t.typnamespace CROSS JOIN roles r
     WHERE t.typtype <> 'm' AND NOT EXISTS (SELECT 1 FROM pg_type e WHERE e.typarray = t.oid)
       AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
    UNION ALL
    SELECT 'schema ' || s.nspname, r.role, p.privilege, has_schema_privilege(r.role, s.oid, p.privilege), 'schema'
      FROM schemas s CROSS JOIN roles r CROSS JOIN unnest(ARRAY['USAGE', 'CREATE']) AS p(privilege)
    UNION ALL
    -- PUBLIC (every role, present and future) must not run mediasync's functions, SECURITY DEFINER
    -- trigger functions included
    SELECT 'routine ' || format('%I.%I(%s)', s.nspname, f.proname, pg_get_function_identity_arguments(f.oid)),
           'PUBLIC', a.privilege_type, true, 'routine:' || f.prokind::text
      FROM pg_proc f JOIN schemas s ON s.oid = f.pronamespace
     CROSS JOIN LATERAL aclexplode(coalesce(f.proacl, acldefault('f', f.proowner))) a
     WHERE a.grantee = 0
)
SELECT object, role, privilege, held, kind FROM privileged ORDER BY object, role, privilege
"""


def api_role_privileges(url: str) -> list[tuple[str, str, str, bool, str]]:
    """(object, role, privilege, held, kind) for every privilege of every object in public and mediasync."""
    with psycopg.connect(url) as conn:
        return conn.execute(_CATALOG_PRIVILEGES).fetchall()


def privilege_violations(url: str) -> list[tuple[str, str, str]]:
    allowed = set(API_ROLE_ALLOW_LIST)
    with psycopg.connect(url) as conn:
        # PostgreSQL 14 and older give PUBLIC CREATE on schema public (Supabase keeps the server's
        # default): the project's schema, not mediasync's to change.
        if conn.execute("""SELECT EXISTS (SELECT 1 FROM pg_namespace n, aclexplode(n.nspacl) a WHERE n.nspname = 'public'
                                          AND a.grantee = 0 AND a.privilege_type = 'CREATE')""").fetchone()[0]:
            allowed |= {(role, "schema public", "CREATE") for role in ("anon", "authenticated")}
    return [(obj, role, priv) for obj, role, priv, held, _ in api_role_privileges(url)
            if held and (role, obj, priv) not in allowed]


def test_api_roles_hold_only_the_allow_list(supabase_like_database):
    upgrade(Database(supabase_like_database))
    checked = api_role_privileges(supabase_like_database)
    kinds = {kind.split(":")[0] for *_, kind in checked}
    assert {"r", "S", "routine", "schema"} <= kinds, kinds  # the check does see every kind that exists
    assert {obj for obj, *_ in checked} >= {
        "table public.cloudinary_cleanup_queue", "sequence public.cloudinary_cleanup_queue_id_seq",
        "sequence public.media_usage_id_seq", "sequence mediasync.reconciliation_runs_id_seq",
        "routine mediasync.enqueue_deleted_media()", "routine mediasync.notify_media_changes()",
        "routine mediasync.touch_media_file()", "routine mediasync.max_attempts()",
        "routine mediasync.delete_reason(fallback text)", "schema mediasync",
    }
    assert privilege_violations(supabase_like_database) == []
    held = {(role, obj, priv) for obj, role, priv, ok, _ in checked if ok and obj != "schema public"}
    assert held == {entry for entry in API_ROLE_ALLOW_LIST if entry[1] != "schema public"}  # the reads are there

    with psycopg.connect(supabase_like_database) as conn:
        full = ",".join(_TABLE_PRIVILEGES)
        for table in ("public.media_files", "public.media_tags", "public.media_usage", "public.cloudinary_cleanup_queue",
                      "mediasync.reconciliation_runs", "mediasync.schema_migrations"):
            assert conn.execute("SELECT has_table_privilege('service_role', %s, %s)", (table, full)).fetchone()[0], table
        assert conn.execute("SELECT has_schema_privilege('service_role', 'mediasync', 'USAGE')").fetchone()[0]
        assert conn.execute(
            "SELECT has_function_privilege('service_role', 'mediasync.max_attempts()', 'EXECUTE')").fetchone()[0]
        for control in ("mediasync.api_role_privileges", "mediasync.public_objects"):  # steer the hardening
            assert conn.execute("SELECT has_table_privilege('service_role', %s, 'SELECT')", (control,)).fetchone()[0]
            assert not conn.execute("SELECT has_table_privilege('service_role', %s, 'INSERT,UPDATE,DELETE,TRUNCATE')",
                                    (control,)).fetchone()[0]
        assert conn.execute("SELECT relreplident FROM pg_class WHERE oid = 'public.media_files'::regclass").fetchone()[0] == "f"


def test_catalog_check_fails_on_an_object_left_with_supabase_defaults(supabase_like_database):
    """The check above is not vacuous: objects made in public outside mediasync's migrations keep
    Supabase's default grants, and the check names them (and the hardening leaves them alone:
    they are the project's, not mediasync's)."""
    upgrade(Database(supabase_like_database))
    with psycopg.connect(supabase_like_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.app_notes (id bigint GENERATED ALWAYS AS IDENTITY, body text)")
        conn.execute("CREATE FUNCTION public.app_hello() RETURNS text LANGUAGE sql AS $$ SELECT 'hi' $$")
    found = set(privilege_violations(supabase_like_database))
    assert ("table public.app_notes", "anon", "DELETE") in found
    assert ("sequence public.app_notes_id_seq", "anon", "UPDATE") in found
    assert ("routine public.app_hello()", "anon", "EXECUTE") in found
    upgrade(Database(supabase_like_database))
    assert ("table public.app_notes", "anon", "DELETE") in set(privilege_violations(supabase_like_database))


def test_objects_of_a_later_migration_are_hardened(supabase_like_database, tmp_path: Path):
    """A future migration creating every kind of object, in public and in mediasync, with no GRANT
    or REVOKE of its own, ends up with nothing for the API roles: the mechanism, not a list."""
    for migration in discover():
        shutil.copy(migration.path, tmp_path / migration.path.name)
    (tmp_path / "900_more_objects.sql").write_text("""
        CREATE TYPE public.media_kind AS ENUM ('photo', 'clip');
        CREATE DOMAIN public.positive_int AS integer CHECK (VALUE > 0);
        CREATE TYPE public.size_pair AS (width integer, height integer);
        CREATE TYPE public.int_span AS RANGE (subtype = integer);
        CREATE TABLE public.media_albums (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                                          kind public.media_kind, size public.size_pair, n public.positive_int);
        CREATE TABLE public.media_events (id serial, at timestamptz, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
        CREATE SEQUENCE public.media_ticket_seq;
        CREATE VIEW public.media_queue_view AS SELECT * FROM public.cloudinary_cleanup_queue;
        CREATE MATERIALIZED VIEW public.media_counts AS SELECT status, count(*) FROM public.media_files GROUP BY status;
        CREATE FUNCTION public.media_purge_queue() RETURNS void LANGUAGE sql SECURITY DEFINER
            AS $$ DELETE FROM public.cloudinary_cleanup_queue $$;
        CREATE PROCEDURE public.media_reset() LANGUAGE sql AS $$ TRUNCATE public.cloudinary_cleanup_queue $$;
        CREATE AGGREGATE public.media_total(bigint) (sfunc = int8pl, stype = bigint);
        CREATE TABLE mediasync.notes (id bigserial PRIMARY KEY);
        CREATE FUNCTION mediasync.helper() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;
        CREATE TYPE mediasync.outcome AS ENUM ('ok', 'failed');
    """)
    db = Database(supabase_like_database)
    assert upgrade(db, tmp_path)[-1] == "900_more_objects"
    checked = {obj for obj, *_ in api_role_privileges(supabase_like_database)}
    assert {"table public.media_albums", "table public.media_events", "sequence public.media_events_id_seq",
            "sequence public.media_albums_id_seq", "sequence public.media_ticket_seq", "table public.media_queue_view",
            "table public.media_counts", "routine public.media_purge_queue()", "routine public.media_reset()",
            "routine public.media_total(bigint)", "type public.media_kind", "type public.positive_int",
            "type public.size_pair", "type public.int_span", "table mediasync.notes",
            "sequence mediasync.notes_id_seq", "routine mediasync.helper()", "type mediasync.outcome"} <= checked
    assert privilege_violations(supabase_like_database) == []
    with psycopg.connect(supabase_like_database, autocommit=True) as conn:
        assert conn.execute("SELECT relrowsecurity FROM pg_class WHERE oid = 'public.media_albums'::regclass").fetchone()[0]
        assert conn.execute("SELECT has_table_privilege('service_role', 'public.media_albums', 'INSERT')").fetchone()[0]
        conn.execute("SET ROLE anon")
        for statement in ("SELECT * FROM media_queue_view", "SELECT media_purge_queue()", "CALL media_reset()",
                          "SELECT nextval('media_ticket_seq')", "SELECT * FROM media_counts"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
    assert upgrade(db, tmp_path) == []


def test_anon_cannot_reach_functions_sequences_or_the_queue(supabase_like_database):
    upgrade(Database(supabase_like_database))
    with psycopg.connect(supabase_like_database, autocommit=True) as conn:
        conn.execute("INSERT INTO media_files (public_id) VALUES ('main-uploads/a')")
        for role in ("anon", "authenticated"):
            for function in ("mediasync.enqueue_deleted_media()", "mediasync.notify_media_changes()",
                             "mediasync.touch_media_file()", "mediasync.max_attempts()", "mediasync.delete_reason(text)"):
                assert not conn.execute("SELECT has_function_privilege(%s, %s, 'EXECUTE')", (role, function)).fetchone()[0]
            conn.execute(f"SET ROLE {role}")
            for statement in (
                "SELECT mediasync.max_attempts()",
                "SELECT mediasync.delete_reason('db_delete')",
                "SELECT mediasync.enqueue_deleted_media()",
                "SELECT nextval('public.cloudinary_cleanup_queue_id_seq')",
                "SELECT setval('public.cloudinary_cleanup_queue_id_seq', 1)",
                "SELECT last_value FROM public.cloudinary_cleanup_queue_id_seq",
                "SELECT nextval('public.media_usage_id_seq')",
                "SELECT * FROM public.cloudinary_cleanup_queue",
                "INSERT INTO public.cloudinary_cleanup_queue (public_id, reason) VALUES ('x', 'db_delete')",
                "SELECT * FROM mediasync.schema_migrations",
                "SELECT * FROM mediasync.reconciliation_runs",
                "SELECT * FROM mediasync.api_role_privileges",
                "SELECT mediasync.harden_api_privileges()",
                "UPDATE public.media_files SET status = 'deleted'",
                "INSERT INTO public.media_tags (media_file_id, tag) SELECT id, 't' FROM public.media_files",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement)
            conn.execute("RESET ROLE")
        # Not only the schema stands in the way: with USAGE on mediasync, the functions still refuse.
        conn.execute("BEGIN")
        conn.execute("GRANT USAGE ON SCHEMA mediasync TO anon")
        conn.execute("SET LOCAL ROLE anon")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for function"):
            conn.execute("SELECT mediasync.max_attempts()")
        conn.execute("ROLLBACK")
        # The triggers still fire for a role that holds no EXECUTE on them (triggers are not
        # privilege-checked when they fire): service_role's delete is queued and numbered.
        conn.execute("REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA mediasync FROM service_role")
        conn.execute("SET ROLE service_role")
        conn.execute("DELETE FROM media_files")
        assert conn.execute("SELECT public_id, reason FROM cloudinary_cleanup_queue").fetchall() == [
            ("main-uploads/a", "db_delete")]
        conn.execute("RESET ROLE")


def test_rerunning_the_upgrade_is_a_no_op_and_repairs_drift(supabase_like_database):
    db = Database(supabase_like_database)
    upgrade(db)
    snapshot = """
        SELECT 'c', oid::int8, xmin::text FROM pg_class WHERE relnamespace IN ('public'::regnamespace, 'mediasync'::regnamespace)
        UNION ALL SELECT 'p', oid::int8, xmin::text FROM pg_proc WHERE pronamespace IN ('public'::regnamespace, 'mediasync'::regnamespace)
        UNION ALL SELECT 't', oid::int8, xmin::text FROM pg_type WHERE typnamespace IN ('public'::regnamespace, 'mediasync'::regnamespace)
        UNION ALL SELECT 'n', oid::int8, xmin::text FROM pg_namespace WHERE nspname IN ('public', 'mediasync')
        UNION ALL SELECT 'd', oid::int8, xmin::text FROM pg_default_acl ORDER BY 1, 2"""
    with psycopg.connect(supabase_like_database, autocommit=True) as conn:
        before = conn.execute(snapshot).fetchall()
        assert upgrade(db) == []
        assert conn.execute(snapshot).fetchall() == before  # not one catalog row rewritten
        assert conn.execute("SELECT mediasync.harden_api_privileges()").fetchone()[0] == 0
        assert privilege_violations(supabase_like_database) == []

        # Grants made by hand since are taken back by the next upgrade.
        conn.execute("GRANT ALL ON public.cloudinary_cleanup_queue, public.media_tags TO anon")
        conn.execute("GRANT SELECT (public_id) ON public.cloudinary_cleanup_queue TO authenticated")
        conn.execute("GRANT ALL ON SEQUENCE public.cloudinary_cleanup_queue_id_seq TO anon")
        conn.execute("GRANT USAGE ON SCHEMA mediasync TO anon")
        conn.execute("GRANT EXECUTE ON FUNCTION mediasync.max_attempts() TO PUBLIC")
        conn.execute("GRANT UPDATE ON public.media_usage TO anon WITH GRANT OPTION")
        conn.execute("SET ROLE anon")
        conn.execute("GRANT UPDATE ON public.media_usage TO authenticated")  # passed on: must go too
        conn.execute("RESET ROLE")
        conn.execute("GRANT ALL ON mediasync.api_role_privileges TO service_role")
        assert len(privilege_violations(supabase_like_database)) > 5
        assert upgrade(db) == []
        assert privilege_violations(supabase_like_database) == []
        assert not conn.execute(
            "SELECT has_table_privilege('service_role', 'mediasync.api_role_privileges', 'INSERT')").fetchone()[0]


def test_an_existing_005_database_is_hardened_by_the_upgrade(supabase_like_database, tmp_path: Path):
    """A database upgraded to 005 before this fix (Supabase defaults on its sequences, EXECUTE for
    PUBLIC on the trigger functions) is fixed by the next `db upgrade`."""
    for migration in discover():
        if migration.version <= "005":
            shutil.copy(migration.path, tmp_path / migration.path.name)
    db = Database(supabase_like_database)
    upgrade(db, tmp_path)
    found = set(privilege_violations(supabase_like_database))
    assert ("sequence public.cloudinary_cleanup_queue_id_seq", "anon", "UPDATE") in found  # the bug
    assert ("routine mediasync.enqueue_deleted_media()", "PUBLIC", "EXECUTE") in found
    assert [name.split("_")[0] for name in upgrade(db)] == [m.version for m in discover() if m.version > "005"]
    assert privilege_violations(supabase_like_database) == []


def test_plain_postgres_upgrades_hardened(empty_database_url):
    """No Supabase roles: the same migrations apply, PUBLIC loses EXECUTE on mediasync's functions,
    and a second upgrade changes nothing."""
    db = Database(empty_database_url)
    upgrade(db)
    with psycopg.connect(empty_database_url) as conn:
        public_execute = conn.execute("""
            SELECT p.oid::regprocedure::text FROM pg_proc p
             CROSS JOIN LATERAL aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
             WHERE p.pronamespace = 'mediasync'::regnamespace AND a.grantee = 0""").fetchall()
        assert public_execute == []
        assert conn.execute("SELECT mediasync.harden_api_privileges()").fetchone()[0] == 0
    assert upgrade(db) == []
