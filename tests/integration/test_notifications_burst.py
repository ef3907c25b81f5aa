"""Notifications arriving together share transactions (the group committer) without losing any,
applying any twice, or letting one bad notification take its group down — real PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from fixtures import notifications as cld
from fixtures.bursts import add_rows, assert_applied_once, notification_for, send_all
from mediasync.db import Database
from mediasync.services.notifications.batcher import GroupCommitter


def test_a_concurrent_burst_with_redeliveries_is_applied_exactly_once(services, conn, emulator):
    rows = add_rows(conn, 300)
    signed = [cld.sign(cld.encode(notification_for(i, row)), emulator.api_secret) for i, row in enumerate(rows)]
    redelivered = signed[::10]  # Cloudinary resends some while the first delivery is still in flight

    def send(raw: bytes, s: cld.Signed):
        return services.notifications.ingest(raw, s.timestamp, s.signature)

    answers = send_all(send, [*signed, *redelivered], senders=16)
    assert_applied_once(conn, rows)
    assert sum(a.duplicate for a in answers) == len(redelivered)
    committer = services.notifications.committer()
    assert committer.grouped > committer.groups  # some transactions did hold several notifications


@pytest.fixture
def probe(conn):
    conn.execute("CREATE TABLE burst_probe (n integer PRIMARY KEY)")
    yield
    conn.execute("DROP TABLE burst_probe")


def test_one_failing_notification_fails_alone_and_its_group_is_committed_without_it(db_url, conn, probe):
    gate = threading.Event()

    def store(c, n: int) -> int:
        gate.wait(10)  # hold the first transaction so the others queue up and form groups
        c.sql("INSERT INTO burst_probe (n) VALUES (%(n)s)", {"n": n})
        if n == 13:
            raise ValueError("poison")
        return n

    committer = GroupCommitter(lambda: Database(db_url), store, committers=1)
    with ThreadPoolExecutor(24) as pool:
        futures = {n: pool.submit(committer.submit, n) for n in range(60)}
        threading.Timer(0.5, gate.set).start()
        outcomes = {n: f.exception(timeout=60) or f.result() for n, f in futures.items()}
    assert isinstance(outcomes.pop(13), ValueError)
    assert outcomes == {n: n for n in range(60) if n != 13}
    assert [r["n"] for r in conn.execute("SELECT n FROM burst_probe ORDER BY n")] == [n for n in range(60) if n != 13]


def test_an_answer_comes_only_after_its_commit(db_url, conn, probe):
    """What a caller is told was stored is visible to everyone else the moment it is told."""
    def store(c, n: int) -> int:
        c.sql("INSERT INTO burst_probe (n) VALUES (%(n)s)", {"n": n})
        return n

    committer = GroupCommitter(lambda: Database(db_url), store)

    def send(n: int) -> bool:
        committer.submit(n)
        return conn.execute("SELECT 1 FROM burst_probe WHERE n = %s", (n,)).fetchone() is not None

    with ThreadPoolExecutor(16) as pool:
        assert all(pool.map(send, range(200)))
