"""Creating a database on a server the caller owns: the dev stack's embedded PostgreSQL starts
with only `postgres`, and `make run` needs a `mediasync` database beside it. CREATE DATABASE cannot
run inside a transaction, so this uses an autocommit session of the db edge."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from psycopg.conninfo import conninfo_to_dict

from mediasync.db.connection import Database
from mediasync.errors import ConfigError

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")  # an identifier that needs no quoting


@dataclass(frozen=True)
class ProvisionedDatabase:
    url: str  # a libpq URI for the database (a Unix socket keeps its directory in `?host=`)
    host: str  # the server's host or socket directory, for people to read


def ensure_database(server_url: str, name: str) -> ProvisionedDatabase:
    """The database `name` on the server `server_url` reaches, created when missing."""
    if not _NAME.match(name):
        raise ConfigError(f"database name {name!r} is not a plain lower-case identifier")
    with Database(server_url).session() as conn:
        if not conn.sql("SELECT 1 FROM pg_database WHERE datname = %(name)s", {"name": name}):
            conn.sql(f"CREATE DATABASE {name}")
    info = conninfo_to_dict(server_url)
    host, port = str(info.get("host") or "localhost"), info.get("port", "5432")
    auth = quote(str(info.get("user", "postgres")), safe="")
    if info.get("password"):
        auth += ":" + quote(str(info["password"]), safe="")
    if host.startswith("/"):
        url = f"postgresql://{auth}@/{name}?host={quote(host, safe='/')}&port={port}"
    else:
        url = f"postgresql://{auth}@{host}:{port}/{name}"
    return ProvisionedDatabase(url=url, host=host)
