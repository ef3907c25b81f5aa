"""The pooled database the API uses: connections are reused, checked, bounded, and an outage or
a bad DSN still fails at once with the server's reason."""

from __future__ import annotations

import threading
import time

import pytest

from mediasync.db import PooledDatabase
from mediasync.errors import ConfigError, DatabaseBusy, DatabaseUnavailable
from support.waiting import wait_until


def backend_pid(db) -> int:
    with db.transaction() as conn:
        return conn.sql("SELECT pg_backend_pid() AS pid")[0]["pid"]


@pytest.fixture
def pooled(db_url):
    database = PooledDatabase(db_url, max_attempts=3, max_size=2, wait_seconds=0.5)
    yield database
    database.close()


def test_transactions_reuse_a_bounded_set_of_connections_with_session_settings(pooled):
    assert len({backend_pid(pooled) for _ in range(20)}) <= pooled.max_size
    with pooled.transaction() as conn:
        # max_attempts no longer travels as a session option: the database reads mediasync.runtime_settings
        assert conn.sql("SELECT current_setting('application_name') AS v")[0]["v"] == "mediasync"
        assert conn.sql("SELECT mediasync.max_attempts() AS v")[0]["v"] == 3


def test_a_failed_transaction_rolls_back_and_the_connection_stays_usable(pooled, conn):
    with pytest.raises(ZeroDivisionError), pooled.transaction() as tx:
        tx.sql("INSERT INTO cloudinary_cleanup_queue (public_id, reason) VALUES ('rolled-back', 'db_delete')")
        raise ZeroDivisionError
    assert conn.execute("SELECT count(*) AS n FROM cloudinary_cleanup_queue").fetchone()["n"] == 0
    assert backend_pid(pooled) > 0


def test_a_connection_killed_by_the_server_is_replaced_without_a_failed_call(pooled, conn):
    pid = backend_pid(pooled)
    conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    wait_until(lambda: not conn.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone(),
               message=f"backend {pid} never went away")
    assert backend_pid(pooled) != pid


def test_a_busy_pool_is_bounded_and_fails_fast_with_database_busy(pooled, conn):
    """Every connection held: the next call waits `wait_seconds`, then gets DatabaseBusy (503 with
    Retry-After in the API) — it never opens a connection beyond the pool's bound."""
    held, release = threading.Barrier(3), threading.Event()

    def hold() -> None:
        with pooled.transaction():
            held.wait(5)
            release.wait(10)

    holders = [threading.Thread(target=hold) for _ in range(2)]
    for thread in holders:
        thread.start()
    held.wait(5)
    try:
        started = time.monotonic()
        with pytest.raises(DatabaseBusy, match="all 2 database connections stayed busy"):
            backend_pid(pooled)
        assert 0.4 <= time.monotonic() - started < 3
        mine = conn.execute("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'mediasync' "
                            "AND datname = current_database()").fetchone()["n"]
        assert mine == pooled.max_size  # the bound held: no direct connection on the side
    finally:
        release.set()
        for thread in holders:
            thread.join()
    assert backend_pid(pooled) > 0  # free again


def test_an_unreachable_server_and_a_bad_dsn_fail_at_once_with_the_reason():
    from support.emulator import free_port

    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable, match=f"cannot connect to PostgreSQL at .*:{(port := free_port())}"):
        backend_pid(PooledDatabase(f"postgresql://postgres@127.0.0.1:{port}/postgres"))
    with pytest.raises(ConfigError, match="malformed"):
        backend_pid(PooledDatabase("not a dsn ==="))
    assert time.monotonic() - started < 5
