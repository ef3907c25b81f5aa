"""The budget-aware deleter against the emulator: Admin API `delete_resources` while the hourly
allowance is above the reconciliation's reserve, Upload API `destroy` below it or after a 420,
and back to the Admin API once the allowance resets."""

from __future__ import annotations

import time

import pytest

from fixtures.emulator import seeded_public_id
from mediasync.clients.cloudinary import CloudinaryClient, CloudinaryCredentials
from mediasync.services.queue import CleanupQueue
from mediasync.services.retry import RetryPolicy


def queue_seeded(emulator, conn, n: int, prefix: str = "main-uploads/d") -> None:
    """`n` assets in the emulator and a queue entry for each (public_ids as the folder mode names them)."""
    emulator.seed(n, prefix=prefix)
    name = seeded_public_id(emulator.settings()["folder_mode"], prefix, 0)[:-7]
    conn.execute("INSERT INTO cloudinary_cleanup_queue (public_id, reason) "
                 "SELECT %s || lpad(g::text, 7, '0'), 'db_delete' FROM generate_series(0, %s - 1) g", (name, n))


def upload_api_calls(emulator) -> int:
    settings = emulator.settings()
    return settings.get("upload_api_calls", settings["api_requests"] - settings["admin_calls"])


@pytest.fixture
def make_queue(db, cloudinary_store):
    def build(reserve: int, concurrency: int = 4) -> CleanupQueue:
        return CleanupQueue(db, cloudinary_store, admin_reserve=reserve, concurrency=concurrency,
                            destroy_concurrency=8, retry_policy=RetryPolicy(base_seconds=0, jitter=0))
    return build


def test_admin_api_while_the_allowance_is_above_the_reserve_then_destroy(make_queue, emulator, conn):
    queue_seeded(emulator, conn, 1000)
    emulator.control(rate_limit=5)  # five Admin calls this hour; two kept for reconciliation
    result = make_queue(reserve=2).process(batch_size=100)

    assert result.completed == 1000 and result.deleted == 1000 and result.failed == result.rate_limited == 0
    assert result.admin_calls == 3 and emulator.admin_calls() == 3  # never below the reserve, overlap included
    assert result.deleted_via_admin == 300 and result.deleted_via_upload_api == 700
    assert result.upload_api_calls == 700 and upload_api_calls(emulator) == 700
    assert emulator.settings()["assets"] == 0
    assert emulator.settings()["admin_calls_in_window"] == 3  # 2 left for the reconciliation's listing


def test_a_420_switches_to_destroy_without_burning_attempts_then_back_after_the_reset(make_queue, emulator, conn):
    queue = make_queue(reserve=0)
    emulator.control(rate_limit=3, rate_limit_window_seconds=3)
    queue_seeded(emulator, conn, 100, prefix="main-uploads/first")
    assert queue.process().deleted_via_admin == 100  # the allowance says 2 left
    listing = CloudinaryClient(CloudinaryCredentials.from_url(emulator.cloudinary_url))
    list(listing.iter_pages("video"))  # another process (a listing) spends them: this client does not know
    list(listing.iter_pages("raw"))

    queue_seeded(emulator, conn, 200, prefix="main-uploads/second")
    refused = queue.process()
    assert refused.completed == 200 and refused.rate_limited == 0 and refused.failed == 0
    assert refused.deleted_via_upload_api == 200 and refused.deleted_via_admin == 0
    assert refused.admin_calls == 1  # the one Cloudinary refused with 420: no more were tried
    attempts = {r["attempts"] for r in conn.execute(
        "SELECT attempts FROM cloudinary_cleanup_queue WHERE public_id LIKE '%second%'")}
    assert attempts == {1}

    time.sleep(3.2)  # the window resets
    queue_seeded(emulator, conn, 100, prefix="main-uploads/third")
    back = queue.process()
    assert back.deleted_via_admin == 100 and back.upload_api_calls == 0


def test_without_a_destroy_path_a_rate_limit_defers_the_rest(db, emulator, conn, cloudinary_store):
    class AdminOnly:
        def delete_many(self, public_ids, resource_type="image", type="upload"):
            return cloudinary_store.delete_many(public_ids, resource_type, type)

    queue_seeded(emulator, conn, 300)
    emulator.control(rate_limit=1)
    result = CleanupQueue(db, AdminOnly(), concurrency=4).process(batch_size=100)
    assert result.deleted == 100 and result.rate_limited == 200 and result.stopped_by == "rate_limited"
    assert {(r["status"], r["attempts"]) for r in conn.execute(
        "SELECT status, attempts FROM cloudinary_cleanup_queue WHERE status <> 'completed'")} == {("pending", 0)}
