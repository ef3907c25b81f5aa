"""Deletes you can stop and undo: a mass SQL DELETE, a TRUNCATE or a row-by-row loop is held in the
deleting transaction itself (no mediasync process needs to run), nothing reaches Cloudinary until an
operator decides, and undo puts every row back exactly as it was — against real PostgreSQL and the
official SDK talking to the emulator, in both folder modes."""

from __future__ import annotations

import threading

import psycopg
import pytest
from psycopg.rows import dict_row

from fixtures.emulator import seeded_public_id
from mediasync.errors import Conflict

PREFIX = "main-uploads/lib"


def set_brake(conn, **values) -> None:
    """What `mediasync db upgrade` publishes from MEDIASYNC_DELETE_* (0 turns a rule off)."""
    for name, value in values.items():
        conn.execute("INSERT INTO mediasync.runtime_settings (name, value) VALUES (%s, %s) "
                     "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value", (name, str(value)))


def library(conn, emulator, mode: str, count: int, prefix: str = PREFIX) -> list[str]:
    """`count` assets in the emulator, each with its media_files row; every 7th row tagged, every
    11th used somewhere. Returns the public ids."""
    emulator.seed(count, prefix=prefix)
    ids = [seeded_public_id(mode, prefix, i) for i in range(count)]
    folder = prefix.rpartition("/")[0]
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO media_files (public_id, format, bytes, width, height, version, folder, "
                        "asset_folder, display_name, original_filename, created_at) "
                        "VALUES (%s, 'png', 68, 2, 2, 1700000000, %s, %s, %s, %s, now() - interval '2 days')",
                        [(p, folder, folder if mode == "dynamic" else None, p.rpartition("/")[2], f"{i}.png")
                         for i, p in enumerate(ids)])
    conn.execute("INSERT INTO media_tags (media_file_id, tag) SELECT id, 'tag-' || (row_number() OVER ())::text "
                 "FROM media_files WHERE public_id = ANY (%s)", ([p for i, p in enumerate(ids) if i % 7 == 0],))
    conn.execute("INSERT INTO media_usage (media_file_id, entity_type, entity_id, field) "
                 "SELECT id, 'post', 'post-' || public_id, 'cover' FROM media_files WHERE public_id = ANY (%s)",
                 ([p for i, p in enumerate(ids) if i % 11 == 0],))
    return ids


def snapshot(conn) -> dict[str, list[dict]]:
    """Every column of every row of the library tables, in a stable order."""
    return {"media_files": conn.execute("SELECT * FROM media_files ORDER BY id").fetchall(),
            "media_tags": conn.execute("SELECT * FROM media_tags ORDER BY media_file_id, tag").fetchall(),
            "media_usage": conn.execute("SELECT * FROM media_usage ORDER BY id").fetchall()}


def batches(conn) -> list[dict]:
    return conn.execute("SELECT * FROM mediasync.deletion_batches ORDER BY id").fetchall()


def queue_by_status(conn) -> dict[str, int]:
    return {r["status"]: r["n"] for r in conn.execute(
        "SELECT status, count(*) AS n FROM cloudinary_cleanup_queue GROUP BY status")}


def test_a_mass_psql_delete_is_held_and_undo_brings_back_every_row_exactly(services, emulator, conn, db_url,
                                                                             emulator_folder_mode):
    library(conn, emulator, emulator_folder_mode, 2500)
    before = snapshot(conn)
    calls = emulator.admin_calls(), emulator.upload_api_calls()
    # A person in psql: a plain connection, no mediasync session settings, no WHERE.
    with psycopg.connect(db_url, autocommit=True, application_name="psql") as psql:
        psql.execute("DELETE FROM media_files")
    for _ in range(3):
        services.processor.process()
    assert (emulator.admin_calls(), emulator.upload_api_calls()) == calls  # not one Cloudinary call
    assert emulator.assets() == 2500
    (batch,) = batches(conn)
    assert (batch["status"], batch["source"], batch["operation"], batch["application_name"]) == (
        "held", "sql", "DELETE", "psql")
    assert (batch["rows_affected"], batch["assets"], batch["queued"]) == (2500, 2500, 2500)
    assert "MEDIASYNC_DELETE_HOLD_THRESHOLD" in batch["hold_reason"] and batch["db_user"]
    assert batch["backend_pid"] and batch["transaction_id"]
    assert queue_by_status(conn) == {"held": 2500}

    result = services.deletions.undo(batch["id"], "ops@example")
    assert (result.rows_restored, result.assets_kept, result.assets_restored) == (2500, 2500, 0)
    assert result.entries_cancelled == 2500 and result.not_restorable == []
    assert snapshot(conn) == before  # every column, ids and timestamps included, with tags and usage
    assert queue_by_status(conn) == {"cancelled": 2500}  # nothing open
    services.processor.process()
    assert (emulator.admin_calls(), emulator.upload_api_calls()) == calls and emulator.assets() == 2500
    (undone,) = batches(conn)
    assert (undone["status"], undone["decided_by"]) == ("undone", "ops@example")


def test_truncate_is_held_and_a_release_lets_the_next_drain_delete_everything(services, emulator, conn,
                                                                             emulator_folder_mode):
    library(conn, emulator, emulator_folder_mode, 1200)
    conn.execute("TRUNCATE media_files CASCADE")
    services.processor.process()
    assert emulator.assets() == 1200
    (batch,) = batches(conn)
    assert (batch["status"], batch["operation"], batch["assets"]) == ("held", "TRUNCATE", 1200)

    released = services.deletions.release(batch["id"], "ops@example")
    assert released.released_entries == 1200 and released.batch.status == "released"
    assert services.deletions.release(batch["id"], "ops@example").already_released  # twice: a no-op
    result = services.processor.process()
    assert result.deleted == 1200 and emulator.assets() == 0
    assert queue_by_status(conn) == {"completed": 1200}


def test_a_row_by_row_loop_past_the_hourly_window_is_held_while_small_deletes_flow_before_it(
        services, emulator, conn, emulator_folder_mode):
    set_brake(conn, delete_hold_window=30)
    ids = library(conn, emulator, emulator_folder_mode, 40)
    for public_id in ids:  # an app bug deleting rows one at a time
        conn.execute("DELETE FROM media_files WHERE public_id = %s", (public_id,))
    statuses = [b["status"] for b in batches(conn)]
    assert statuses == ["flowing"] * 30 + ["held"] * 10
    assert "MEDIASYNC_DELETE_HOLD_WINDOW" in batches(conn)[-1]["hold_reason"]
    services.processor.process()
    assert emulator.assets() == 10  # the first 30 flowed; the 10 after the window are held


def test_a_small_delete_flows_and_the_fraction_rule_holds_a_tenth_of_the_library(services, emulator, conn,
                                                                                emulator_folder_mode):
    ids = library(conn, emulator, emulator_folder_mode, 100)
    conn.execute("DELETE FROM media_files WHERE public_id = ANY (%s)", (ids[:10],))  # 10: never held by the fraction
    conn.execute("DELETE FROM media_files WHERE public_id = ANY (%s)", (ids[10:21],))  # 11 of 90 active: > 10 %
    first, second = batches(conn)
    assert (first["status"], second["status"]) == ("flowing", "held")
    assert "MEDIASYNC_DELETE_HOLD_FRACTION" in second["hold_reason"]
    services.processor.process()
    assert emulator.assets() == 90


def test_the_trash_window_delays_every_deletion_and_undo_inside_it_calls_no_one(services, emulator, conn, settings,
                                                                                emulator_folder_mode):
    from dataclasses import replace

    delayed = replace(settings, delete_delay_seconds=3600)
    services.processor.settings = services.media.settings = delayed
    services.processor.publish_settings()
    ids = library(conn, emulator, emulator_folder_mode, 3)
    row = conn.execute("SELECT id FROM media_files WHERE public_id = %s", (ids[0],)).fetchone()
    outcome = services.media.hard_delete(row["id"], requested_by="alice")
    assert outcome.cloudinary == "queued" and "MEDIASYNC_DELETE_DELAY_SECONDS" in outcome.message
    calls = emulator.admin_calls(), emulator.upload_api_calls()
    services.processor.process()
    assert emulator.assets() == 3 and (emulator.admin_calls(), emulator.upload_api_calls()) == calls
    (batch,) = batches(conn)
    assert (batch["source"], batch["requested_by"], batch["status"]) == ("api", "alice", "flowing")
    result = services.deletions.undo(batch["id"], "alice")
    assert result.rows_restored == 1 and result.entries_cancelled == 1
    assert (emulator.admin_calls(), emulator.upload_api_calls()) == calls
    assert conn.execute("SELECT count(*) AS n FROM media_files").fetchone()["n"] == 3


def test_undo_of_a_soft_delete_makes_the_rows_active_again_exactly_as_they_were(services, emulator, conn,
                                                                                 emulator_folder_mode):
    library(conn, emulator, emulator_folder_mode, 1500)
    before = snapshot(conn)
    conn.execute("UPDATE media_files SET status = 'deleted'")
    (batch,) = batches(conn)
    assert (batch["status"], batch["operation"], batch["reason"]) == ("held", "UPDATE", "soft_delete")
    result = services.deletions.undo(batch["id"], "ops")
    assert result.rows_restored == 1500
    assert snapshot(conn) == before  # active again, updated_at and deleted_* as they were


def test_undo_after_the_assets_were_deleted_without_backups_reports_and_keeps_the_rows_deleted(
        services, emulator, conn, emulator_folder_mode):
    ids = library(conn, emulator, emulator_folder_mode, 5)
    conn.execute("DELETE FROM media_files WHERE public_id = ANY (%s)", (ids[:2],))
    services.processor.process()
    assert emulator.assets() == 3
    (batch,) = batches(conn)
    result = services.deletions.undo(batch["id"], "ops")
    assert result.rows_restored == 0 and result.assets_restored == 0
    assert sorted(n.public_id for n in result.not_restorable) == sorted(ids[:2])
    assert all("could not be restored" in n.reason for n in result.not_restorable)
    assert conn.execute("SELECT count(*) AS n FROM media_files").fetchone()["n"] == 3
    again = services.deletions.undo(batch["id"], "someone else")  # idempotent: the first one's answer
    assert again.already_undone and again.decided_by == "ops" and len(again.not_restorable) == 2


def test_release_after_undo_is_refused_and_nothing_is_deleted(services, emulator, conn, emulator_folder_mode):
    library(conn, emulator, emulator_folder_mode, 1100)
    conn.execute("DELETE FROM media_files")
    (batch,) = batches(conn)
    services.deletions.undo(batch["id"], "ops")
    with pytest.raises(Conflict, match="undone"):
        services.deletions.release(batch["id"], "someone")
    services.processor.process()
    assert emulator.assets() == 1100


@pytest.mark.parametrize("attempt", range(3))
def test_release_and_undo_racing_one_wins_and_nothing_undo_restored_is_deleted(services, emulator, conn,
                                                                               emulator_folder_mode, attempt):
    library(conn, emulator, emulator_folder_mode, 1100)
    conn.execute("DELETE FROM media_files")
    (batch,) = batches(conn)
    start = threading.Barrier(3)
    outcomes: dict[str, object] = {}

    def decide(name, call):
        start.wait()
        try:
            outcomes[name] = call(batch["id"], name)
        except Conflict as exc:
            outcomes[name] = exc

    def drain():
        start.wait()
        for _ in range(5):
            services.processor.process()

    threads = [threading.Thread(target=decide, args=("release", services.deletions.release)),
               threading.Thread(target=decide, args=("undo", services.deletions.undo)),
               threading.Thread(target=drain)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    services.processor.process()
    final = batches(conn)[0]["status"]
    assert final == "undone"  # undo always gets the last word: it overtakes a release
    restored = {r["public_id"] for r in conn.execute("SELECT public_id FROM media_files")}
    listed = {a.public_id for a in services.store.iter_resources()}
    undo = outcomes["undo"]
    assert not isinstance(undo, Exception)
    assert len(restored) == undo.rows_restored  # type: ignore[union-attr]
    assert restored <= listed  # no restored row points at a deleted asset
    assert emulator.assets() >= len(restored)
    assert not conn.execute("SELECT 1 FROM cloudinary_cleanup_queue WHERE status IN ('pending', 'processing', "
                            "'held')").fetchall()


def test_reconciliation_deletions_are_a_batch_the_brake_holds_unless_the_run_was_forced(services, emulator, conn):
    emulator.seed(300, prefix="main-uploads/orphan")
    held = services.reconciler.run(apply=True, grace_minutes=0, max_delete_fraction=1.0, process_queue=False)
    assert held.status == "completed" and held.counts["held_deletions"] == 300
    assert "held by the delete brake" in held.message
    (batch,) = batches(conn)
    assert (batch["source"], batch["status"], batch["assets"]) == ("reconcile", "held", 300)
    services.processor.process()
    assert emulator.assets() == 300
    services.deletions.undo(batch["id"], "ops")  # nothing deleted, nothing to restore
    forced = services.reconciler.run(apply=True, force=True, grace_minutes=0, process_queue=False)
    assert forced.counts["held_deletions"] == 0
    second = batches(conn)[-1]
    assert (second["status"], second["decided_by"]) == ("released", f"reconciliation run {forced.run_id} (force)")
    services.processor.process()
    assert emulator.assets() == 0


def test_the_journal_follows_a_column_added_to_media_files_and_undo_restores_it(services, emulator, conn, db):
    from mediasync.repository.migrations import upgrade

    conn.execute("ALTER TABLE media_files ADD COLUMN caption text")
    upgrade(db)  # every upgrade gives the journal the columns media_files gained
    emulator.seed(1, prefix="main-uploads/cap")
    conn.execute("INSERT INTO media_files (public_id, caption) VALUES ('main-uploads/cap0000000', 'a cat')")
    before = snapshot(conn)
    conn.execute("DELETE FROM media_files")
    (batch,) = batches(conn)
    services.deletions.undo(batch["id"], "ops")
    assert snapshot(conn) == before


def test_a_direct_delete_of_tags_is_not_journaled_but_a_cascade_is(conn, db_url):
    conn.execute("INSERT INTO media_files (public_id) VALUES ('main-uploads/a'), ('main-uploads/b')")
    conn.execute("INSERT INTO media_tags (media_file_id, tag) SELECT id, 't' FROM media_files")
    conn.execute("DELETE FROM media_tags WHERE media_file_id = (SELECT id FROM media_files "
                 "WHERE public_id = 'main-uploads/a')")
    conn.execute("DELETE FROM media_files WHERE public_id = 'main-uploads/b'")
    journaled = conn.execute("SELECT tag FROM mediasync.deleted_media_tags").fetchall()
    assert journaled == [{"tag": "t"}]


def test_a_rolled_back_delete_leaves_no_batch_and_no_journal(db, conn):
    conn.execute("INSERT INTO media_files (public_id) SELECT 'main-uploads/r' || g FROM generate_series(1, 50) g")
    with pytest.raises(RuntimeError), db.transaction() as tx:
        tx.sql("DELETE FROM media_files")
        raise RuntimeError("abort")
    assert batches(conn) == []
    assert conn.execute("SELECT count(*) AS n FROM mediasync.deleted_media_files").fetchone()["n"] == 0


def test_the_queue_stats_count_held_entries_and_batches(services, emulator, conn, emulator_folder_mode):
    library(conn, emulator, emulator_folder_mode, 1050)
    conn.execute("DELETE FROM media_files")
    stats = services.processor.stats()
    assert (stats.held, stats.held_batches, stats.pending) == (1050, 1, 0)


def test_batches_are_listed_newest_first_with_who_and_a_sample(services, emulator, conn, emulator_folder_mode,
                                                              db_url):
    ids = library(conn, emulator, emulator_folder_mode, 20)
    with psycopg.connect(db_url, autocommit=True, application_name="nightly-cleanup", row_factory=dict_row) as other:
        other.execute("DELETE FROM media_files WHERE public_id = %s", (ids[0],))
    conn.execute("DELETE FROM media_files")
    page = services.deletions.list_batches()
    assert [b.status for b in page.items] == ["held", "flowing"]  # 19 of 19 left: the fraction rule
    assert page.items[1].application_name == "nightly-cleanup"
    assert page.items[1].summary.startswith("1 asset (1 row deleted) from nightly-cleanup by ")
    detail = services.deletions.get(page.items[0].id)
    assert len(detail.sample) == 19 and detail.entries == {"held": 19}
    assert [b.id for b in services.deletions.list_batches(status="held").items] == [page.items[0].id]


def test_with_backups_undo_restores_the_assets_and_a_reconciliation_finds_no_placeholder_drift(
        services, emulator, conn, cloudinary_store):
    from fixtures.media import tiny_png

    emulator.control(backups=True)  # an account that keeps backups
    records = [services.media.upload(tiny_png(600 + i), f"kept{i}.png") for i in range(10)]
    conn.execute("INSERT INTO media_tags (media_file_id, tag) VALUES (%s, 'hero')", (records[0].id,))
    before = snapshot(conn)
    conn.execute("DELETE FROM media_files WHERE id = ANY (%s)", ([r.id for r in records[:4]],))
    drained = services.processor.process()
    assert drained.deleted == 4
    listed = {a.public_id: a for a in cloudinary_store.iter_resources()}
    assert listed[records[0].public_id].placeholder and listed[records[0].public_id].bytes == 0
    after_delete = services.reconciler.run(grace_minutes=0)
    assert (after_delete.counts["orphan_asset"], after_delete.counts["undeleted_asset"]) == (0, 0)

    (batch,) = batches(conn)
    result = services.deletions.undo(batch["id"], "ops")
    assert (result.rows_restored, result.assets_restored, result.not_restorable) == (4, 4, [])
    assert snapshot(conn) == before  # every column, the tag too
    live = {a.public_id: a for a in cloudinary_store.iter_resources()}
    assert all(not live[r.public_id].placeholder and live[r.public_id].bytes > 0 for r in records)
    check = services.reconciler.run(grace_minutes=0)
    assert {k: check.counts[k] for k in ("orphan_asset", "undeleted_asset", "missing_asset")} == {
        "orphan_asset": 0, "undeleted_asset": 0, "missing_asset": 0}
