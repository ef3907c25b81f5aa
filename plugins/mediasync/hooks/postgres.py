"""PostgreSQL connections for mediasync (psycopg 3).

Resolution order for the DSN: an explicit URL, then the Airflow connection `mediasync_db` when one
is defined, then `MEDIASYNC_DATABASE_URL` / `SUPABASE_DB_URL`. Every connection is opened with
`prepare_threshold=None` so Supabase's transaction pooler (port 6543) works for plain queries;
LISTEN, COPY and advisory locks need a direct or session-pooler DSN.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import quote

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from mediasync.config import DATABASE_URL_VARS, first_env
from mediasync.errors import ConfigError, DatabaseUnavailable

log = logging.getLogger(__name__)

DEFAULT_CONN_ID = "mediasync_db"
CONNECT_TIMEOUT_S = 10


def _airflow_connection_uri(conn_id: str) -> str | None:
    """The Airflow connection's URI as a libpq DSN, or None when Airflow has no such connection."""
    if os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}") is None and "airflow" not in sys.modules:
        return None  # outside Airflow and not configured through its env var: don't import Airflow
    try:
        from airflow.sdk import BaseHook  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - Airflow < 3 layout
        try:
            from airflow.hooks.base import BaseHook  # type: ignore[no-redef]
        except ImportError:
            return None
    try:
        conn = BaseHook.get_connection(conn_id)
    except Exception:  # noqa: BLE001 - "not defined" is reported differently across Airflow versions
        return None
    return _dsn_from_connection(conn)


def _dsn_from_connection(conn) -> str:
    """A libpq URI from an Airflow connection. A Unix-socket URI (`postgresql://u@/db?host=/dir`)
    arrives with the socket directory and port in the extras; both forms work."""
    extra = conn.extra_dejson or {}
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


_LIBPQ_KEYS = {"sslmode", "sslrootcert", "sslcert", "sslkey", "application_name", "options", "connect_timeout",
               "target_session_attrs"}


def resolve_database_url(url: str | None = None, conn_id: str = DEFAULT_CONN_ID) -> str:
    """The DSN to use, failing with one line naming the settings when there is none."""
    resolved = url or _airflow_connection_uri(conn_id) or first_env(os.environ, DATABASE_URL_VARS)
    if not resolved:
        raise ConfigError(
            f"no database configured: set MEDIASYNC_DATABASE_URL (or SUPABASE_DB_URL, "
            f"or the Airflow connection '{conn_id}')"
        )
    return resolved


def _redact(dsn: str) -> str:
    """The DSN without its password, for messages."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "<unparseable DSN>"
    host = info.get("host", "localhost")
    return f"{info.get('user', '')}@{host}:{info.get('port', 5432)}/{info.get('dbname', '')}"


@dataclass(frozen=True)
class Database:
    """A DSN plus the session settings mediasync needs; hands out psycopg connections."""

    url: str
    max_attempts: int | None = None
    application_name: str = "mediasync"

    @classmethod
    def from_environment(cls, url: str | None = None, conn_id: str = DEFAULT_CONN_ID) -> Database:
        from mediasync.config import Settings

        return cls(resolve_database_url(url, conn_id), max_attempts=Settings.from_env().max_attempts)

    def _connect_kwargs(self) -> dict:
        options = []
        if self.max_attempts is not None:
            options.append(f"-c mediasync.max_attempts={int(self.max_attempts)}")
        kwargs: dict = {"prepare_threshold": None, "row_factory": dict_row,
                        "application_name": self.application_name}
        if "connect_timeout" not in self.url:
            kwargs["connect_timeout"] = CONNECT_TIMEOUT_S
        if options:
            kwargs["options"] = " ".join(options)
        return kwargs

    def connect(self, autocommit: bool = False) -> psycopg.Connection:
        """A new connection; the caller closes it. Connection failures become `DatabaseUnavailable`."""
        try:
            return psycopg.connect(self.url, autocommit=autocommit, **self._connect_kwargs())
        except psycopg.ProgrammingError as exc:  # malformed DSN
            raise ConfigError(f"database URL is malformed: {exc}".strip()) from None
        except psycopg.OperationalError as exc:
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise DatabaseUnavailable(f"cannot connect to PostgreSQL at {_redact(self.url)}: {reason}") from None

    @contextmanager
    def _transaction_connection(self) -> Iterator[psycopg.Connection]:
        """The connection a transaction runs on: a fresh one, closed afterwards."""
        with self.connect() as conn:
            yield conn

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection]:
        """One transaction: committed on success, rolled back on error."""
        with self._transaction_connection() as conn, conn.transaction():
            yield conn

    @contextmanager
    def session(self) -> Iterator[psycopg.Connection]:
        """An autocommit connection, for work that manages its own transactions."""
        with self.connect(autocommit=True) as conn:
            yield conn


@dataclass(frozen=True)
class PooledDatabase(Database):
    """A `Database` whose transactions borrow connections from a bounded pool.

    For long-lived processes (the plugin's API): a new connection costs a TCP + TLS + auth round
    trip per request (tens of milliseconds to Supabase) and an unbounded number of them can
    exhaust the server's connection limit. Connections are checked before reuse, so a restarted
    server costs no failed request. Autocommit sessions (LISTEN, advisory locks, COPY) stay direct.
    """

    max_size: int = 10
    wait_seconds: float = CONNECT_TIMEOUT_S  # for a free pooled connection before connecting directly
    _pool_state: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    _pool_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def _pool(self) -> ConnectionPool:
        with self._pool_lock:
            if "pool" not in self._pool_state:
                self.connect().close()  # a bad DSN or an unreachable server fails the first call with its reason
                self._pool_state["pool"] = ConnectionPool(
                    self.url, kwargs=self._connect_kwargs(), min_size=1, max_size=self.max_size,
                    timeout=self.wait_seconds, check=ConnectionPool.check_connection,
                    name=self.application_name, open=True)
            return self._pool_state["pool"]

    def _pooled_connection(self, pool: ConnectionPool) -> psycopg.Connection | None:
        """A pooled connection, or None to connect directly. Once the pool could not deliver one
        in time, transactions connect directly until it can again: while the server is down they
        fail at once with its reason instead of each waiting out the pool's timeout."""
        if self._pool_state.get("degraded") and pool.get_stats().get("pool_available", 0) == 0:
            return None
        try:
            conn = pool.getconn()
        except PoolTimeout:  # server down (connect raises its reason) or every connection busy
            self._pool_state["degraded"] = True
            return None
        self._pool_state.pop("degraded", None)
        return conn

    @contextmanager
    def _transaction_connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection, given back afterwards; a direct one when the pool has none."""
        pool = self._pool()
        conn = self._pooled_connection(pool)
        if conn is None:
            with self.connect() as direct:
                yield direct
            return
        try:
            yield conn
        finally:
            pool.putconn(conn)

    def close(self) -> None:
        with self._pool_lock:
            pool = self._pool_state.pop("pool", None)
        if pool is not None:
            pool.close()
