"""MEDIASYNC_MAX_ATTEMPTS reaches every path that enqueues — a `DELETE` typed in psql included —
through `mediasync.runtime_settings`, written by `db upgrade`, the queue processor and applied
reconciliations (no connection option a psql session would lack)."""

from __future__ import annotations

from dataclasses import replace

from fixtures.media import tiny_png
from mediasync.db import Database
from mediasync.repository.migrations import upgrade


def attempts_of_new_entries(conn) -> set[int]:
    return {r["max_attempts"] for r in conn.execute("SELECT max_attempts FROM cloudinary_cleanup_queue")}


def test_db_upgrade_publishes_max_attempts_for_a_psql_delete(db_url, conn):
    upgrade(Database(db_url, max_attempts=5))
    conn.execute("INSERT INTO media_files (public_id) VALUES ('main-uploads/a'), ('main-uploads/b')")
    conn.execute("DELETE FROM media_files")  # plain SQL, no mediasync session settings
    assert attempts_of_new_entries(conn) == {5}

    upgrade(Database(db_url))  # an upgrade that is not told the setting leaves it alone
    conn.execute("INSERT INTO media_files (public_id) VALUES ('main-uploads/c')")
    conn.execute("UPDATE media_files SET status = 'deleted'")
    assert attempts_of_new_entries(conn) == {5}


def test_the_processor_and_reconciliation_publish_the_configured_value(services, cloudinary_store, conn):
    services.processor.settings = replace(services.processor.settings, max_attempts=7)
    services.processor.process()
    conn.execute("INSERT INTO media_files (public_id) VALUES ('main-uploads/x')")
    conn.execute("DELETE FROM media_files WHERE public_id = 'main-uploads/x'")
    assert attempts_of_new_entries(conn) == {7}

    conn.execute("DELETE FROM cloudinary_cleanup_queue")
    cloudinary_store.upload(tiny_png(1), upload_preset="tap2go-uploads", folder="main-uploads",
                            resource_type="image", filename="orphan.png")
    services.reconciler.settings = replace(services.reconciler.settings, max_attempts=4)
    result = services.reconciler.run(apply=True, grace_minutes=0, process_queue=False)
    assert result.counts["queued_deletions"] == 1
    assert attempts_of_new_entries(conn) == {4}
