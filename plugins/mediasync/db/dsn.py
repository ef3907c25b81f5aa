"""Where the database DSN comes from, and how it may be shown to people.

A DSN carries a password, so nothing outside this module prints one: `redact_dsn` keeps host,
port, database and user only, and `scrub` removes the password from any text (driver messages
echo malformed DSNs verbatim). Both parse defensively — a password with `%`, `/` or `@` that was
not percent-encoded must not slip through because a URL parser gave up on it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import quote, unquote

import psycopg
from psycopg.conninfo import conninfo_to_dict

from mediasync.config import DATABASE_URL_VARS, first_env
from mediasync.errors import ConfigError

_LIBPQ_KEYS = {"sslmode", "sslrootcert", "sslcert", "sslkey", "application_name", "options", "connect_timeout",
               "target_session_attrs"}
FORM_EXTRA_PREFIX = "extra__mediasync_postgres__"
_URI = re.compile(r"^\s*(postgres(?:ql)?)://(?P<rest>.*)$", re.DOTALL)
_KEYWORD = re.compile(r"(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S*)")


class AirflowConnection(Protocol):
    """The fields of an Airflow Connection that a Postgres DSN is built from."""

    login: str | None
    password: str | None
    host: str | None
    port: int | None
    schema: str | None

    @property
    def extra_dejson(self) -> dict[str, Any]: ...


def database_url_from_env(env: Mapping[str, str] | None = None) -> str:
    """MEDIASYNC_DATABASE_URL, else SUPABASE_DB_URL; one line naming them when neither is set."""
    url = first_env(os.environ if env is None else env, DATABASE_URL_VARS)
    if not url:
        raise ConfigError("no database configured: set MEDIASYNC_DATABASE_URL (or SUPABASE_DB_URL, "
                          "or the Airflow connection 'mediasync_db')")
    return url


def dsn_from_airflow_connection(conn: AirflowConnection) -> str:
    """A libpq URI from an Airflow connection (type `postgres` or `mediasync_postgres`). A
    Unix-socket URI (`postgresql://u@/db?host=/dir`) arrives with the socket directory and port in
    the extras; both forms work."""
    # The `mediasync_postgres` form stores its fields as `extra__mediasync_postgres__<name>`.
    extra = {k.removeprefix(FORM_EXTRA_PREFIX): v for k, v in (conn.extra_dejson or {}).items() if v not in (None, "")}
    user = quote(conn.login or "", safe="")
    password = quote(conn.password or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = conn.host or str(extra.get("host", ""))
    port = conn.port or extra.get("port")
    database = conn.schema or "postgres"
    query = "&".join(f"{k}={quote(str(v), safe='/')}" for k, v in extra.items() if k in _LIBPQ_KEYS)
    if host.startswith("/"):  # Unix socket directory
        params = [f"host={quote(host, safe='/')}"] + ([f"port={port}"] if port else []) + ([query] if query else [])
        return f"postgresql://{auth}/{database}?{'&'.join(params)}"
    return f"postgresql://{auth}{host}{f':{port}' if port else ''}/{database}" + (f"?{query}" if query else "")


def airflow_connection_fields(dsn: str) -> dict[str, Any]:
    """The fields of an Airflow `postgres` connection for `dsn` (the inverse of
    `dsn_from_airflow_connection`), as `airflow connections add --conn-json` and the Connection
    model take them. A Unix-socket directory stays in the host field (a URI like
    `postgresql://u@/db?host=/run/postgresql` would put it in the extras and leave the form's host
    empty); other libpq parameters (sslmode, ...) go to the extras."""
    try:
        info = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        raise ConfigError(f"the database URL is malformed: {scrub(str(exc), dsn)}") from None
    extra = {k: v for k, v in info.items() if k not in ("host", "user", "password", "dbname", "port")}
    port = str(info.get("port") or 5432)
    if not port.isdigit():
        raise ConfigError("an Airflow connection holds one host and port; give the database URL a single host")
    return {"conn_type": "postgres", "host": info.get("host") or "localhost", "login": info.get("user"),
            "password": info.get("password"), "schema": info.get("dbname") or "postgres", "port": int(port),
            "extra": json.dumps(extra) if extra else None}


def _parts(dsn: str) -> dict[str, str]:
    """user, password, host, port, dbname as written — without trusting a URL parser."""
    match = _URI.match(dsn)
    if not match:
        parts = {k: v.strip("'") for k, v in _KEYWORD.findall(dsn)}
        return {"user": parts.get("user", ""), "password": parts.get("password", ""),
                "host": parts.get("host", ""), "port": parts.get("port", ""), "dbname": parts.get("dbname", "")}
    rest = match.group("rest")
    # The password may hold '@', '/', '?' or '%' unencoded: the host part starts after the LAST '@'
    # (erring towards treating more as credentials, never less).
    userinfo, _, location = rest.rpartition("@")
    user, _, password = userinfo.partition(":")
    location, _, query = location.partition("?")
    hostport, _, dbname = location.partition("/")
    host, _, port = hostport.rpartition(":") if hostport.count(":") == 1 else (hostport, "", "")
    params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
    return {"user": unquote(user), "password": password, "host": unquote(host or params.get("host", "")),
            "port": port or params.get("port", ""), "dbname": unquote(dbname) or params.get("dbname", "")}


def redact_dsn(dsn: str) -> str:
    """`user@host:port/dbname` — never the password, whatever characters it holds."""
    p = _parts(dsn)
    return f"{p['user']}@{p['host'] or 'localhost'}:{p['port'] or 5432}/{p['dbname']}"


_CUTS = frozenset("/@:?#&=%;' ")  # where a parser may split a malformed DSN
MIN_PIECE = 3  # shorter pieces say nothing about a password; replacing them would garble messages


def _pieces(secret: str) -> set[str]:
    """The secret and every piece of it between cut characters: what a parser that gave up on a
    malformed DSN may echo ("invalid percent-encoded token: \"S3cr%t\"")."""
    cuts = [i for i, c in enumerate(secret) if c in _CUTS]
    starts = {0, *cuts, *(i + 1 for i in cuts)}
    ends = {len(secret), *cuts, *(i + 1 for i in cuts)}
    return {secret[a:b] for a in starts for b in ends if b - a >= MIN_PIECE}


def scrub(text: str, dsn: str) -> str:
    """`text` with the DSN, its password (as written and decoded) and every piece of the password
    a parser may have cut out replaced by `***`."""
    password = _parts(dsn)["password"]
    secrets = {dsn.strip()}
    for form in {password, unquote(password), quote(unquote(password), safe="")}:
        if form:
            secrets |= _pieces(form) | {form}
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
