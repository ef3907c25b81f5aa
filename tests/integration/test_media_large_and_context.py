"""The media library's large uploads and contextual metadata, against real PostgreSQL and the
emulator in both folder modes: files over the threshold go to Cloudinary as a chunked upload
(streamed, one asset), a failed save destroys the chunked asset too; alt text and caption are
stored on upload, returned, and follow Cloudinary's `resource_context_changed` notifications."""

from __future__ import annotations

import dataclasses
import hashlib
import io

import httpx
import pytest

from fixtures import notifications as cld
from fixtures import polyglots
from fixtures.media import tiny_png
from mediasync.config import Settings
from mediasync.errors import InvalidInput, MediasyncError

MB = 1024 * 1024
CHANNEL = "mediasync-context"


def video(size: int) -> bytes:
    """An MP4 (ftyp + moov + mdat) of exactly `size` bytes whose media data differ by position."""
    head = polyglots.mp4([(b"ftyp", b"isom\0\0\2\0isomiso2avc1mp41"), (b"moov", b"\0" * 16)])
    body = bytes(range(256)) * ((size - len(head) - 8) // 256 + 1)
    mdat = body[:size - len(head) - 8]
    return head + (8 + len(mdat)).to_bytes(4, "big") + b"mdat" + mdat


@pytest.fixture
def chunking(services):
    """The services with a 6 MB chunked-upload threshold and 5 MB parts (production: 100 MB, 20 MB)."""
    services.media.settings = dataclasses.replace(services.media.settings, max_upload_bytes=64 * MB,
                                                  chunked_upload_threshold_bytes=6 * MB,
                                                  chunked_upload_chunk_bytes=5 * MB)
    return services


def fail_inserts(conn) -> None:
    conn.execute("""
        CREATE FUNCTION fail_insert() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN RAISE EXCEPTION 'disk full (simulated)'; END $$;
        CREATE TRIGGER fail_insert BEFORE INSERT ON media_files FOR EACH ROW EXECUTE FUNCTION fail_insert();
    """)


def test_a_file_over_the_threshold_is_one_chunked_asset(chunking, emulator, conn, emulator_folder_mode):
    data = video(13 * MB)
    record = chunking.media.upload(io.BytesIO(data), "holiday.mp4", tags=["trip"])
    assert (record.resource_type, record.format, record.bytes) == ("video", "mp4", len(data))
    assert record.etag == hashlib.md5(data).hexdigest() and record.tags == ["trip"]
    assert emulator.upload_api_calls() == 3  # 5 + 5 + 3 MB
    assert emulator.settings()["assets"] == 1
    assert httpx.get(record.secure_url).content == data
    assert record.public_id.startswith("main-uploads/") == (emulator_folder_mode == "fixed")
    assert conn.execute("SELECT count(*) AS n FROM media_files").fetchone()["n"] == 1
    small = chunking.media.upload(tiny_png(1), "small.png")
    assert small.bytes == len(tiny_png(1)) and emulator.upload_api_calls() == 4  # under it: one request


def test_a_failed_save_destroys_the_chunked_asset(chunking, emulator, conn):
    fail_inserts(conn)
    with pytest.raises(MediasyncError, match="disk full"):
        chunking.media.upload(io.BytesIO(video(12 * MB)), "lost.mp4")
    assert emulator.settings()["assets"] == 0
    assert emulator.deletions()["deleted"] == 1
    assert conn.execute("SELECT count(*) AS n FROM cloudinary_cleanup_queue").fetchone()["n"] == 0


def test_without_chunks_cloudinary_would_refuse_the_file(services, emulator):
    """The emulator refuses one request over 100 MB, as Cloudinary does: the default threshold is
    what makes such a file go in parts."""
    data = video(100 * MB + 1)
    base = dataclasses.replace(services.media.settings, max_upload_bytes=200 * MB)
    services.media.settings = dataclasses.replace(base, chunked_upload_threshold_bytes=101 * MB)
    with pytest.raises(MediasyncError, match=r"File size too large\. Got 104857601\. Maximum is 104857600"):
        services.media.upload(io.BytesIO(data), "big.mp4")
    services.media.settings = dataclasses.replace(
        base, chunked_upload_threshold_bytes=Settings().chunked_upload_threshold_bytes)
    assert services.media.upload(io.BytesIO(data), "big.mp4").bytes == len(data)


def test_alt_and_caption_are_stored_on_upload_and_returned(services, emulator, conn):
    record = services.media.upload(tiny_png(2), "cat.png", context={"alt": "  A cat on a mat ", "caption": "Tom"})
    assert record.context == {"alt": "A cat on a mat", "caption": "Tom"}
    stored = conn.execute("SELECT context FROM media_files WHERE id = %s", (record.id,)).fetchone()["context"]
    assert stored == {"alt": "A cat on a mat", "caption": "Tom"}
    import cloudinary.api

    from fixtures.emulator import sdk
    asset = cloudinary.api.resource(record.public_id, **sdk(emulator))
    assert asset["context"] == {"custom": {"alt": "A cat on a mat", "caption": "Tom"}}
    plain = services.media.upload(tiny_png(3), "dog.png", context={"alt": "", "caption": None})
    assert plain.context == {}
    assert services.media.get(record.id).context == record.context


@pytest.mark.parametrize("context", [{"alt": "x" * 501}, {"caption": "bell\x07"}, {"credit": "me"}])
def test_bad_context_is_refused_before_anything_is_stored(services, emulator, conn, context):
    with pytest.raises(InvalidInput) as refused:
        services.media.upload(tiny_png(4), "x.png", context=context)
    assert refused.value.status_code == 422 and emulator.settings()["assets"] == 0


def test_context_follows_cloudinary_notifications(services, emulator, conn):
    """Someone edits alt text in the Cloudinary console: the row follows (poll channel)."""
    services.notifications.setup("poll", CHANNEL)
    record = services.media.upload(tiny_png(5), "bird.png", context={"alt": "a bird", "caption": "old"})
    emulator.console("context", public_id=record.public_id, context={"alt": "a blue bird", "credit": "Ann"})
    services.notifications.drain(CHANNEL)
    assert services.media.get(record.id).context == {"alt": "a blue bird", "credit": "Ann"}
    emulator.console("context", public_id=record.public_id, context={})
    services.notifications.drain(CHANNEL)
    assert services.media.get(record.id).context == {}
    outcomes = conn.execute("SELECT outcome FROM mediasync.cloudinary_notifications "
                            "WHERE notification_type = 'resource_context_changed' ORDER BY id").fetchall()
    assert [o["outcome"] for o in outcomes] == ["applied", "applied"]


def test_context_changes_are_order_safe_per_key(services, emulator, conn):
    record = services.media.upload(tiny_png(6), "fox.png", context={"alt": "a fox"})
    row = conn.execute("SELECT * FROM media_files WHERE id = %s", (record.id,)).fetchone()

    def change(added=(), removed=(), updated=(), seconds_ago=0):
        pairs = lambda items: [{"name": k, "value": v} for k, v in items]  # noqa: E731
        data = cld.body("resource_context_changed", {"resources": {row["public_id"]: {
            "asset_id": row["asset_id"], "public_id": row["public_id"], "resource_type": "image", "type": "upload",
            "added": pairs(added), "removed": pairs(removed), "updated": pairs(updated)}}},
            when=cld.at(seconds_ago))
        signed = cld.sign(cld.encode(data), emulator.api_secret)
        return services.notifications.ingest(signed.raw, signed.timestamp, signed.signature).outcome

    assert change(updated=[("alt", "a red fox")], added=[("caption", "Foxy")], seconds_ago=10) == "applied"
    assert change(updated=[("alt", "stale fox")], seconds_ago=20) == "stale"  # older than the alt it would undo
    assert change(removed=[("caption", "Foxy")]) == "applied"
    assert change(removed=[("caption", "Foxy")], seconds_ago=-1) == "no_change"
    assert services.media.get(record.id).context == {"alt": "a red fox"}


def test_the_context_column_holds_an_object(services, conn):
    """Migration 050: every row has a context object (existing rows: empty); nothing else fits."""
    record = services.media.upload(tiny_png(8), "owl.png")
    assert conn.execute("SELECT context FROM media_files WHERE id = %s", (record.id,)).fetchone()["context"] == {}
    import psycopg

    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("UPDATE media_files SET context = '[\"alt\"]' WHERE id = %s", (record.id,))
