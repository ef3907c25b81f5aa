"""A bounded pool of connections for long-lived processes (the plugin's API).

A new connection costs a TCP + TLS + auth round trip per request (tens of milliseconds to
Supabase), and an unbounded number of them can exhaust the server's connection limit. So the
pool never holds more than `max_size` connections, and when all of them stay busy for
`wait_seconds` the caller gets `DatabaseBusy` (HTTP 503 with Retry-After) instead of a
connection of its own. Connections are checked before reuse, so a restarted server costs no
failed request. When the server is down, calls fail at once with its reason rather than each
waiting out the pool's timeout; once it answers again, the pool is renewed rather than left to
back off from its failed reconnects. Sessions (LISTEN, lock transactions, listings) open connections of their own.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from mediasync.db.connection import CONNECT_TIMEOUT_S, Database, Row
from mediasync.errors import DatabaseBusy, DatabaseUnavailable


@dataclass(frozen=True)
class PooledDatabase(Database):
    max_size: int = 10
    wait_seconds: float = CONNECT_TIMEOUT_S
    dedicated: bool = False  # one command's pool (the CLI's, a drain's own), not shared by concurrent requests
    _state: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def _pool(self) -> ConnectionPool[psycopg.Connection[Row]]:
        with self._lock:
            if "pool" not in self._state:
                self._open(autocommit=False).close()  # a bad DSN or a down server fails the first call with its reason
                self._state["pool"] = ConnectionPool[psycopg.Connection[Row]](
                    self.url, kwargs=self.connect_kwargs(), min_size=1, max_size=self.max_size,
                    timeout=self.wait_seconds, check=ConnectionPool.check_connection, configure=self.configure,
                    name=self.application_name, open=True)
            return self._state["pool"]

    def _probe(self) -> None:
        """Raise the server's reason when it cannot be reached (one short-lived connection)."""
        with self._lock:
            self._open(autocommit=True).close()

    def _renew(self, stale: ConnectionPool[psycopg.Connection[Row]]) -> None:
        """Replace a pool whose connections belong to a server that went away: after failed
        reconnects it backs off for seconds, while the server (the probe says) is already back."""
        with self._lock:
            if self._state.get("pool") is stale:
                del self._state["pool"]
        threading.Thread(target=stale.close, name="mediasync-pool-close", daemon=True).start()  # not on a request

    @contextmanager
    def _borrow(self) -> Iterator[psycopg.Connection[Row]]:
        pool = self._pool()
        if self._state.get("down"):
            self._probe()  # fails at once while the server is down
            self._state.pop("down", None)
            self._renew(pool)  # it is back: start afresh instead of waiting out the old pool's backoff
            pool = self._pool()
        try:
            raw = pool.getconn()
        except PoolTimeout:
            if pool.get_stats().get("pool_size", 0) >= self.max_size:
                raise DatabaseBusy(f"all {self.max_size} database connections stayed busy for "
                                   f"{self.wait_seconds:g} s; try again shortly") from None
            self._state["down"] = True  # the pool could not even open one
            self._probe()
            self._state.pop("down", None)
            self._renew(pool)
            pool = self._pool()
            raw = self._getconn_or_busy(pool)
        try:
            yield raw
        except DatabaseUnavailable:
            self._state["down"] = True  # the connection died under us: check the server before the next use
            raise
        finally:
            pool.putconn(raw)

    def _getconn_or_busy(self, pool: ConnectionPool[psycopg.Connection[Row]]) -> psycopg.Connection[Row]:
        try:
            return pool.getconn()
        except PoolTimeout:
            raise DatabaseBusy(f"no database connection within {self.wait_seconds:g} s; try again shortly") from None

    def close(self) -> None:
        with self._lock:
            pool = self._state.pop("pool", None)
        if pool is not None:
            pool.close()
