"""The media library end to end: real PostgreSQL, the official cloudinary SDK against the emulator."""

from __future__ import annotations

import json

import psycopg
import pytest

from fixtures import polyglots
from fixtures.media import tiny_png
from mediasync.errors import InvalidInput, MediasyncError, NotFound


def asset_ids(hook, folder: str = "main-uploads") -> set[str]:
    """The image assets in `folder` (its asset folder: in fixed folder mode, the public_id's path)."""
    return {a.public_id for a in hook.iter_resources("image", "upload", None) if a.asset_folder == folder}


def test_upload_puts_the_asset_in_cloudinary_and_the_row_in_the_database(services, cloudinary_store, db_url, conn,
                                                                         emulator_folder_mode):
    listener = psycopg.connect(db_url, autocommit=True)
    listener.execute("LISTEN mediasync_media_changes")
    try:
        record = services.media.upload(tiny_png(1), "../../etc/Holiday Photo!.PNG", tags=["hero", "hero", "summer"])
        events = [json.loads(n.payload) for n in listener.notifies(timeout=2, stop_after=1)]
    finally:
        listener.close()
    assert record.folder == "main-uploads" and record.asset_folder == "main-uploads" and record.asset_id
    assert record.public_id.startswith("main-uploads/") == (emulator_folder_mode == "fixed")
    assert record.status == "active" and record.resource_type == "image" and record.format == "png"
    assert record.bytes == len(tiny_png(1)) and record.width == 1 and record.height == 1
    assert record.original_filename and "/" not in record.original_filename
    assert record.tags == ["hero", "summer"]
    assert asset_ids(cloudinary_store) == {record.public_id}
    assert events == [{"op": "INSERT", "table": "media_files", "count": 1, "ids": [str(record.id)]}]
    assert services.media.get(record.id) == record


@pytest.mark.parametrize(("payload", "name", "folder", "status"), [
    (b"", "empty.png", None, 400),
    (b"just some text, not an image", "notes.png", None, 415),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * (6 * 1024 * 1024), "huge.png", None, 413),
    (tiny_png(2), "ok.png", "../escape", 422),
])
def test_bad_uploads_are_refused_before_anything_is_stored(services, cloudinary_store, conn, payload, name, folder,
                                                           status):
    with pytest.raises(InvalidInput) as refused:
        services.media.upload(payload, name, folder=folder)
    assert refused.value.status_code == status
    assert asset_ids(cloudinary_store, "") == set()
    assert conn.execute("SELECT count(*) AS n FROM media_files").fetchone()["n"] == 0


@pytest.mark.parametrize(("payload", "folder", "status"), [
    (polyglots.JPEG_HEADER_AND_HTML, None, 415),
    (polyglots.jpeg_with_html_appended(), None, 415),
    (polyglots.gif_js_polyglot(), None, 415),
    (polyglots.PDF_WITH_SCRIPT, None, 415),
    (polyglots.png_claiming(4_294_967_295, 4_294_967_295), None, 413),  # never a 503 "database unavailable"
    (tiny_png(7), "other-app", 422),
    (tiny_png(7), "main-uploads-evil", 422),  # a name that merely starts like the managed folder
    (tiny_png(7), "other-app/main-uploads", 422),
])
def test_polyglots_huge_images_and_foreign_folders_are_refused_before_anything_is_stored(
        services, cloudinary_store, conn, payload, folder, status):
    with pytest.raises(InvalidInput) as refused:
        services.media.upload(payload, "x.bin", folder=folder)
    assert refused.value.status_code == status
    assert asset_ids(cloudinary_store, "") == set()
    assert conn.execute("SELECT count(*) AS n FROM media_files").fetchone()["n"] == 0


def test_uploads_go_into_managed_subfolders_and_real_media_of_every_kind(services, cloudinary_store,
                                                                        emulator_folder_mode):
    record = services.media.upload(polyglots.image_bytes("JPEG", seed=3), "photo.jpg", folder="main-uploads/menus")
    assert record.folder == "main-uploads/menus"
    if emulator_folder_mode == "fixed":  # dynamic folders: the folder is the asset's asset_folder, not a prefix
        assert record.public_id.startswith("main-uploads/menus/")
    else:
        assert record.asset_folder == "main-uploads/menus" and "/" not in record.public_id
    gif = services.media.upload(polyglots.image_bytes("GIF", seed=4), "anim.gif")
    assert gif.format == "gif"


def test_a_stream_is_uploaded_without_reading_it_first(services, cloudinary_store):
    import io

    class OneWayStream(io.RawIOBase):  # a socket-like body: cannot seek
        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            return self._data.read(size)

    record = services.media.upload(OneWayStream(tiny_png(8)), "stream.png")
    assert record.bytes == len(tiny_png(8))


def fail_inserts(conn) -> None:
    conn.execute("""
        CREATE FUNCTION fail_insert() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN RAISE EXCEPTION 'disk full (simulated)'; END $$;
        CREATE TRIGGER fail_insert BEFORE INSERT ON media_files FOR EACH ROW EXECUTE FUNCTION fail_insert();
    """)


def test_failed_save_after_upload_destroys_the_asset(services, cloudinary_store, conn):
    fail_inserts(conn)
    with pytest.raises(MediasyncError, match="disk full"):
        services.media.upload(tiny_png(3), "photo.png")
    assert asset_ids(cloudinary_store, "") == set()
    assert conn.execute("SELECT count(*) AS n FROM cloudinary_cleanup_queue").fetchone()["n"] == 0


def test_when_destroy_fails_too_the_asset_is_queued_not_orphaned(services, cloudinary_store, emulator, conn):
    fail_inserts(conn)
    real_upload = cloudinary_store.upload

    def upload_then_cloudinary_goes_down(*args, **kwargs):
        asset = real_upload(*args, **kwargs)
        emulator.control(fail_rate=1.0)
        return asset

    cloudinary_store.upload = upload_then_cloudinary_goes_down
    with pytest.raises(MediasyncError):
        services.media.upload(tiny_png(4), "photo.png")
    queued = conn.execute("SELECT public_id, reason, status FROM cloudinary_cleanup_queue").fetchall()
    assert [(q["reason"], q["status"]) for q in queued] == [("upload_compensation", "pending")]
    emulator.control(fail_rate=0.0)
    assert services.processor.process().deleted == 1
    assert asset_ids(cloudinary_store, "") == set()


def test_soft_delete_marks_the_row_and_removes_the_asset(services, cloudinary_store, conn):
    record = services.media.upload(tiny_png(5), "a.png")
    outcome = services.media.soft_delete(record.id)
    assert (outcome.mode, outcome.cloudinary) == ("soft", "deleted")
    row = services.media.get(record.id)
    assert row.status == "deleted" and row.deleted_at is not None
    assert asset_ids(cloudinary_store) == set()
    entry = conn.execute("SELECT reason, status FROM cloudinary_cleanup_queue").fetchall()
    assert entry == [{"reason": "soft_delete", "status": "completed"}]
    again = services.media.soft_delete(record.id)  # idempotent
    assert again.cloudinary == "not_found"


def test_hard_delete_removes_row_tags_usage_and_asset(services, cloudinary_store, conn):
    record = services.media.upload(tiny_png(6), "b.png", tags=["menu"])
    conn.execute("INSERT INTO media_usage (media_file_id, entity_type, entity_id) VALUES (%s, 'restaurant', '7')",
                 (record.id,))
    outcome = services.media.hard_delete(record.id)
    assert (outcome.mode, outcome.cloudinary) == ("hard", "deleted")
    counts = conn.execute("SELECT (SELECT count(*) FROM media_files) AS f, (SELECT count(*) FROM media_tags) AS t, "
                          "(SELECT count(*) FROM media_usage) AS u").fetchone()
    assert counts == {"f": 0, "t": 0, "u": 0}
    assert asset_ids(cloudinary_store) == set()
    assert conn.execute("SELECT reason FROM cloudinary_cleanup_queue").fetchone()["reason"] == "hard_delete"
    with pytest.raises(NotFound):
        services.media.hard_delete(record.id)


def test_direct_sql_delete_is_processed_and_the_asset_goes(services, cloudinary_store, conn):
    records = [services.media.upload(tiny_png(10 + i), f"c{i}.png") for i in range(3)]
    conn.execute("DELETE FROM media_files")
    assert len(asset_ids(cloudinary_store)) == 3
    result = services.processor.process()
    assert (result.claimed, result.deleted, result.store_calls) == (3, 3, 1)
    assert asset_ids(cloudinary_store) == set()
    assert {r.public_id for r in records} == {
        q["public_id"] for q in conn.execute("SELECT public_id FROM cloudinary_cleanup_queue WHERE status='completed'")}


def test_cloudinary_down_during_delete_is_retried_until_it_is_back(services, cloudinary_store, emulator, conn):
    record = services.media.upload(tiny_png(20), "d.png")
    emulator.control(fail_rate=1.0)
    outcome = services.media.soft_delete(record.id)
    assert outcome.cloudinary == "queued" and "retried" in outcome.message
    assert services.media.get(record.id).status == "deleted"
    entry = conn.execute("SELECT status, attempts, last_error FROM cloudinary_cleanup_queue").fetchone()
    assert entry["status"] == "pending" and entry["attempts"] == 1 and entry["last_error"]
    emulator.control(fail_rate=0.0)
    assert services.processor.process().deleted == 1
    assert conn.execute("SELECT status FROM cloudinary_cleanup_queue").fetchone()["status"] == "completed"
    assert asset_ids(cloudinary_store) == set()


def test_list_pages_newest_first_and_filters_by_status(services):
    records = [services.media.upload(tiny_png(30 + i), f"e{i}.png") for i in range(5)]
    services.media.soft_delete(records[0].id)
    first = services.media.list(limit=3)
    second = services.media.list(limit=3, cursor=first.next_cursor)
    assert first.next_cursor and second.next_cursor is None
    assert [r.id for r in first.items + second.items] == [r.id for r in reversed(records[1:])]
    assert [r.id for r in services.media.list(status="deleted").items] == [records[0].id]
    assert len(services.media.list(status=None).items) == 5
    with pytest.raises(InvalidInput):
        services.media.list(status="gone")
    with pytest.raises(InvalidInput):
        services.media.list(cursor="not-a-cursor")
    with pytest.raises(NotFound):
        services.media.get("not-a-uuid")
