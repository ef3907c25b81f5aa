"""Locks that hold through any pooler: transaction-scoped advisory locks in a lock transaction.

A session advisory lock (`pg_advisory_lock`) belongs to the server process that ran it. Through a
transaction pooler (Supabase's port 6543) that process goes back to the pool when the statement
ends: the lock stays behind on it, the unlock may run on another server (and fail), and the next
client handed that server "takes" the lock again, since advisory locks are re-entrant. That is how
two reconciliations of one inventory ran at once through PgBouncer (issue 25).

Every pooler keeps a client on one server for the length of a transaction. So mediasync takes its
locks with `pg_advisory_xact_lock`/`pg_try_advisory_xact_lock` in a transaction kept open on a
connection of its own while the work runs on other connections: the lock is held exactly as long
as that transaction, and ends with it — rollback, or the server ending the transaction when the
connection dies — the same way through a direct connection, a session pooler or a transaction
pooler. Session and transaction advisory locks on one key conflict, so a lock transaction also
excludes a process of an earlier release holding the session lock.

The transaction turns the server's idle-in-transaction timeout off for itself, and a statement
every KEEPALIVE_SECONDS keeps poolers' idle timers from closing it and notices at once when the
connection is gone: `HeldLock.ensure()` then raises `LockLost`, and the holder stops before it
changes anything more.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from mediasync.db.connection import Connection, Database
from mediasync.errors import LockLost, MediasyncError

log = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 20.0


class HeldLock:
    """A lock held by an open transaction on `conn`, kept alive by a background statement."""

    def __init__(self, conn: Connection, what: str, keepalive_seconds: float = KEEPALIVE_SECONDS) -> None:
        self.conn = conn
        self.what = what
        self.keepalive_seconds = keepalive_seconds
        self._stop = threading.Event()
        self._lost: MediasyncError | None = None
        self._thread = threading.Thread(target=self._keep_alive, name="mediasync-lock-keepalive", daemon=True)

    def _keep_alive(self) -> None:
        while not self._stop.wait(self.keepalive_seconds):
            try:
                self.conn.scalar("session.keepalive")
            except MediasyncError as exc:
                self._lost = exc
                log.error("%s lost its lock: %s", self.what, exc)
                return

    def ensure(self) -> None:
        """Raise `LockLost` when the lock transaction's connection is gone (call before each step
        that changes something)."""
        if self._lost is not None or self.conn.broken:
            reason = self._lost or "the connection closed"
            raise LockLost(f"{self.what} lost its lock ({reason}); stopped before changing anything more")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


@contextmanager
def held_lock(db: Database, acquire: Callable[[Connection], bool], what: str,
              keepalive_seconds: float = KEEPALIVE_SECONDS) -> Iterator[HeldLock | None]:
    """Open a lock transaction on a connection of its own and run `acquire` in it (a repository's
    transaction-scoped advisory lock query; True when it holds the lock). Yields the `HeldLock`
    for as long as the block runs, or None when `acquire` did not get it; the transaction is
    rolled back afterwards (it holds nothing but the lock)."""
    conn = db.connect(autocommit=False)  # its first statement opens the lock transaction
    lock: HeldLock | None = None
    try:
        conn.execute("session.keep_transaction_open")
        if acquire(conn):
            lock = HeldLock(conn, what, keepalive_seconds)
            lock.start()
        yield lock
    finally:
        if lock is not None:
            lock.stop()
        _release(conn, what)


def _release(conn: Connection, what: str) -> None:
    """End the lock transaction. A connection already gone needs nothing: the server ended its
    transaction, and the lock with it."""
    try:
        if not conn.broken:
            conn.rollback()
    except MediasyncError as exc:
        log.warning("%s: ending the lock transaction failed (%s); the server releases the lock with the "
                    "connection", what, exc)
    finally:
        conn.close()
