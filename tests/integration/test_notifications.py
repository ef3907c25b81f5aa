"""The notification ingest against real PostgreSQL: every event type, scope, order, dedupe,
rejections, the app's own changes, and the live update."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from fixtures import notifications as cld
from mediasync.db import Database
from mediasync.errors import DatabaseUnavailable
from mediasync.services.notifications import NotificationService, RejectedNotification

FOLDER = "main-uploads"


@pytest.fixture
def ingest(services, emulator):
    """Sign a body with the account's secret and ingest it as a webhook would."""
    def run(data: dict, *, service: NotificationService | None = None, **sign_kw):
        signed = cld.sign(cld.encode(data), emulator.api_secret, **sign_kw)
        return (service or services.notifications).ingest(signed.raw, signed.timestamp, signed.signature)
    return run


def add_row(conn, public_id: str, *, asset_folder: str | None = None, tags: tuple[str, ...] = ()) -> dict:
    folder = public_id.rpartition("/")[0] if asset_folder is None else asset_folder
    row = conn.execute(
        "INSERT INTO public.media_files (public_id, resource_type, type, format, bytes, version, secure_url, folder,"
        " asset_id, asset_folder, display_name) VALUES (%s, 'image', 'upload', 'png', 68, 1700000000, %s, %s, %s,"
        " %s, %s) RETURNING *",
        (public_id, f"https://res.example/demo/image/upload/v1700000000/{public_id}.png", folder, uuid.uuid4().hex,
         folder, public_id.rsplit("/", 1)[-1])).fetchone()
    for tag in tags:
        conn.execute("INSERT INTO public.media_tags (media_file_id, tag) VALUES (%s, %s)", (row["id"], tag))
    return row


def row_of(conn, media_id) -> dict:
    return conn.execute("SELECT * FROM public.media_files WHERE id = %s", (media_id,)).fetchone()


def tags_of(conn, media_id) -> list[str]:
    return [r["tag"] for r in conn.execute("SELECT tag FROM public.media_tags WHERE media_file_id = %s ORDER BY tag",
                                           (media_id,))]


def stored(conn) -> list[dict]:
    return conn.execute("SELECT notification_type, outcome, changed_rows, transport "
                        "FROM mediasync.cloudinary_notifications ORDER BY id").fetchall()


def test_console_delete_marks_the_row_deleted_by_cloudinary_with_no_cleanup_left(conn, ingest):
    row = add_row(conn, f"{FOLDER}/cat")
    result = ingest(cld.delete(row))
    assert (result.outcome, result.changed_rows, result.duplicate) == ("applied", 1, False)
    after = row_of(conn, row["id"])
    assert (after["status"], after["deleted_by"]) == ("deleted", "cloudinary")
    queue = conn.execute("SELECT status FROM public.cloudinary_cleanup_queue WHERE media_file_id = %s",
                         (row["id"],)).fetchall()
    assert queue == []  # nothing queued, nothing to complete: Cloudinary already deleted the asset
    assert conn.execute("SELECT count(*) AS n FROM mediasync.deletion_batches").fetchone()["n"] == 0
    assert stored(conn) == [{"notification_type": "delete", "outcome": "applied", "changed_rows": 1,
                             "transport": "webhook"}]


def test_a_console_delete_queues_nothing_and_wakes_no_cleanup(conn, ingest, db_url):
    """The asset is already gone: no queue entry to complete, no deletion batch, and no wake-up on
    the channel the cleanup DAG's watcher listens to — only the live update of the page."""
    row = add_row(conn, f"{FOLDER}/quiet")
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute("LISTEN mediasync_cleanup_queue")
        listener.execute("LISTEN mediasync_media_changes")
        assert ingest(cld.delete(row)).outcome == "applied"
        # One transaction's notifications are delivered together at its commit: once the live
        # update is here, a cleanup wake-up of the same transaction would be here too.
        heard = [n.channel for n in listener.notifies(timeout=5, stop_after=1)]
        heard += [n.channel for n in listener.notifies(timeout=0)]
    assert heard == ["mediasync_media_changes"]
    assert conn.execute("SELECT count(*) AS n FROM public.cloudinary_cleanup_queue").fetchone()["n"] == 0
    assert conn.execute("SELECT count(*) AS n FROM mediasync.deletion_batches").fetchone()["n"] == 0


def test_bulk_delete_marks_every_listed_row(conn, ingest):
    rows = [add_row(conn, f"{FOLDER}/bulk{i}") for i in range(3)]
    assert ingest(cld.delete(*rows)).changed_rows == 3
    statuses = conn.execute("SELECT status, deleted_by FROM public.media_files").fetchall()
    assert statuses == [{"status": "deleted", "deleted_by": "cloudinary"}] * 3


def test_redelivery_and_replay_change_nothing_twice(conn, ingest, emulator, services):
    row = add_row(conn, f"{FOLDER}/twice")
    signed = cld.sign(cld.encode(cld.delete(row)), emulator.api_secret)
    first = services.notifications.ingest(signed.raw, signed.timestamp, signed.signature)
    conn.execute("UPDATE public.media_files SET status = 'active' WHERE id = %s", (row["id"],))  # someone restores
    again = services.notifications.ingest(signed.raw, signed.timestamp, signed.signature)
    resigned = cld.sign(signed.raw, emulator.api_secret, timestamp=int(signed.timestamp) + 5)  # a webhook retry
    retried = services.notifications.ingest(resigned.raw, resigned.timestamp, resigned.signature)
    assert (first.duplicate, again.duplicate, retried.duplicate) == (False, True, True)
    assert row_of(conn, row["id"])["status"] == "active"  # the replay did not delete it again
    assert len(stored(conn)) == 1


def test_the_apps_own_soft_delete_is_not_an_external_delete(conn, ingest, services):
    row = add_row(conn, f"{FOLDER}/mine")
    with services.db.transaction() as c:
        services.media.repo.soft_delete(c, row["id"], deleted_by="app")
    result = ingest(cld.delete(row, source="api", actor="mediasync-key"))
    assert (result.outcome, result.changed_rows) == ("own_change", 0)
    assert row_of(conn, row["id"])["deleted_by"] == "app"


def test_nothing_outside_the_managed_scope_changes(conn, ingest):
    other = add_row(conn, "other-app/logo")
    results = [ingest(cld.delete(other)), ingest(cld.rename(other, "other-app/logo2")),
               ingest(cld.tags(other, ["x"], [])), ingest(cld.upload("other-app/new"))]
    assert [r.outcome for r in results] == ["out_of_scope"] * 4
    assert row_of(conn, other["id"]) == other
    assert conn.execute("SELECT count(*) AS n FROM public.media_files").fetchone()["n"] == 1


def test_rename_moves_the_row_and_its_delivery_url(conn, ingest):
    row = add_row(conn, f"{FOLDER}/old")
    assert ingest(cld.rename(row, f"{FOLDER}/sub/new")).outcome == "applied"
    after = row_of(conn, row["id"])
    assert (after["public_id"], after["asset_folder"], after["folder"], after["display_name"]) == (
        f"{FOLDER}/sub/new", f"{FOLDER}/sub", f"{FOLDER}/sub", "new")
    assert after["secure_url"] == f"https://res.example/demo/image/upload/v1700000000/{FOLDER}/sub/new.png"


def test_an_older_notification_never_overwrites_newer_state(conn, ingest):
    row = add_row(conn, f"{FOLDER}/a")
    newer = cld.rename(row, f"{FOLDER}/newer", when=cld.at(0))
    older = cld.rename(row, f"{FOLDER}/older", when=cld.at(60))
    assert ingest(newer).outcome == "applied"
    assert ingest(older).outcome == "stale"
    assert row_of(conn, row["id"])["public_id"] == f"{FOLDER}/newer"


def test_a_late_upload_does_not_resurrect_a_deleted_asset(conn, ingest):
    asset_id = uuid.uuid4().hex
    late_delete = cld.delete({"resource_type": "image", "type": "upload", "asset_id": asset_id,
                              "public_id": f"{FOLDER}/ghost"}, when=cld.at(0))
    early_upload = cld.upload(f"{FOLDER}/ghost", asset_id=asset_id, when=cld.at(30))
    assert ingest(late_delete).outcome == "no_change"
    assert ingest(early_upload).outcome == "stale"
    assert conn.execute("SELECT count(*) AS n FROM public.media_files").fetchone()["n"] == 0


def test_tags_follow_and_an_older_tag_change_does_not_undo_a_newer_one(conn, ingest):
    row = add_row(conn, f"{FOLDER}/t", tags=("keep", "old"))
    assert ingest(cld.tags(row, ["new"], ["old"], when=cld.at(0))).outcome == "applied"
    assert ingest(cld.tags(row, ["old"], ["new"], when=cld.at(30))).outcome == "stale"
    assert tags_of(conn, row["id"]) == ["keep", "new"]


def test_display_name_follows(conn, ingest):
    row = add_row(conn, f"{FOLDER}/dn")
    assert ingest(cld.display_name(row, "Holiday photo")).changed_rows == 1
    assert row_of(conn, row["id"])["display_name"] == "Holiday photo"


def test_dynamic_mode_move_and_folder_rename(conn, ingest, services):
    services.notifications.settings = dataclasses.replace(services.settings, cloudinary_folder_mode="dynamic")
    row = add_row(conn, "abc123", asset_folder=FOLDER)
    assert ingest(cld.move(row, f"{FOLDER}/archive")).outcome == "applied"
    assert (row_of(conn, row["id"])["asset_folder"], row_of(conn, row["id"])["folder"]) == (
        f"{FOLDER}/archive", f"{FOLDER}/archive")
    assert ingest(cld.folder_rename(FOLDER, "main-uploads-2024")).changed_rows == 1
    assert row_of(conn, row["id"])["asset_folder"] == "main-uploads-2024/archive"
    assert ingest(cld.folder_rename("elsewhere", "elsewhere2")).outcome == "out_of_scope"


def test_external_upload_into_a_managed_folder_is_adopted(conn, ingest):
    result = ingest(cld.upload(f"{FOLDER}/from-console"))
    assert (result.outcome, result.changed_rows) == ("applied", 1)
    row = conn.execute("SELECT * FROM public.media_files").fetchone()
    assert (row["public_id"], row["status"], row["folder"], row["format"]) == (
        f"{FOLDER}/from-console", "active", FOLDER, "png")
    assert ingest(cld.upload(f"{FOLDER}/from-console", asset_id=row["asset_id"], version=1700000000)).outcome == \
        "no_change"


def test_uploads_with_mediasyncs_own_key_or_with_adoption_off_are_not_adopted(conn, ingest, services, emulator):
    own = ingest(cld.upload(f"{FOLDER}/app-upload", source="api", actor=emulator.api_key))
    assert own.outcome == "own_change"
    services.notifications.settings = dataclasses.replace(services.settings, adopt_external_uploads=False)
    assert ingest(cld.upload(f"{FOLDER}/tool-upload")).outcome == "ignored"
    assert conn.execute("SELECT count(*) AS n FROM public.media_files").fetchone()["n"] == 0


def test_other_types_are_stored_and_ignored(conn, ingest):
    assert ingest(cld.body("eager", {"public_id": "x"})).outcome == "ignored"
    assert stored(conn)[0]["outcome"] == "ignored"


@pytest.mark.parametrize("case", ["forged", "wrong_algorithm", "stale", "future", "truncated", "not_json",
                                  "no_headers"])
def test_rejected_notifications_change_nothing(conn, services, emulator, case):
    row = add_row(conn, f"{FOLDER}/target")
    raw = cld.encode(cld.delete(row))
    signed = {
        "forged": lambda: cld.sign(raw, "not-the-secret"),
        "wrong_algorithm": lambda: cld.sign(raw, emulator.api_secret, algorithm="sha256"),
        "stale": lambda: cld.sign(raw, emulator.api_secret, timestamp=int(datetime.now().timestamp()) - 7201),
        "future": lambda: cld.sign(raw, emulator.api_secret, timestamp=int(datetime.now().timestamp()) + 3600),
        "truncated": lambda: dataclasses.replace(cld.sign(raw, emulator.api_secret), raw=raw[:-7]),
        "not_json": lambda: cld.sign(raw[:-7], emulator.api_secret),
        "no_headers": lambda: cld.Signed(raw, "", ""),
    }[case]()
    with pytest.raises(RejectedNotification) as caught:
        services.notifications.ingest(signed.raw, signed.timestamp, signed.signature)
    assert 400 <= caught.value.status_code < 500
    assert row_of(conn, row["id"])["status"] == "active"
    assert stored(conn) == []


def test_sha256_when_configured(conn, ingest, services):
    services.notifications.settings = dataclasses.replace(services.settings,
                                                          notification_signature_algorithm="sha256")
    row = add_row(conn, f"{FOLDER}/s256")
    assert ingest(cld.delete(row), algorithm="sha256").outcome == "applied"
    with pytest.raises(RejectedNotification):
        ingest(cld.delete(row, when=cld.at(1)))  # SHA-1 is now the wrong algorithm


def test_body_size_limit(services, emulator):
    services.notifications.settings = dataclasses.replace(services.settings, notification_max_body_bytes=1024)
    signed = cld.sign(cld.encode(cld.body("info", {"pad": "x" * 2000})), emulator.api_secret)
    with pytest.raises(RejectedNotification) as caught:
        services.notifications.ingest(signed.raw, signed.timestamp, signed.signature)
    assert caught.value.status_code == 413


def test_database_down_stores_nothing_and_the_redelivery_applies_once(conn, services, emulator, db_url):
    row = add_row(conn, f"{FOLDER}/later")
    signed = cld.sign(cld.encode(cld.delete(row)), emulator.api_secret)
    down = NotificationService(Database("postgresql://postgres@127.0.0.1:1/none?connect_timeout=1"),
                               services.settings, services.notifications.channel)
    with pytest.raises(DatabaseUnavailable):
        down.ingest(signed.raw, signed.timestamp, signed.signature)
    assert row_of(conn, row["id"])["status"] == "active"
    first = services.notifications.ingest(signed.raw, signed.timestamp, signed.signature)
    second = services.notifications.ingest(signed.raw, signed.timestamp, signed.signature)
    assert (first.changed_rows, second.duplicate, second.changed_rows) == (1, True, 0)


def test_every_change_fires_the_live_update(conn, ingest, db_url):
    row = add_row(conn, f"{FOLDER}/live")
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute("LISTEN mediasync_media_changes")
        ingest(cld.delete(row))
        payloads = [json.loads(n.payload) for n in listener.notifies(timeout=2, stop_after=1)]
    assert payloads and payloads[0]["op"] == "UPDATE" and payloads[0]["ids"] == [str(row["id"])]


def test_repairs_since_counts_what_notifications_fixed(conn, ingest, services):
    since = datetime.now(timezone.utc) - timedelta(seconds=5)
    rows = [add_row(conn, f"{FOLDER}/r{i}") for i in range(2)]
    ingest(cld.delete(*rows))
    ingest(cld.display_name(add_row(conn, f"{FOLDER}/r9"), "x"))
    ingest(cld.body("eager", {}))
    repairs = services.notifications.repairs_since(since)
    assert (repairs.notifications, repairs.rows) == (2, 3)
    assert repairs.by_type == {"delete": 2, "resource_display_name_changed": 1}
    assert services.notifications.repairs_since(datetime.now(timezone.utc) + timedelta(seconds=5)).rows == 0


def test_concurrent_deliveries_of_one_notification_apply_once(conn, services, emulator):
    import threading

    rows = [add_row(conn, f"{FOLDER}/race{i}") for i in range(5)]
    signed = cld.sign(cld.encode(cld.tags(rows[0], ["raced"], [])), emulator.api_secret)
    results, barrier = [], threading.Barrier(4)

    def deliver():
        barrier.wait()
        results.append(services.notifications.ingest(signed.raw, signed.timestamp, signed.signature))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.duplicate for r in results) == [False, True, True, True]
    assert sum(r.changed_rows for r in results) == 1
    assert tags_of(conn, rows[0]["id"]) == ["raced"] and len(stored(conn)) == 1


def test_bad_notifications_are_refused_before_the_database_is_touched(services, emulator):
    """A flood of forged notifications costs no database work (and gets a 4xx even while it is down)."""
    down = NotificationService(Database("postgresql://postgres@127.0.0.1:1/none?connect_timeout=1"),
                               services.settings, services.notifications.channel)
    forged = cld.sign(cld.encode(cld.body("delete", {"resources": []})), "guess")
    with pytest.raises(RejectedNotification) as caught:
        down.ingest(forged.raw, forged.timestamp, forged.signature)
    assert caught.value.status_code == 401
    malformed = cld.sign(b"{", emulator.api_secret)
    with pytest.raises(RejectedNotification) as caught:
        down.ingest(malformed.raw, malformed.timestamp, malformed.signature)
    assert caught.value.status_code == 400
