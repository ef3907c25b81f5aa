"""The claim/delete race (issue 16.2): an entry claimed for deletion must not delete an asset that
an active row uses again — a restore, or a new row for the same public_id — whether that happens
between the claim and the Cloudinary call (the window is widened by claiming, acting, then
settling) or while the call is in flight (the restore waits for the guard, then fails cleanly)."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from fixtures.media import tiny_png


def asset_exists(emulator, public_id: str) -> bool:
    return emulator.emulator.state.get("image", "upload", public_id) is not None


def entry(conn, public_id: str) -> dict:
    return conn.execute("SELECT status, attempts, errors FROM cloudinary_cleanup_queue WHERE public_id = %s "
                        "ORDER BY id DESC LIMIT 1", (public_id,)).fetchone()


def test_restore_between_claim_and_delete_keeps_the_asset(services, emulator, conn):
    record = services.media.upload(tiny_png(1), "restored.png")
    conn.execute("UPDATE media_files SET status = 'deleted' WHERE id = %s", (record.id,))  # trigger queues it
    claimed = services.queue.claim(10)
    assert [i.public_id for i in claimed] == [record.public_id]
    assert conn.execute("SELECT status FROM media_files WHERE id = %s", (record.id,)).fetchone()["status"] == "deleted"

    conn.execute("UPDATE media_files SET status = 'active' WHERE id = %s", (record.id,))  # restored in the window
    result = services.queue.settle(claimed)

    assert result.skipped_in_use == 1 and result.deleted == 0 and result.store_calls == 0
    assert asset_exists(emulator, record.public_id)
    assert conn.execute("SELECT status FROM media_files WHERE id = %s", (record.id,)).fetchone()["status"] == "active"
    row = entry(conn, record.public_id)
    assert row["status"] == "completed" and row["errors"][-1]["note"].startswith("skipped: an active")


def test_new_row_for_the_same_public_id_between_claim_and_delete_keeps_the_asset(services, emulator, conn):
    record = services.media.upload(tiny_png(2), "reuploaded.png")
    conn.execute("DELETE FROM media_files WHERE id = %s", (record.id,))  # trigger queues it
    claimed = services.queue.claim(10)
    assert len(claimed) == 1

    # The same public_id uploaded again (overwrite) and saved as a new row, inside the window.
    conn.execute("INSERT INTO media_files (public_id, format, bytes, folder) VALUES (%s, 'png', 1, 'main-uploads')",
                 (record.public_id,))
    result = services.queue.settle(claimed)

    assert result.skipped_in_use == 1 and result.deleted == 0
    assert asset_exists(emulator, record.public_id)
    assert entry(conn, record.public_id)["status"] == "completed"


def test_restore_while_the_delete_call_is_in_flight_waits_then_fails_cleanly(services, emulator, conn, db_url):
    record = services.media.upload(tiny_png(3), "late.png")
    conn.execute("UPDATE media_files SET status = 'deleted' WHERE id = %s", (record.id,))
    claimed = services.queue.claim(10)
    emulator.control(latency_ms=1500)  # holds the guard inside the Cloudinary call
    settled: dict = {}
    worker = threading.Thread(target=lambda: settled.update(result=services.queue.settle(claimed)))
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while not conn.execute("SELECT count(*) AS n FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                               "WHERE l.locktype = 'transactionid' AND a.datname = current_database() "
                               "AND a.pid <> pg_backend_pid() AND a.state = 'idle in transaction'"
                               ).fetchone()["n"]:
            assert time.monotonic() < deadline, "the guard never held its transaction open"
            time.sleep(0.05)
        started = time.monotonic()
        with psycopg.connect(db_url, autocommit=True) as restorer, \
                pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="was deleted from Cloudinary while"):
            restorer.execute("UPDATE media_files SET status = 'active' WHERE id = %s", (record.id,))
        waited = time.monotonic() - started
    finally:
        worker.join(timeout=30)
        emulator.control(latency_ms=0)

    assert waited > 0.3  # it waited for the in-flight delete instead of racing it
    assert settled["result"].deleted == 1
    assert not asset_exists(emulator, record.public_id)
    # Consistent either way: the row stays deleted, as its asset is gone.
    assert conn.execute("SELECT status FROM media_files WHERE id = %s", (record.id,)).fetchone()["status"] == "deleted"
    assert entry(conn, record.public_id)["status"] == "completed"


def test_restore_of_a_pending_entry_is_not_blocked_and_the_drain_keeps_the_asset(services, emulator, conn):
    record = services.media.upload(tiny_png(4), "quick.png")
    conn.execute("UPDATE media_files SET status = 'deleted' WHERE id = %s", (record.id,))
    started = time.monotonic()
    conn.execute("UPDATE media_files SET status = 'active' WHERE id = %s", (record.id,))
    assert time.monotonic() - started < 1
    result = services.processor.process()
    assert result.skipped_in_use == 1 and asset_exists(emulator, record.public_id)


def test_an_entry_rescued_and_reclaimed_elsewhere_is_not_settled_by_the_old_claim(services, emulator, conn):
    record = services.media.upload(tiny_png(5), "stale.png")
    conn.execute("DELETE FROM media_files WHERE id = %s", (record.id,))
    stale = services.queue.claim(10)
    conn.execute("UPDATE cloudinary_cleanup_queue SET locked_until = now() - interval '1 second'")
    assert services.queue.rescue_expired() == 1
    fresh = services.queue.claim(10)
    assert fresh[0].attempts == 2

    assert services.queue.settle(stale).completed == 0  # the old claim no longer holds the entry
    assert asset_exists(emulator, record.public_id)
    assert services.queue.settle(fresh).deleted == 1
