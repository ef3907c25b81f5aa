"""The sync triggers on media_files, on a real PostgreSQL: bulk deletes, soft deletes, cascades,
TRUNCATE, and one live notification per statement."""

from __future__ import annotations

import json

import psycopg
import pytest


def seed_media(conn: psycopg.Connection, n: int, prefix: str = "main-uploads/asset") -> None:
    conn.execute(
        "INSERT INTO media_files (public_id, resource_type, format, bytes, folder) "
        "SELECT %s || '-' || g, CASE WHEN g %% 10 = 0 THEN 'video' ELSE 'image' END, 'png', 1000 + g, 'main-uploads' "
        "FROM generate_series(1, %s) g", (prefix, n))


def queue_rows(conn: psycopg.Connection) -> list[dict]:
    return conn.execute("SELECT * FROM cloudinary_cleanup_queue ORDER BY id").fetchall()


def test_bulk_delete_enqueues_every_asset_in_the_same_transaction(db, conn):
    seed_media(conn, 10_000)
    with db.transaction() as tx:
        tx.sql("DELETE FROM media_files")
        inside = tx.sql("SELECT status, reason, count(*) AS n FROM cloudinary_cleanup_queue GROUP BY status, reason")
        # Every asset, in the same transaction, as one deletion batch the delete brake holds
        # (10,000 assets, the whole library).
        assert inside == [{"status": "held", "reason": "db_delete", "n": 10_000}]
    rows = queue_rows(conn)
    assert len(rows) == 10_000
    assert len({(r["public_id"], r["resource_type"]) for r in rows}) == 10_000
    assert sum(r["resource_type"] == "video" for r in rows) == 1_000
    assert all(r["max_attempts"] == 3 and r["attempts"] == 0 and r["media_file_id"] for r in rows)


def test_rolled_back_delete_enqueues_nothing(db, conn):
    seed_media(conn, 500)
    with pytest.raises(RuntimeError), db.transaction() as tx:
        tx.sql("DELETE FROM media_files")
        raise RuntimeError("abort")
    assert queue_rows(conn) == []
    assert conn.execute("SELECT count(*) AS n FROM media_files").fetchone()["n"] == 500


def test_soft_delete_by_plain_sql_enqueues_once(conn):
    seed_media(conn, 3)
    conn.execute("UPDATE media_files SET format = 'jpg'")  # not a delete
    assert queue_rows(conn) == []
    conn.execute("UPDATE media_files SET status = 'deleted' WHERE public_id = 'main-uploads/asset-1'")
    conn.execute("UPDATE media_files SET status = 'deleted' WHERE public_id = 'main-uploads/asset-1'")  # again
    rows = queue_rows(conn)
    assert [(r["public_id"], r["reason"], r["status"]) for r in rows] == [
        ("main-uploads/asset-1", "soft_delete", "pending")]
    row = conn.execute("SELECT status, deleted_at, updated_at > created_at AS touched FROM media_files "
                       "WHERE public_id = 'main-uploads/asset-1'").fetchone()
    assert row["status"] == "deleted" and row["deleted_at"] is not None and row["touched"]


def test_delete_reason_comes_from_the_session_setting(db, conn):
    seed_media(conn, 2)
    with db.transaction() as tx:
        tx.sql("SET LOCAL mediasync.delete_reason = 'hard_delete'")
        tx.sql("DELETE FROM media_files WHERE public_id = 'main-uploads/asset-1'")
    conn.execute("DELETE FROM media_files")
    assert [r["reason"] for r in queue_rows(conn)] == ["hard_delete", "db_delete"]


def test_hard_delete_cascades_to_tags_and_usage(conn):
    seed_media(conn, 2)
    media_id = conn.execute("SELECT id FROM media_files WHERE public_id = 'main-uploads/asset-1'").fetchone()["id"]
    conn.execute("INSERT INTO media_tags (media_file_id, tag) VALUES (%s, 'hero'), (%s, 'banner')",
                 (media_id, media_id))
    conn.execute("INSERT INTO media_usage (media_file_id, entity_type, entity_id, field) "
                 "VALUES (%s, 'restaurant', 'r-1', 'logo')", (media_id,))
    conn.execute("DELETE FROM media_files WHERE id = %s", (media_id,))
    assert conn.execute("SELECT count(*) AS n FROM media_tags").fetchone()["n"] == 0
    assert conn.execute("SELECT count(*) AS n FROM media_usage").fetchone()["n"] == 0
    assert [r["media_file_id"] for r in queue_rows(conn)] == [media_id]


def test_truncate_enqueues_every_asset(conn):
    seed_media(conn, 50)
    conn.execute("TRUNCATE media_files CASCADE")
    assert len(queue_rows(conn)) == 50


def test_an_asset_is_queued_once_while_its_cleanup_is_open(conn):
    seed_media(conn, 1)
    conn.execute("UPDATE media_files SET status = 'deleted'")
    conn.execute("DELETE FROM media_files")
    assert [r["reason"] for r in queue_rows(conn)] == ["soft_delete"]


def listen(url: str) -> psycopg.Connection:
    listener = psycopg.connect(url, autocommit=True)
    listener.execute("LISTEN mediasync_media_changes")
    return listener


def drain_notifications(listener: psycopg.Connection, timeout: float = 1.0) -> list[dict]:
    return [json.loads(n.payload) for n in listener.notifies(timeout=timeout, stop_after=None)]


def test_one_notification_per_statement_with_the_affected_ids(db_url, conn):
    listener = listen(db_url)
    try:
        seed_media(conn, 3)
        conn.execute("UPDATE media_files SET status = 'deleted' WHERE public_id = 'main-uploads/asset-2'")
        conn.execute("DELETE FROM media_files")
        conn.execute("DELETE FROM media_files")  # touches nothing: no notification
        events = drain_notifications(listener)
    finally:
        listener.close()
    assert [(e["op"], e["count"]) for e in events] == [("INSERT", 3), ("UPDATE", 1), ("DELETE", 3)]
    assert all(e["table"] == "media_files" for e in events)
    assert len(events[0]["ids"]) == 3 and len(set(events[2]["ids"])) == 3


def test_large_statement_notifies_a_count_instead_of_ids(db_url, conn):
    listener = listen(db_url)
    try:
        seed_media(conn, 5_000)
        events = drain_notifications(listener)
    finally:
        listener.close()
    assert events == [{"op": "INSERT", "table": "media_files", "count": 5_000, "truncated": True}]


def test_big_delete_notifies_a_count_and_small_deletes_still_list_their_ids(db_url, conn):
    """041 counts before it aggregates: the payloads must be 003's exactly. A uuid costs 40 bytes
    of payload, so a DELETE of 198 rows is the largest that still lists its ids (7,983 bytes)."""
    seed_media(conn, 20_000)
    first = {str(r["id"]) for r in conn.execute(
        "SELECT id FROM media_files WHERE public_id IN (SELECT 'main-uploads/asset-' || g "
        "FROM generate_series(1, 199) g)").fetchall()}
    listener = listen(db_url)
    try:
        conn.execute("DELETE FROM media_files WHERE public_id = 'main-uploads/asset-1'")
        conn.execute("DELETE FROM media_files WHERE public_id IN "
                     "(SELECT 'main-uploads/asset-' || g FROM generate_series(2, 199) g)")
        conn.execute("DELETE FROM media_files WHERE public_id IN "
                     "(SELECT 'main-uploads/asset-' || g FROM generate_series(200, 398) g)")
        conn.execute("DELETE FROM media_files")
        events = drain_notifications(listener)
    finally:
        listener.close()
    assert [(e["op"], e["count"], len(e.get("ids", [])), e.get("truncated")) for e in events] == [
        ("DELETE", 1, 1, None), ("DELETE", 198, 198, None), ("DELETE", 199, 0, True), ("DELETE", 19_602, 0, True)]
    assert events[3] == {"op": "DELETE", "table": "media_files", "count": 19_602, "truncated": True}
    assert {*events[0]["ids"], *events[1]["ids"]} == first and len(set(events[1]["ids"])) == 198
    assert conn.execute("SELECT count(*) AS n FROM cloudinary_cleanup_queue").fetchone()["n"] == 20_000
