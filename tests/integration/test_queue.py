"""The cleanup-queue engine on a real PostgreSQL. The store behind it is a recording deleter
implementing the `AssetDeleter` interface (the Cloudinary-backed processor has its own tests)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from mediasync.errors import StoreRateLimited, StoreTransientError
from mediasync.services.queue import CleanupQueue
from mediasync.services.retention import Retention
from mediasync.services.retry import RetryPolicy
from mediasync.store import DeleteOutcome

NO_WAIT = RetryPolicy(base_seconds=0, jitter=0)


class RecordingDeleter:
    """Deletes from an in-memory set of asset ids; can be told to fail."""

    def __init__(self, existing: Sequence[str] = ()) -> None:
        self.existing = set(existing)
        self.calls: list[tuple[str, str, list[str]]] = []
        self.fail_with: Exception | None = None

    def delete_many(self, public_ids: Sequence[str], resource_type: str = "image",
                    type: str = "upload") -> dict[str, DeleteOutcome]:
        self.calls.append((resource_type, type, list(public_ids)))
        if self.fail_with is not None:
            raise self.fail_with
        outcome: dict[str, DeleteOutcome] = {}
        for pid in public_ids:
            outcome[pid] = "deleted" if pid in self.existing else "not_found"
            self.existing.discard(pid)
        return outcome


def enqueue(conn: psycopg.Connection, n: int, resource_type: str = "image", prefix: str = "a") -> None:
    conn.execute("INSERT INTO cloudinary_cleanup_queue (public_id, resource_type, reason) "
                 "SELECT %s || g, %s, 'db_delete' FROM generate_series(1, %s) g", (prefix, resource_type, n))


def statuses(conn: psycopg.Connection) -> dict[str, int]:
    return {r["status"]: r["n"] for r in conn.execute(
        "SELECT status, count(*) AS n FROM cloudinary_cleanup_queue GROUP BY status")}


def test_drain_batches_deletes_by_kind_in_calls_of_at_most_100(db, conn):
    enqueue(conn, 250, "image")
    enqueue(conn, 30, "video", prefix="v")
    deleter = RecordingDeleter(existing=[f"a{i}" for i in range(1, 201)])
    result = CleanupQueue(db, deleter).process(batch_size=100)
    assert statuses(conn) == {"completed": 280}
    assert result.claimed == 280 and result.deleted == 200 and result.not_found == 80
    assert all(len(ids) <= 100 for _, _, ids in deleter.calls)
    assert sorted(len(ids) for _, _, ids in deleter.calls) == [30, 50, 100, 100]  # images 100+100+50, videos 30
    assert sum(len(ids) for _, _, ids in deleter.calls) == 280
    assert result.stopped_by == "empty"


def test_concurrent_processors_claim_disjoint_rows(db, conn):
    enqueue(conn, 400)
    queue = CleanupQueue(db)
    barrier = threading.Barrier(4)
    claims: list[list[int]] = [[] for _ in range(4)]

    def worker(slot: int) -> None:
        barrier.wait()
        while batch := queue.claim(25):
            claims[slot].extend(item.id for item in batch)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for c in claims for i in c]
    assert len(every) == 400 and len(set(every)) == 400
    assert statuses(conn) == {"processing": 400}


def test_expired_lease_is_rescued_and_processed(db, conn):
    enqueue(conn, 3)
    killed = CleanupQueue(db, lease=timedelta(seconds=30))
    assert len(killed.claim(10)) == 3  # the processor "dies" here, before recording outcomes
    assert CleanupQueue(db, RecordingDeleter()).process().claimed == 0  # leases still valid
    conn.execute("UPDATE cloudinary_cleanup_queue SET locked_until = now() - interval '1 second'")
    result = CleanupQueue(db, RecordingDeleter()).process()
    assert result.rescued == 3 and result.not_found == 3
    assert statuses(conn) == {"completed": 3}
    errors = conn.execute("SELECT errors FROM cloudinary_cleanup_queue LIMIT 1").fetchone()["errors"]
    assert errors[0]["kind"] == "lease_expired"


def test_three_failures_end_failed_with_three_errors_and_retry_failed_revives(db, conn):
    enqueue(conn, 1)
    deleter = RecordingDeleter()
    deleter.fail_with = StoreTransientError("HTTP 503 from Cloudinary")
    queue = CleanupQueue(db, deleter, retry_policy=NO_WAIT)
    for expected_status in ("pending", "pending", "failed"):
        queue.process_batch()
        assert conn.execute("SELECT status FROM cloudinary_cleanup_queue").fetchone()["status"] == expected_status
    row = conn.execute("SELECT * FROM cloudinary_cleanup_queue").fetchone()
    assert row["attempts"] == 3 and len(row["errors"]) == 3
    assert [e["attempt"] for e in row["errors"]] == [1, 2, 3]
    assert row["last_error"] == "StoreTransientError: HTTP 503 from Cloudinary"
    assert queue.process_batch().claimed == 0  # failed entries are not claimed

    stats = queue.stats()
    assert stats.failed == 1 and stats.recent_errors[0].attempts == 3
    deleter.fail_with = None
    result = queue.process(retry_failed=True)
    assert result.retried_failed == 1 and result.not_found == 1
    assert statuses(conn) == {"completed": 1}


def test_backoff_pushes_the_next_attempt_out(db, conn):
    enqueue(conn, 1)
    deleter = RecordingDeleter()
    deleter.fail_with = StoreTransientError("timeout")
    queue = CleanupQueue(db, deleter, retry_policy=RetryPolicy(base_seconds=60, jitter=0.25))
    result = queue.process()
    assert result.retrying == 1
    delay = conn.execute("SELECT extract(epoch FROM available_at - updated_at) AS s "
                         "FROM cloudinary_cleanup_queue").fetchone()["s"]
    assert 45 <= delay <= 75
    assert queue.process().claimed == 0  # not due yet


def test_rate_limit_defers_without_burning_attempts(db, conn):
    enqueue(conn, 150)
    reset_at = datetime.now(timezone.utc) + timedelta(minutes=10)
    deleter = RecordingDeleter()
    deleter.fail_with = StoreRateLimited("Rate Limit Exceeded", reset_at=reset_at)
    result = CleanupQueue(db, deleter).process(batch_size=150)
    assert result.rate_limited == 150 and result.stopped_by == "rate_limited"
    assert len(deleter.calls) == 1  # stopped at the first refusal instead of hammering
    rows = conn.execute("SELECT status, attempts, available_at FROM cloudinary_cleanup_queue").fetchall()
    assert {(r["status"], r["attempts"]) for r in rows} == {("pending", 0)}
    assert all(abs((r["available_at"] - reset_at).total_seconds()) < 1 for r in rows)


def test_asset_used_again_by_an_active_row_is_not_deleted(db, conn):
    conn.execute("INSERT INTO cloudinary_cleanup_queue (public_id, reason) VALUES ('main-uploads/reused', 'db_delete')")
    conn.execute("INSERT INTO media_files (public_id) VALUES ('main-uploads/reused')")
    deleter = RecordingDeleter(existing=["main-uploads/reused"])
    result = CleanupQueue(db, deleter).process()
    assert result.skipped_in_use == 1 and deleter.calls == []
    assert statuses(conn) == {"completed": 1}


def test_enqueue_is_idempotent_per_open_asset(db):
    queue = CleanupQueue(db)
    first = queue.enqueue(public_id="main-uploads/x", reason="upload_compensation")
    assert queue.enqueue(public_id="main-uploads/x", reason="reconcile_orphan") == first


def test_stats_report_counts_and_oldest_pending_age(db, conn):
    enqueue(conn, 4)
    conn.execute("UPDATE cloudinary_cleanup_queue SET created_at = now() - interval '2 minutes' WHERE public_id = 'a1'")
    conn.execute("UPDATE cloudinary_cleanup_queue SET status = 'completed', completed_at = now() "
                 "WHERE public_id = 'a2'")
    conn.execute("UPDATE cloudinary_cleanup_queue SET status = 'failed' WHERE public_id = 'a3'")
    stats = CleanupQueue(db).stats()
    assert (stats.pending, stats.processing, stats.completed, stats.failed) == (2, 0, 1, 1)
    assert 119 <= stats.oldest_pending_age_seconds < 180
    assert stats.due == 2


def test_retention_deletes_only_completed_rows_older_than_the_cutoff(db, conn):
    enqueue(conn, 12)
    conn.execute("UPDATE cloudinary_cleanup_queue SET status = 'completed', "
                 "completed_at = now() - interval '31 days' WHERE public_id IN ('a1','a2','a3','a4','a5','a6','a7')")
    conn.execute("UPDATE cloudinary_cleanup_queue SET status = 'completed', completed_at = now() - interval '29 days' "
                 "WHERE public_id = 'a8'")
    conn.execute("UPDATE cloudinary_cleanup_queue SET status = 'failed', updated_at = now() - interval '90 days' "
                 "WHERE public_id = 'a9'")
    result = Retention(db, batch_size=3).purge(30)
    assert result.deleted == 7 and result.batches == 3
    left = {r["public_id"] for r in conn.execute("SELECT public_id FROM cloudinary_cleanup_queue")}
    assert left == {"a8", "a9", "a10", "a11", "a12"}


@pytest.mark.parametrize("days", [0, -1])
def test_retention_rejects_nonsense_days(db, days):
    from mediasync.errors import InvalidInput

    with pytest.raises(InvalidInput):
        Retention(db).purge(days)
