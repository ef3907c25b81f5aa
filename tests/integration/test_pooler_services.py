"""What works through Supabase's transaction pooler (PgBouncer, `pool_mode = transaction`), proven
with the services wired as production wires them: uploads (and their compensation), soft, hard and
plain-SQL deletes, the cleanup queue's claims, guard transactions and outcomes (retries, failures,
a restore inside the claim window), retention, and the Cloudinary notification ingest."""

from __future__ import annotations

import pytest

from fixtures import notifications as cld
from fixtures.media import tiny_png
from mediasync.db import Database, connection_mode
from mediasync.errors import DatabaseUnavailable
from mediasync.repository.media import MediaRepository
from mediasync.runtime import Services, build_services
from mediasync.services.media_library import MediaLibraryService
from mediasync.services.retry import RetryPolicy


@pytest.fixture
def pooled(pooled_db_url, cloudinary_store, settings) -> Services:
    """The services on this test's database through the transaction pooler."""
    db = Database(pooled_db_url, max_attempts=settings.max_attempts)
    assert connection_mode(db).mode == "transaction pooler"
    built = build_services(db, cloudinary_store, settings)
    built.processor.queue.retry_policy = RetryPolicy(base_seconds=0, jitter=0)
    return built


def asset_exists(emulator, public_id: str) -> bool:
    return emulator.emulator.state.get("image", "upload", public_id) is not None


def queue_rows(conn) -> list[dict]:
    return conn.execute("SELECT public_id, reason, status, attempts, jsonb_array_length(errors) AS errors "
                        "FROM cloudinary_cleanup_queue ORDER BY id").fetchall()


def test_upload_list_and_the_three_deletes(pooled, emulator, conn):
    kept, soft, hard, by_sql = (pooled.media.upload(tiny_png(i), f"p{i}.png", tags=["pooled"]) for i in range(4))
    assert {r.id for r in pooled.media.list(limit=10).items} == {kept.id, soft.id, hard.id, by_sql.id}

    assert pooled.media.soft_delete(soft.id).cloudinary == "deleted"
    assert pooled.media.hard_delete(hard.id).cloudinary == "deleted"
    with pooled.db.transaction() as tx:  # a plain SQL DELETE through the pooler: the trigger queues it
        MediaRepository().delete_as_plain_sql(tx, by_sql.id)
    drained = pooled.processor.process()

    assert drained.completed == 1 and drained.deleted == 1
    assert [asset_exists(emulator, r.public_id) for r in (kept, soft, hard, by_sql)] == [True, False, False, False]
    assert conn.execute("SELECT status FROM media_files WHERE id = %s", (soft.id,)).fetchone()["status"] == "deleted"
    assert conn.execute("SELECT count(*) AS n FROM media_tags").fetchone()["n"] == 2  # kept's and soft's
    assert [(r["reason"], r["status"], r["attempts"]) for r in queue_rows(conn)] == [
        ("soft_delete", "completed", 1), ("hard_delete", "completed", 1), ("db_delete", "completed", 1)]


def test_a_failed_save_after_upload_is_compensated(pooled, emulator, settings):
    class FailingSave(MediaRepository):
        def insert(self, conn, asset, tags=()):
            raise DatabaseUnavailable("simulated: the row could not be saved")

    media = MediaLibraryService(pooled.db, pooled.store, settings, repository=FailingSave())
    with pytest.raises(DatabaseUnavailable):
        media.upload(tiny_png(9), "lost.png")
    assert emulator.settings()["assets"] == 0


def test_the_drain_retries_records_and_fails_through_the_pooler(pooled, emulator, conn):
    conn.execute("INSERT INTO cloudinary_cleanup_queue (public_id, reason, max_attempts) "
                 "SELECT 'main-uploads/gone' || g, 'db_delete', 2 FROM generate_series(1, 250) g")
    emulator.control(fail_rate=1.0)
    drains = []
    while pooled.processor.stats().pending and len(drains) < 10:  # retries are due at once (zero backoff)
        drains.append(pooled.processor.process())
    emulator.control(fail_rate=0.0)
    assert sum(d.claimed for d in drains) == 500 and sum(d.completed for d in drains) == 0
    assert (sum(d.retrying for d in drains), sum(d.failed for d in drains)) == (250, 250)
    assert {(r["status"], r["attempts"], r["errors"]) for r in queue_rows(conn)} == {("failed", 2, 2)}

    retried = pooled.processor.process(retry_failed=True)
    assert retried.completed == 250 and retried.not_found == 250  # Cloudinary never had them: success
    assert {r["status"] for r in queue_rows(conn)} == {"completed"}


def test_a_restore_inside_the_claim_window_keeps_the_asset(pooled, emulator, conn):
    """The guard transaction re-checks the row inside the transaction that deletes: through the
    pooler it still sees a restore made between the claim and the Cloudinary call."""
    record = pooled.media.upload(tiny_png(5), "restored.png")
    conn.execute("UPDATE media_files SET status = 'deleted' WHERE id = %s", (record.id,))
    claimed = pooled.queue.claim(10)
    conn.execute("UPDATE media_files SET status = 'active' WHERE id = %s", (record.id,))
    result = pooled.queue.settle(claimed)
    assert result.skipped_in_use == 1 and result.deleted == 0 and asset_exists(emulator, record.public_id)


def test_lease_rescue_and_stats_through_the_pooler(pooled, conn):
    conn.execute("INSERT INTO cloudinary_cleanup_queue (public_id, reason, status, attempts, locked_until) "
                 "VALUES ('main-uploads/stale', 'db_delete', 'processing', 1, now() - interval '1 minute')")
    assert pooled.queue.rescue_expired() == 1
    stats = pooled.processor.stats()
    assert (stats.pending, stats.processing) == (1, 0)


def test_retention_purges_in_batches_through_the_pooler(pooled_db_url, conn):
    from mediasync.services.retention import Retention

    conn.execute("INSERT INTO cloudinary_cleanup_queue (public_id, reason, status, completed_at) "
                 "SELECT 'main-uploads/old' || g, 'db_delete', 'completed', now() - interval '40 days' "
                 "FROM generate_series(1, 120) g")
    conn.execute("INSERT INTO cloudinary_cleanup_queue (public_id, reason, status, completed_at) "
                 "VALUES ('main-uploads/recent', 'db_delete', 'completed', now() - interval '1 day')")
    result = Retention(Database(pooled_db_url), batch_size=50).purge(30)
    assert result.deleted == 120 and result.batches >= 3
    assert [r["public_id"] for r in queue_rows(conn)] == ["main-uploads/recent"]


def test_notifications_are_ingested_once_through_the_pooler(pooled, emulator, conn):
    record = pooled.media.upload(tiny_png(7), "console.png")
    row = conn.execute("SELECT * FROM media_files WHERE id = %s", (record.id,)).fetchone()
    signed = cld.sign(cld.encode(cld.delete(row)), emulator.api_secret)
    first = pooled.notifications.ingest(signed.raw, signed.timestamp, signed.signature)
    again = pooled.notifications.ingest(signed.raw, signed.timestamp, signed.signature)
    assert (first.outcome, first.changed_rows, again.duplicate) == ("applied", 1, True)
    after = conn.execute("SELECT status, deleted_by FROM media_files WHERE id = %s", (record.id,)).fetchone()
    assert (after["status"], after["deleted_by"]) == ("deleted", "cloudinary")
    assert conn.execute("SELECT count(*) AS n FROM mediasync.cloudinary_notifications").fetchone()["n"] == 1
