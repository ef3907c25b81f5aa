"""Apply sql/NNN_*.sql in order, once each, recorded in mediasync.schema_migrations.

Safe to run concurrently: a session advisory lock serialises upgraders, so the second one waits,
then finds nothing pending. Each migration runs in its own transaction with its bookkeeping row,
so a failure leaves the database at the previous version, never half-migrated.

Privileges (from 006 on): whatever a migration creates in schema public is registered in
mediasync.public_objects, and mediasync.harden_api_privileges() runs inside every migration's
transaction and once more at the end of every upgrade, so no object mediasync owns keeps the grants
Supabase's default privileges (or PostgreSQL's PUBLIC defaults) give the API roles. The hardening
issues statements only where the catalogs differ from the target: on an up-to-date database it
changes nothing.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path

import psycopg

from mediasync.errors import MigrationError
from mediasync.hooks.postgres import Database
from mediasync.db.queries import sql_root

log = logging.getLogger(__name__)

MIGRATION_LOCK_KEY = 7_261_520_001  # arbitrary, constant: "mediasync migrations"
_FILE = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")

_HARDEN = "mediasync.harden_api_privileges()"
_PUBLIC_OBJECTS = "SELECT identity, kind FROM mediasync.schema_objects(ARRAY['public']::name[]) WHERE kind <> 'schema'"

_BOOTSTRAP = """
CREATE SCHEMA IF NOT EXISTS mediasync;
CREATE TABLE IF NOT EXISTS mediasync.schema_migrations (
    version    text PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
"""


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path | Traversable

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def discover(directory: Path | Traversable | None = None) -> list[Migration]:
    """The migrations shipped in the package's sql/ (or `directory`), ordered by version;
    duplicate versions are an error."""
    directory = directory or sql_root()
    found: dict[str, Migration] = {}
    for path in sorted(directory.iterdir(), key=lambda p: p.name):
        match = _FILE.match(path.name)
        if not match:
            continue
        version, name = match.groups()
        if version in found:
            raise MigrationError(f"two migrations share version {version}: {found[version].path.name}, {path.name}")
        found[version] = Migration(version, name, path)
    return [found[v] for v in sorted(found)]


def applied_versions(conn: psycopg.Connection) -> dict[str, str]:
    """version -> checksum of every applied migration (empty before the first upgrade)."""
    exists = conn.execute("SELECT to_regclass('mediasync.schema_migrations') AS t").fetchone()
    if not exists or exists["t"] is None:
        return {}
    return {r["version"]: r["checksum"] for r in conn.execute("SELECT version, checksum FROM mediasync.schema_migrations")}


def pending(conn: psycopg.Connection, migrations: list[Migration]) -> list[Migration]:
    """Migrations not yet applied; an applied one whose file changed is an error."""
    done = applied_versions(conn)
    for m in migrations:
        if m.version in done and done[m.version] != m.checksum:
            raise MigrationError(
                f"migration {m.version}_{m.name}.sql changed after it was applied; add a new migration instead"
            )
    return [m for m in migrations if m.version not in done]


def upgrade(db: Database, directory: Path | Traversable | None = None) -> list[str]:
    """Apply pending migrations; returns the applied `NNN_name`s (empty when up to date)."""
    migrations = discover(directory)
    applied: list[str] = []
    with db.session() as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        try:
            conn.execute(_BOOTSTRAP)
            for migration in pending(conn, migrations):
                _apply(conn, migration)
                applied.append(f"{migration.version}_{migration.name}")
            _harden_at_end(conn)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
    return applied


def _exists(conn: psycopg.Connection, function: str) -> bool:
    return conn.execute("SELECT to_regprocedure(%s) IS NOT NULL AS present", (function,)).fetchone()["present"]


def harden(conn: psycopg.Connection) -> int:
    """Run the privilege hardening (a no-op before 006 exists); returns the statements it issued."""
    if not _exists(conn, _HARDEN):
        return 0
    statements = conn.execute(f"SELECT {_HARDEN} AS statements").fetchone()["statements"]
    if statements:
        log.info("privilege hardening issued %d GRANT/REVOKE statements", statements)
    return statements


def _public_objects(conn: psycopg.Connection) -> dict[str, str] | None:
    """identity -> kind of every privilege-bearing object in public (None before 006 exists)."""
    if not _exists(conn, "mediasync.schema_objects(name[])"):
        return None
    return {r["identity"]: r["kind"] for r in conn.execute(_PUBLIC_OBJECTS)}


def _harden_at_end(conn: psycopg.Connection) -> None:
    """Every upgrade ends hardened, even with nothing pending (repairs grants made by hand since)."""
    try:
        with conn.transaction():
            harden(conn)
    except psycopg.Error as exc:
        detail = (exc.diag.message_primary or str(exc)).strip()
        raise MigrationError(f"privilege hardening failed: {detail}") from None


def _apply(conn: psycopg.Connection, migration: Migration) -> None:
    log.info("applying migration %s_%s", migration.version, migration.name)
    try:
        with conn.transaction():
            before = _public_objects(conn)
            conn.execute(migration.sql)
            if before is not None:
                # What this migration created in public is mediasync's: the hardening covers it.
                created = {k: v for k, v in (_public_objects(conn) or {}).items() if k not in before}
                for identity, kind in created.items():
                    conn.execute(
                        "INSERT INTO mediasync.public_objects (identity, kind, migration) VALUES (%s, %s, %s)"
                        " ON CONFLICT (identity) DO NOTHING",
                        (identity, kind, f"{migration.version}_{migration.name}"),
                    )
            conn.execute(
                "INSERT INTO mediasync.schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                (migration.version, migration.name, migration.checksum),
            )
            harden(conn)
    except psycopg.Error as exc:
        detail = (exc.diag.message_primary or str(exc)).strip()
        raise MigrationError(f"migration {migration.version}_{migration.name}.sql failed: {detail}") from None
