"""Overlapped, pooled drains: a bounded number of chunks in flight, on a small per-run pool of
connections, the first chunk alone; fresh planner statistics after a backlog jump; and the
queue's notification once per statement that queued rows."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence

import psycopg

from mediasync.db import PooledDatabase
from mediasync.services.queue import CleanupQueue
from mediasync.store import DeleteOutcome
from support.connections import mediasync_connections


class SlowDeleter:
    """Answers `not_found` after a delay, recording how many calls overlapped and how many
    connections the drain held meanwhile."""

    def __init__(self, db_url: str, delay: float = 0.1) -> None:
        self.delay = delay
        self.in_flight = 0
        self.max_in_flight = 0
        self.calls_in_order: list[int] = []
        self.max_connections = 0
        self._lock = threading.Lock()
        self._db_url = db_url

    def delete_many(self, public_ids: Sequence[str], resource_type: str = "image",
                    type: str = "upload") -> dict[str, DeleteOutcome]:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.calls_in_order.append(self.in_flight)
        held = mediasync_connections(self._db_url)
        time.sleep(self.delay)
        with self._lock:
            self.in_flight -= 1
            self.max_connections = max(self.max_connections, held)
        return dict.fromkeys(public_ids, "not_found")


def enqueue(conn, n: int) -> None:
    conn.execute("INSERT INTO cloudinary_cleanup_queue (public_id, reason) "
                 "SELECT 'main-uploads/o' || g, 'db_delete' FROM generate_series(1, %s) g", (n,))


def test_chunks_overlap_up_to_the_concurrency_on_a_small_pool(db, db_url, conn):
    enqueue(conn, 1200)
    deleter = SlowDeleter(db_url)
    started = time.monotonic()
    result = CleanupQueue(db, deleter, concurrency=3).process(batch_size=100)
    elapsed = time.monotonic() - started

    assert result.completed == 1200 and result.batches == 12 and result.concurrency == 3
    assert deleter.calls_in_order[0] == 1  # the first chunk runs alone (it learns the allowance)
    assert deleter.max_in_flight == 3  # bounded, and actually overlapping
    assert deleter.max_connections <= 3 + 1  # one pool per drain: the claim plus one guard per chunk
    assert elapsed < 12 * deleter.delay * 0.75  # sequential would take 12 delays
    assert conn.execute("SELECT count(*) AS n FROM cloudinary_cleanup_queue WHERE status <> 'completed'"
                        ).fetchone()["n"] == 0


def test_one_chunk_at_a_time_when_concurrency_is_one(db, db_url, conn):
    enqueue(conn, 300)
    deleter = SlowDeleter(db_url, delay=0.02)
    assert CleanupQueue(db, deleter, concurrency=1).process().completed == 300
    assert deleter.max_in_flight == 1


def test_time_budget_stops_claiming_and_finishes_what_is_in_flight(db, db_url, conn):
    enqueue(conn, 2000)
    result = CleanupQueue(db, SlowDeleter(db_url, delay=0.2), concurrency=2).process(time_budget=0.5)
    assert result.stopped_by == "time_budget"
    assert 0 < result.completed < 2000 and result.completed == result.claimed  # nothing left half-done
    assert conn.execute("SELECT count(*) AS n FROM cloudinary_cleanup_queue WHERE status = 'processing'"
                        ).fetchone()["n"] == 0


def wait_for_live_rows(conn, n: int) -> None:
    deadline = time.monotonic() + 20
    while conn.execute("SELECT n_live_tup AS n FROM pg_stat_user_tables "
                       "WHERE relname = 'cloudinary_cleanup_queue'").fetchone()["n"] < n:
        assert time.monotonic() < deadline, "the statistics collector never saw the inserts"
        time.sleep(0.2)


def test_a_backlog_jump_refreshes_the_planner_statistics_once(db, db_url, conn):
    conn.execute("ALTER TABLE cloudinary_cleanup_queue SET (autovacuum_enabled = false)")  # no race with autovacuum
    enqueue(conn, 20_000)
    wait_for_live_rows(conn, 20_000)
    queue = CleanupQueue(db, SlowDeleter(db_url, delay=0))
    assert queue.refresh_statistics() is True
    assert conn.execute("SELECT reltuples FROM pg_class WHERE relname = 'cloudinary_cleanup_queue'"
                        ).fetchone()["reltuples"] >= 19_000
    assert queue.refresh_statistics() is False  # nothing changed since

    # Draining updates every row (claim, outcome): the planner's picture stays right, no ANALYZE.
    assert queue.process().completed == 20_000
    assert queue.refresh_statistics() is False
    # A jump smaller than the table the planner already counted plans as an index scan: no ANALYZE either.
    enqueue(conn, 15_000)
    wait_for_live_rows(conn, 35_000)
    assert queue.refresh_statistics() is False


def test_one_notification_per_statement_that_queues_rows(db_url, conn):
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute("LISTEN mediasync_cleanup_queue")
        conn.execute("INSERT INTO media_files (public_id) SELECT 'main-uploads/n' || g FROM generate_series(1, 500) g")
        conn.execute("DELETE FROM media_files")  # 500 rows queued by one statement
        conn.execute("UPDATE media_files SET format = 'png'")  # queues nothing: no notification
        payloads = [json.loads(n.payload) for n in listener.notifies(timeout=1.0)]
        # The whole library in one statement: the delete brake holds it, and still wakes the cleanup DAG
        # (which reports the held batch); a flowing statement's payload is {"queued": n}.
        assert payloads == [{"queued": 500, "held": True}]
        conn.execute("INSERT INTO cloudinary_cleanup_queue (public_id, reason) "  # a direct enqueue (services, SQL)
                     "VALUES ('main-uploads/direct', 'reconcile_orphan')")
        assert [json.loads(n.payload) for n in listener.notifies(timeout=1.0)] == [{}]


def test_a_drain_inside_the_api_server_keeps_to_half_its_pool(db_url, conn):
    enqueue(conn, 1600)
    shared = PooledDatabase(db_url, max_size=10)  # the API server's pool: requests borrow it too
    try:
        deleter = SlowDeleter(db_url, delay=0.25)
        result = CleanupQueue(shared, deleter, concurrency=8).process(batch_size=100)
        assert result.completed == 1600 and result.concurrency == 4 and deleter.max_in_flight == 4
    finally:
        shared.close()
    enqueue(conn, 1600)
    own = PooledDatabase(db_url, max_size=10, dedicated=True)  # the CLI's: one command's pool
    try:
        deleter = SlowDeleter(db_url, delay=0.25)
        result = CleanupQueue(own, deleter, concurrency=8).process(batch_size=100)
        assert result.concurrency == 8 and deleter.max_in_flight == 8
    finally:
        own.close()
