"""What a DSN connects through: a session of its own, or a transaction pooler's turns on servers.

Supabase shows its transaction pooler (port 6543) first, and people paste it. Through it a client
owns a server connection for one transaction only. Plain queries and transactions work (every
connection is opened with `prepare_threshold=None`); what lives in the *session* does not — a
LISTEN, a session advisory lock, a SET or temporary table kept across transactions stays on
whichever server ran it, while the client's next statement runs on another one, and that server
serves other clients meanwhile. So what needs a session calls `require_session`, which refuses
with one line naming the fix, and mediasync's locks are transaction-scoped (`locks.py`).

`connection_mode` probes a DSN once per process and remembers the answer:

1. One connection runs `pg_backend_pid()` twice. Two different server processes: a transaction
   pooler, proven.
2. A second connection joins, and the two run statements in turn. A session (direct, or a session
   pooler) binds each client to a server process of its own for its whole life: each keeps its
   pid and never sees the other's. A transaction pooler hands an idle client's server to the next
   statement that needs one — PgBouncer gives out the most recently used idle server first, so the
   second connection's first statement runs on the first connection's server — and the pids cross
   or move. A second connection that gets no server at all while the first sits idle is a session
   pooler whose pool is full.
3. A session whose server announced its own pid at login (BackendKeyData) is direct; a pooler
   announces a key of its own.

Only a transaction pooler can show pids that move or are shared, so a session is never refused.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Literal

from mediasync.db.connection import Connection, Database
from mediasync.errors import MediasyncError, SessionRequired

ConnectionMode = Literal["direct", "session pooler", "transaction pooler"]

LISTEN_NEEDS = "LISTEN (live updates, the cleanup queue's event trigger)"
SESSION_FIX = "use the direct connection or the session pooler, port 5432"
PROBE_ROUNDS = 3  # statements each connection runs in turn after the first
SECOND_SERVER_WAIT_S = 5.0  # how long the second connection may wait for a server of its own

_known: dict[str, ConnectionKind] = {}
_known_lock = threading.Lock()


@dataclass(frozen=True)
class ConnectionKind:
    """What a DSN connects through, and what the probe saw that says so (one line)."""

    mode: ConnectionMode
    evidence: str

    @property
    def has_sessions(self) -> bool:
        """Whether a connection keeps one server session (LISTEN and session state work)."""
        return self.mode != "transaction pooler"

    def describe(self) -> str:
        return f"{self.mode} ({self.evidence})"


def connection_mode(db: Database, *, fresh: bool = False) -> ConnectionKind:
    """What `db`'s DSN connects through: probed once per process and DSN (`fresh` probes again)."""
    with _known_lock:
        known = _known.get(db.url)
    if known is not None and not fresh:
        return known
    kind = _probe(Database(db.url, application_name=f"{db.application_name}-probe"))
    with _known_lock:
        _known[db.url] = kind
    return kind


def require_session(db: Database, what: str) -> ConnectionKind:
    """Refuse (`SessionRequired`, one line naming the fix) when `db` is a transaction pooler."""
    kind = connection_mode(db)
    if not kind.has_sessions:
        raise SessionRequired(f"{what} needs a session: {SESSION_FIX} "
                              f"({db.describe()} is a transaction pooler: {kind.evidence})")
    return kind


def _pid(conn: Connection) -> int:
    return int(conn.scalar("session.backend_pid"))


def _probe(db: Database) -> ConnectionKind:
    first = db.connect(autocommit=True)
    try:
        pids_first = [_pid(first), _pid(first)]
        if pids_first[0] != pids_first[1]:
            return _transaction_pooler(pids_first, [])
        joined = _second_connection(db)
        if joined is None:
            return _session(first, pids_first[0], "; a second connection got no server while the first sat idle")
        second, pid = joined
        pids_second = [pid]
        try:
            for _ in range(PROBE_ROUNDS):
                pids_first.append(_pid(first))
                pids_second.append(_pid(second))
        finally:
            second.close()
        if len(set(pids_first)) > 1 or len(set(pids_second)) > 1 or set(pids_first) & set(pids_second):
            return _transaction_pooler(pids_first, pids_second)
        return _session(first, pids_first[0], "")
    finally:
        first.close()


def _transaction_pooler(first: list[int], second: list[int]) -> ConnectionKind:
    shared = sorted(set(first) & set(second))
    if shared:
        seen = f"two connections ran statements on the same server process {', '.join(map(str, shared))}"
    else:
        moved = next(pids for pids in (first, second) if len(set(pids)) > 1)
        seen = f"one connection's statements ran on server processes {', '.join(map(str, sorted(set(moved))))}"
    return ConnectionKind("transaction pooler", seen)


def _session(conn: Connection, pid: int, note: str) -> ConnectionKind:
    if conn.announced_pid == pid:
        return ConnectionKind("direct", f"server process {pid} answered every statement and announced itself "
                                        f"at login{note}")
    return ConnectionKind("session pooler", f"each connection kept one server process, behind a pooler's own "
                                            f"login key{note}")


@dataclass
class _Join:
    """The second probe connection's outcome, decided under `lock` by whichever side comes first."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    joined: tuple[Connection, int] | None = None
    error: MediasyncError | None = None
    abandoned: bool = False


def _second_connection(db: Database) -> tuple[Connection, int] | None:
    """A second connection and the server process of its first statement; None when it got no
    server within SECOND_SERVER_WAIT_S (it then closes itself whenever its wait ends)."""
    outcome = _Join()

    def join() -> None:
        conn: Connection | None = None
        try:
            conn = db.connect(autocommit=True)
            pid = _pid(conn)
        except MediasyncError as exc:
            with outcome.lock:
                outcome.error = exc
            if conn is not None:
                conn.close()
            return
        with outcome.lock:
            if outcome.abandoned:
                conn.close()
            else:
                outcome.joined = (conn, pid)

    worker = threading.Thread(target=join, name="mediasync-session-probe", daemon=True)
    worker.start()
    worker.join(SECOND_SERVER_WAIT_S)
    with outcome.lock:
        if outcome.error is not None:
            raise outcome.error
        outcome.abandoned = outcome.joined is None
        return outcome.joined
