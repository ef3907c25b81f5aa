"""The one place that talks to PostgreSQL (model: Procrastinate's connector).

`Database` opens psycopg 3 connections with the session settings mediasync needs and hands them
out as `Connection`s, which run *named* queries (`"queue.claim"`) and map every driver error to
the project's errors. Repositories are its only callers; nothing above them imports psycopg.

Every connection is opened with `prepare_threshold=None`, so Supabase's transaction pooler
(port 6543) works for plain queries and transactions (COPY and server-side cursors included, as
they run inside one). What lives in the session does not: LISTEN asks `pooling.require_session`
first and refuses through a transaction pooler, and mediasync's locks are transaction-scoped,
held by a lock transaction (`locks.py`), so they hold through any pooler.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import JsonbDumper

from mediasync.db.dsn import redact_dsn
from mediasync.db.errors import map_driver_error
from mediasync.db.queries import query
from mediasync.errors import CommitUncertain, DatabaseUnavailable

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10
Row = dict[str, Any]
Params = Mapping[str, Any] | None


def _sql(name: str) -> str:
    group, _, short = name.partition(".")
    return query(group, short)


def _with_columns(name: str, columns: Sequence[str] | None) -> str | sql.Composed:
    """The named query, its `{columns}` filled with `columns` as quoted identifiers: column lists a
    repository declares once in Python (and builds its rows from) instead of spelling in SQL."""
    if columns is None:
        return _sql(name)
    return sql.SQL(_sql(name)).format(columns=sql.SQL(", ").join(sql.Identifier(c) for c in columns))


class Connection:
    """A psycopg connection seen through named queries. Rows are dicts; dict parameters are
    sent as jsonb; any driver error leaves as a `MediasyncError`."""

    def __init__(self, raw: psycopg.Connection[Row], dsn: str) -> None:
        self._raw = raw
        self._dsn = dsn

    @contextmanager
    def _mapped(self) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as exc:
            raise map_driver_error(exc, self._dsn) from exc

    def one(self, name: str, params: Params = None) -> Row | None:
        """The first row of the named query (None when it returns none)."""
        with self._mapped():
            return self._raw.execute(_sql(name), params).fetchone()

    def all(self, name: str, params: Params = None) -> list[Row]:
        with self._mapped():
            return self._raw.execute(_sql(name), params).fetchall()

    def scalar(self, name: str, params: Params = None) -> Any:
        """The first column of the first row (None when there is no row)."""
        row = self.one(name, params)
        return next(iter(row.values())) if row else None

    def execute(self, name: str, params: Params = None, *, columns: Sequence[str] | None = None) -> int:
        """Run the named statement (its `{columns}` filled with `columns`); returns the number of
        rows it affected."""
        with self._mapped():
            return self._raw.execute(_with_columns(name, columns), params).rowcount

    def sql(self, text: str, params: Params = None) -> list[Row]:
        """Ad-hoc SQL with parameters (rows, or [] for statements that return none). Repositories
        use named queries; this is for operators' scripts and tests that arrange a database."""
        with self._mapped():
            cur = self._raw.execute(text, params)
            return cur.fetchall() if cur.description else []

    def script(self, text: str) -> None:
        """Run SQL text that is not a named query: a migration file, the migrations bootstrap."""
        with self._mapped():
            self._raw.execute(text.encode())  # bytes: a script, not a statement with placeholders

    def copy_rows(self, name: str, rows: Iterable[Sequence[Any]], *, columns: Sequence[str] | None = None,
                  types: Sequence[str] | None = None) -> None:
        """`COPY ... FROM STDIN` (the named query, its `{columns}` filled with `columns`) fed with `rows`;
        a binary COPY (`FORMAT binary`) needs the columns' exact `types`, since the server casts nothing."""
        with self._mapped(), self._raw.cursor().copy(_with_columns(name, columns)) as copy:
            if types is not None:
                copy.set_types(list(types))
            for row in rows:
                copy.write_row(row)

    def stream(self, name: str, params: Params = None, chunk: int = 10_000) -> Iterator[list[Row]]:
        """The named query's rows in chunks through a server-side cursor (flat memory)."""
        with self._mapped(), self._raw.cursor(name=f"stream_{name.replace('.', '_')}") as cur:
            cur.execute(_sql(name), params)
            while rows := cur.fetchmany(chunk):
                yield rows

    def listen(self, channel: str) -> None:
        """LISTEN on `channel`; refused with `SessionRequired` through a transaction pooler, where
        the LISTEN would stay on a server this connection no longer uses."""
        from mediasync.db.pooling import LISTEN_NEEDS, require_session

        require_session(Database(self._dsn), LISTEN_NEEDS)
        with self._mapped():
            self._raw.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))

    def notifications(self, timeout: float, stop_after: int | None = None) -> list[str]:
        """Payloads of notifications on the channels this connection LISTENs to, waiting up to `timeout` s."""
        with self._mapped():
            return [n.payload for n in self._raw.notifies(timeout=timeout, stop_after=stop_after)]

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A transaction on an autocommit session (a savepoint inside a transaction)."""
        with self._mapped(), self._raw.transaction():
            yield self

    def commit(self) -> None:
        with self._mapped():
            self._raw.commit()

    def rollback(self) -> None:
        with self._mapped():
            self._raw.rollback()

    @property
    def announced_pid(self) -> int:
        """The process id the server announced at login (BackendKeyData). A pooler in between
        announces a key of its own (cancel requests must reach it), so through one this is not
        the `pg_backend_pid()` its statements report."""
        return self._raw.info.backend_pid

    @property
    def broken(self) -> bool:
        return self._raw.broken or self._raw.closed

    def close(self) -> None:
        self._raw.close()


def _roll_back_quietly(raw: psycopg.Connection[Row]) -> None:
    """Roll back after the body failed; a connection already lost needs none (the server ended
    the transaction with it), and the body's error is the one worth raising."""
    with suppress(psycopg.Error):
        raw.rollback()


def _commit(raw: psycopg.Connection[Row], dsn: str) -> None:
    """COMMIT. An error the server answered with (a deferred constraint, a serialization failure)
    means it rolled back; a connection lost instead of an answer leaves the outcome unknown."""
    try:
        raw.commit()
    except psycopg.Error as exc:
        error = map_driver_error(exc, dsn)
        if isinstance(error, DatabaseUnavailable) and raw.broken:
            raise CommitUncertain(f"{error} (during COMMIT: the transaction may have committed)") from exc
        raise error from exc


@dataclass(frozen=True)
class Database:
    """A DSN plus the session settings mediasync needs; hands out mapped connections."""

    url: str
    # MEDIASYNC_MAX_ATTEMPTS, for the services that enqueue in Python; the database's own copy (what
    # the enqueue trigger reads, also for plain SQL) is `mediasync.runtime_settings`, published from
    # this by `db upgrade` and the queue processor (`repository.runtime_settings`).
    max_attempts: int | None = None
    application_name: str = "mediasync"
    # Every transaction refuses writes (SET TRANSACTION READ ONLY: transaction-scoped, so it holds
    # through any pooler): a database that fails the way a read-only replica after a failover does,
    # for `mediasync verify` to prove that a failed save is compensated.
    read_only: bool = False

    def describe(self) -> str:
        """Where this database is, safe to print: `user@host:port/dbname`."""
        return redact_dsn(self.url)

    def connect_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"prepare_threshold": None, "row_factory": dict_row,
                                  "application_name": self.application_name}
        if "connect_timeout" not in self.url:
            kwargs["connect_timeout"] = CONNECT_TIMEOUT_S
        return kwargs

    @staticmethod
    def configure(raw: psycopg.Connection[Any]) -> None:
        """Per-connection adaptation: dict parameters travel as jsonb."""
        raw.adapters.register_dumper(dict, JsonbDumper)

    def _open(self, autocommit: bool) -> psycopg.Connection[Row]:
        try:
            raw: psycopg.Connection[Row] = psycopg.connect(self.url, autocommit=autocommit, **self.connect_kwargs())
        except psycopg.Error as exc:
            raise map_driver_error(exc, self.url, connecting=True) from None
        self.configure(raw)
        return raw

    def connect(self, autocommit: bool = False) -> Connection:
        """A new connection; the caller closes it."""
        return Connection(self._open(autocommit), self.url)

    @contextmanager
    def _borrow(self) -> Iterator[psycopg.Connection[Row]]:
        """The raw connection a transaction runs on: a fresh one, closed afterwards."""
        raw = self._open(autocommit=False)
        try:
            yield raw
        finally:
            raw.close()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction: committed on success, rolled back on error. A connection lost before
        COMMIT surfaces as `DatabaseUnavailable` (nothing was committed); one lost during COMMIT
        as `CommitUncertain`, for the caller to learn from the data whether it landed."""
        with self._borrow() as raw:
            conn = Connection(raw, self.url)
            with conn._mapped():
                if self.read_only:
                    raw.execute("SET TRANSACTION READ ONLY")
                try:
                    yield conn
                except BaseException:
                    _roll_back_quietly(raw)
                    raise
            _commit(raw, self.url)

    @contextmanager
    def session(self) -> Iterator[Connection]:
        """An autocommit connection, for work that manages its own transactions (locks, COPY, LISTEN)."""
        conn = self.connect(autocommit=True)
        try:
            yield conn
        finally:
            conn.close()

    def close(self) -> None:
        """Nothing held between calls (the pooled subclass closes its pool)."""
