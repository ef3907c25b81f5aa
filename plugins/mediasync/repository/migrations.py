"""Apply sql/NNN_*.sql in order, once each, recorded in mediasync.schema_migrations; then
re-apply each sql/repeatable/R__<name>.sql whose checksum changed, recorded in
mediasync.schema_repeatables (as Flyway's repeatable migrations).

Numbered migrations hold tables and data: history, never edited. Repeatable files hold the current
definition of every function and trigger (and what is built on them): the schema as it is today,
readable in one place. The changed ones run after the numbered migrations, in name order, in one
transaction with their bookkeeping rows, inside the same migration lock; an unchanged file is skipped.

Safe to run concurrently, through any connection: an advisory lock serialises upgraders, so the
second one waits, then finds nothing pending. The lock is transaction-scoped and held by a lock
transaction on a connection of its own (`mediasync.db.locks`) while the migrations run on
another, so it holds through Supabase's transaction pooler too, where a session lock would stay
on whichever server ran it. Each migration runs in its own transaction with its bookkeeping row,
so a failure leaves the database at the previous version, never half-migrated; a lost lock
connection stops the upgrade before the next migration.

Privileges (from 008 on): whatever a migration creates in schema public is registered in
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
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path

from mediasync.db import Connection, Database, held_lock
from mediasync.db.queries import sql_root
from mediasync.errors import MediasyncError, MigrationError
from mediasync.repository.runtime_settings import RuntimeSettingsRepository

log = logging.getLogger(__name__)

_FILE = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
_REPEATABLE = re.compile(r"^R__([a-z0-9_]+)\.sql$")
REPEATABLE_DIR = "repeatable"
_HARDEN = "mediasync.harden_api_privileges()"
_SCHEMA_OBJECTS = "mediasync.schema_objects(name[])"

_BOOTSTRAP = """
CREATE SCHEMA IF NOT EXISTS mediasync;
CREATE TABLE IF NOT EXISTS mediasync.schema_migrations (
    version    text PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS mediasync.schema_repeatables (
    name       text PRIMARY KEY,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
"""


@dataclass(frozen=True)
class Migration:
    """A numbered migration (`version` NNN), or a repeatable one (`version` "R")."""

    version: str
    name: str
    path: Path | Traversable

    @property
    def label(self) -> str:
        return f"R__{self.name}" if self.repeatable else f"{self.version}_{self.name}"

    @property
    def repeatable(self) -> bool:
        return self.version == "R"

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


def discover_repeatable(directory: Path | Traversable | None = None) -> list[Migration]:
    """The repeatable definitions in sql/repeatable/ (or `directory`/repeatable), in name order."""
    folder = (directory or sql_root()) / REPEATABLE_DIR
    if not folder.is_dir():
        return []
    found = [Migration("R", match.group(1), path) for path in folder.iterdir()
             if (match := _REPEATABLE.match(path.name))]
    return sorted(found, key=lambda m: m.name)


def changed_repeatables(conn: Connection, repeatables: list[Migration]) -> list[Migration]:
    """Repeatables never applied, or whose file changed since they were."""
    done = {r["name"]: r["checksum"] for r in conn.all("migrations.repeatables_applied")}
    return [m for m in repeatables if done.get(m.name) != m.checksum]


def applied_versions(conn: Connection) -> dict[str, str]:
    """version -> checksum of every applied migration (empty before the first upgrade)."""
    if not conn.scalar("migrations.bookkeeping_exists"):
        return {}
    return {r["version"]: r["checksum"] for r in conn.all("migrations.applied")}


def pending(conn: Connection, migrations: list[Migration]) -> list[Migration]:
    """Migrations not yet applied; an applied one whose file changed is an error."""
    done = applied_versions(conn)
    for m in migrations:
        if m.version in done and done[m.version] != m.checksum:
            raise MigrationError(
                f"migration {m.version}_{m.name}.sql changed after it was applied; add a new migration instead"
            )
    return [m for m in migrations if m.version not in done]


@dataclass(frozen=True)
class UpgradeResult:
    migrations: list[str]  # the numbered migrations applied, `NNN_name`
    repeatables: list[str]  # the repeatable definitions (re-)applied, `R__name`


def upgrade(db: Database, directory: Path | Traversable | None = None,
            database_settings: Mapping[str, str] | None = None) -> list[str]:
    """Apply pending migrations and changed repeatables; returns the applied `NNN_name`s (empty
    when up to date). With `database_settings` (`Settings.database_settings()`), publish them for
    the triggers too."""
    return upgrade_all(db, directory, database_settings).migrations


def upgrade_all(db: Database, directory: Path | Traversable | None = None,
                database_settings: Mapping[str, str] | None = None) -> UpgradeResult:
    """`upgrade`, also saying which repeatable definitions it (re-)applied."""
    migrations = discover(directory)
    repeatables = discover_repeatable(directory)
    result = UpgradeResult([], [])
    with held_lock(db, _wait_for_lock, "the migration") as lock, db.session() as conn:
        assert lock is not None  # the migration lock is waited for, never skipped
        conn.script(_BOOTSTRAP)
        for migration in pending(conn, migrations):
            lock.ensure()
            _apply(conn, migration)
            result.migrations.append(migration.label)
        changed = changed_repeatables(conn, repeatables)
        lock.ensure()
        _apply_repeatables(conn, changed)
        result.repeatables.extend(m.label for m in changed)
        lock.ensure()
        _harden_at_end(conn)
        _sync_journals(conn)
        with conn.transaction():
            if db.max_attempts is not None:  # the trigger's copy of MEDIASYNC_MAX_ATTEMPTS
                RuntimeSettingsRepository().publish_max_attempts(conn, db.max_attempts)
            if database_settings:
                RuntimeSettingsRepository().publish(conn, database_settings)
    return result


def _wait_for_lock(conn: Connection) -> bool:
    """Wait for the migration lock (another upgrader holds it until its upgrade ends)."""
    conn.execute("migrations.lock")
    return True


def _sync_journals(conn: Connection) -> None:
    """Give the undo journals any column media_files (or its child tables) gained (from 070 on)."""
    if _exists(conn, "mediasync.sync_deletion_journals()"):
        with conn.transaction():
            added = int(conn.scalar("migrations.sync_deletion_journals") or 0)
        if added:
            log.info("undo journals: %d column(s) added to follow media_files", added)


def _exists(conn: Connection, signature: str) -> bool:
    return bool(conn.scalar("migrations.function_exists", {"signature": signature}))


def harden(conn: Connection) -> int:
    """Run the privilege hardening (a no-op before 008 exists); returns the statements it issued."""
    if not _exists(conn, _HARDEN):
        return 0
    statements = int(conn.scalar("migrations.harden") or 0)
    if statements:
        log.info("privilege hardening issued %d GRANT/REVOKE statements", statements)
    return statements


def _public_objects(conn: Connection) -> dict[str, str] | None:
    """identity -> kind of every privilege-bearing object in public (None before 008 exists)."""
    if not _exists(conn, _SCHEMA_OBJECTS):
        return None
    return {r["identity"]: r["kind"] for r in conn.all("migrations.public_objects")}


def _harden_at_end(conn: Connection) -> None:
    """Every upgrade ends hardened, even with nothing pending (repairs grants made by hand since)."""
    try:
        with conn.transaction():
            harden(conn)
    except MediasyncError as exc:
        raise MigrationError(f"privilege hardening failed: {exc.reason or exc}") from None


def _apply(conn: Connection, migration: Migration) -> None:
    """A numbered migration in its own transaction with its bookkeeping row."""
    with conn.transaction():
        _run(conn, migration)


def _apply_repeatables(conn: Connection, repeatables: list[Migration]) -> None:
    """The changed repeatables in one transaction, in name order: a definition never runs against
    another's old version (a trigger calling a function replaced in a later file), and a failure
    leaves every definition as it was."""
    if repeatables:
        with conn.transaction():
            for repeatable in repeatables:
                _run(conn, repeatable)


def _run(conn: Connection, migration: Migration) -> None:
    log.info("applying %s %s", "repeatable" if migration.repeatable else "migration", migration.label)
    try:
        with conn.transaction():  # a savepoint when inside the repeatables' transaction
            before = _public_objects(conn)
            conn.script(migration.sql)
            if before is not None:
                # What this migration created in public is mediasync's: the hardening covers it.
                for identity, kind in (_public_objects(conn) or {}).items():
                    if identity not in before:
                        conn.execute("migrations.register_public_object", {
                            "identity": identity, "kind": kind, "migration": migration.label})
            if migration.repeatable:
                conn.execute("migrations.record_repeatable", {"name": migration.name, "checksum": migration.checksum})
            else:
                conn.execute("migrations.record", {"version": migration.version, "name": migration.name,
                                                   "checksum": migration.checksum})
            harden(conn)
    except MigrationError:
        raise
    except MediasyncError as exc:
        raise MigrationError(f"{'repeatable' if migration.repeatable else 'migration'} {migration.label}.sql "
                             f"failed: {exc.reason or exc}") from None
