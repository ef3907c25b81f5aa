"""Apply sql/NNN_*.sql in order, once each, recorded in mediasync.schema_migrations.

Safe to run concurrently: a session advisory lock serialises upgraders, so the second one waits,
then finds nothing pending. Each migration runs in its own transaction with its bookkeeping row,
so a failure leaves the database at the previous version, never half-migrated.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path

from mediasync.db import Connection, Database
from mediasync.db.queries import sql_root
from mediasync.errors import MediasyncError, MigrationError

log = logging.getLogger(__name__)

_FILE = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")

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


def upgrade(db: Database, directory: Path | Traversable | None = None) -> list[str]:
    """Apply pending migrations; returns the applied `NNN_name`s (empty when up to date)."""
    migrations = discover(directory)
    applied: list[str] = []
    with db.session() as conn:
        conn.execute("migrations.lock")
        try:
            conn.script(_BOOTSTRAP)
            for migration in pending(conn, migrations):
                _apply(conn, migration)
                applied.append(f"{migration.version}_{migration.name}")
        finally:
            if not conn.broken:
                conn.execute("migrations.unlock")
    return applied


def _apply(conn: Connection, migration: Migration) -> None:
    log.info("applying migration %s_%s", migration.version, migration.name)
    try:
        with conn.transaction():
            conn.script(migration.sql)
            conn.execute("migrations.record", {"version": migration.version, "name": migration.name,
                                               "checksum": migration.checksum})
    except MigrationError:
        raise
    except MediasyncError as exc:
        raise MigrationError(f"migration {migration.version}_{migration.name}.sql failed: "
                             f"{exc.reason or exc}") from None
