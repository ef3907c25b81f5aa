"""Supabase's poolers, played by PgBouncer (issue 25): mediasync knows what it is connected
through, refuses LISTEN through a transaction pooler with one line naming the fix, and its locks —
the migration lock and the reconciliation's — hold through it."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import threading
import time

import psycopg
import pytest

from fixtures.brake import without_delete_brake
from fixtures.database import database_url
from mediasync.db import Database, connection_mode, held_lock
from mediasync.errors import LockLost, SessionRequired
from mediasync.repository.migrations import discover, upgrade
from mediasync.repository.reconciliation import ReconciliationRepository
from mediasync.services.live import MediaChangeBroadcaster
from support.concurrency import run_at_once
from support.triggers import WatchedTrigger
from support.waiting import async_wait_until, wait_until

FIX = "needs a session: use the direct connection or the session pooler, port 5432"


def applied(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        if not conn.execute("SELECT to_regclass('mediasync.schema_migrations') IS NOT NULL").fetchone()[0]:
            return []
        return [r[0] for r in conn.execute("SELECT version FROM mediasync.schema_migrations ORDER BY version")]


# --- what the DSN connects through ----------------------------------------------------------


def test_the_connection_mode_is_probed_once_per_dsn(db_url, transaction_pooler, session_pooler):
    direct = connection_mode(Database(db_url), fresh=True)
    assert direct.mode == "direct" and direct.has_sessions
    session = connection_mode(Database(session_pooler.url(db_url)), fresh=True)
    assert session.mode == "session pooler" and session.has_sessions
    pooled = Database(transaction_pooler.url(db_url))
    transaction = connection_mode(pooled, fresh=True)
    assert transaction.mode == "transaction pooler" and not transaction.has_sessions
    assert "server process" in transaction.evidence

    clients_before = len(transaction_pooler.show("CLIENTS"))
    assert connection_mode(pooled) is transaction  # remembered for the DSN: no probe, no connection
    assert len(transaction_pooler.show("CLIENTS")) == clients_before


def test_listen_through_the_transaction_pooler_is_refused_with_the_fix(pooled_db_url):
    conn = Database(pooled_db_url).connect(autocommit=True)
    try:
        with pytest.raises(SessionRequired) as refused:
            conn.listen("mediasync_media_changes")
    finally:
        conn.close()
    message = str(refused.value)
    assert FIX in message and "transaction pooler" in message and "\n" not in message
    assert "LISTEN" in message


def test_listen_through_the_session_pooler_works(db_url, session_pooler, conn):
    listener = Database(session_pooler.url(db_url)).connect(autocommit=True)
    try:
        listener.listen("mediasync_media_changes")
        conn.execute("INSERT INTO media_files (public_id) VALUES ('main-uploads/heard')")
        assert listener.notifications(timeout=5, stop_after=1)
    finally:
        listener.close()


def test_live_updates_refuse_once_through_the_transaction_pooler(pooled_db_url, caplog):
    live = MediaChangeBroadcaster(Database(pooled_db_url))

    async def scenario() -> None:
        with pytest.raises(SessionRequired, match=FIX):
            await live.ensure_session()
        live._ensure_running()  # the stream's listener, as a subscriber would start it
        assert live._task is not None
        await asyncio.wait_for(live._task, timeout=10)  # it stops instead of retrying forever

    with caplog.at_level(logging.WARNING, logger="mediasync"):
        asyncio.run(scenario())
    assert live.refused is not None and not live.connected.is_set()
    refusals = [r for r in caplog.records if FIX in r.getMessage()]
    assert len(refusals) == 1 and refusals[0].exc_info is None  # one line, no traceback


def test_the_queue_trigger_polls_through_the_transaction_pooler(monkeypatch, pooled_db_url, conn, caplog):
    monkeypatch.setenv("AIRFLOW_CONN_MEDIASYNC_DB", pooled_db_url)
    trigger = WatchedTrigger(poll_seconds=1.0)
    without_delete_brake(conn)  # the whole library in one statement would be held: this test is about polling
    conn.execute("INSERT INTO media_files (public_id) SELECT 'main-uploads/p' || g FROM generate_series(1, 30) g")
    got: list[dict] = []

    async def consume() -> None:
        async for event in trigger.run():
            got.append(event.payload)
            if len(got) == 1:
                return

    async def scenario() -> None:
        task = asyncio.ensure_future(consume())
        await async_wait_until(trigger.looked.is_set, timeout=10, message="the trigger never polled")
        await asyncio.to_thread(conn.execute, "DELETE FROM media_files")
        await asyncio.wait_for(task, timeout=10)

    with caplog.at_level(logging.INFO, logger="mediasync"):
        asyncio.run(scenario())
    assert got == [{"queued": 30}]
    refusals = [r for r in caplog.records if FIX in r.getMessage()]
    assert len(refusals) == 1 and "polling" in refusals[0].getMessage() and refusals[0].exc_info is None


# --- locks that hold through the transaction pooler -----------------------------------------


def test_a_held_lock_excludes_others_through_the_transaction_pooler(pooled_db_url):
    """The primitive behind both locks: while one holder's lock transaction is open, nobody else
    gets the lock — whichever server the pooler gives them — and it is free again afterwards."""
    pooled = Database(pooled_db_url)
    repo = ReconciliationRepository()

    def acquire(conn) -> bool:
        return repo.try_lock(conn, "image:upload:main-uploads")

    with held_lock(pooled, acquire, "first") as first:
        assert first is not None
        for _ in range(5):  # other clients, each handed whatever server is free
            with held_lock(pooled, acquire, "second") as second:
                assert second is None
        first.ensure()
    with held_lock(pooled, acquire, "third") as third:
        assert third is not None


def test_a_lost_lock_connection_stops_the_holder(db_url, pooled_db_url, conn):
    with held_lock(Database(pooled_db_url), lambda c: ReconciliationRepository().try_lock(c, "k"), "the test",
                   keepalive_seconds=0.1) as lock:
        assert lock is not None
        # The server ends the lock transaction's backend (a failover, an admin's pg_terminate_backend).
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                     "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")
        deadline = time.monotonic() + 10
        while lock._lost is None and not lock.conn.broken:
            assert time.monotonic() < deadline, "the keep-alive never noticed the lost connection"
            time.sleep(0.05)
        with pytest.raises(LockLost, match="stopped before changing anything more"):
            lock.ensure()


HOLDER = """
import sys, time
from mediasync.db import Database, held_lock
from mediasync.repository.reconciliation import ReconciliationRepository
with held_lock(Database(sys.argv[1]), lambda c: ReconciliationRepository().try_lock(c, "k"), "holder") as lock:
    print("held" if lock else "refused", flush=True)
    time.sleep(600)
"""


def test_a_killed_holder_frees_the_lock_through_the_transaction_pooler(pooled_db_url):
    """A process killed mid-run (OOM, a worker lost) leaves nothing behind: the pooler drops the
    server its open transaction was on, and the next run gets the lock at once."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, pooled_db_url], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with held_lock(Database(pooled_db_url), lambda c: ReconciliationRepository().try_lock(c, "k"), "t") as lock:
            assert lock is None
    finally:
        holder.kill()
        holder.wait(timeout=10)
    deadline = time.monotonic() + 10
    while True:
        with held_lock(Database(pooled_db_url), lambda c: ReconciliationRepository().try_lock(c, "k"), "t") as lock:
            if lock is not None:
                break
        assert time.monotonic() < deadline, "the killed holder's lock outlived it"
        time.sleep(0.1)


def test_concurrent_upgrades_through_the_transaction_pooler_apply_each_migration_once(
        empty_database_url, transaction_pooler):
    pooled = Database(transaction_pooler.url(empty_database_url))
    results = run_at_once(lambda: upgrade(pooled))
    assert sorted(len(r) for r in results) == [0, 0, len(discover())]
    assert applied(empty_database_url) == [m.version for m in discover()]


def test_db_upgrade_waits_for_the_migration_lock_through_the_transaction_pooler(empty_database_url,
                                                                              transaction_pooler):
    """Provably safe: while another client holds the migration lock (here by hand, through the same
    pooler), `upgrade` changes nothing; it applies everything once the holder lets go."""
    pooled_url = transaction_pooler.url(empty_database_url)
    outcome: dict = {}
    with psycopg.connect(pooled_url) as holder:  # a transaction stays open: the pooler pins its server
        holder.execute("SELECT pg_advisory_xact_lock(7261520001)")
        worker = threading.Thread(target=lambda: outcome.update(applied=upgrade(Database(pooled_url))))
        worker.start()
        with psycopg.connect(empty_database_url, autocommit=True) as observer:  # upgrade waits on the lock
            wait_until(lambda: observer.execute("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                                                ).fetchone(), message="upgrade never waited for the migration lock")
        assert worker.is_alive() and applied(empty_database_url) == []
        holder.rollback()
    worker.join(timeout=60)
    assert len(outcome["applied"]) == len(discover())
    assert applied(empty_database_url) == [m.version for m in discover()]


def test_pooler_fixture_reaches_the_server_the_suite_uses(pg_server_url, transaction_pooler):
    """Whichever server the suite runs on — MEDIASYNC_TEST_DATABASE_URL's or the embedded one on a
    Unix socket — PgBouncer is in front of it."""
    with psycopg.connect(pg_server_url) as direct:
        expected = direct.execute("SELECT current_setting('data_directory')").fetchone()[0]
    with psycopg.connect(transaction_pooler.url(database_url(pg_server_url, "postgres")),
                         prepare_threshold=None) as pooled:
        assert pooled.execute("SELECT current_setting('data_directory')").fetchone()[0] == expected
