"""Cloudinary → database end to end through the emulator playing "the Cloudinary console": each
event type through each transport (the plugin app serving the webhook in-process; the poll
channel drained by the ingest service), redelivery after failures, and the app's own changes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from fixtures.media import tiny_png
from mediasync.db import Database
from mediasync.runtime import Services
from support.waiting import wait_until

FOLDER = "main-uploads"
CHANNEL = "mediasync-test"


def eventually(check: Callable[[], bool], timeout: float = 2.0) -> float:
    """Seconds until `check()` held; fails after `timeout` (the product's promise: 2 s)."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout}s")
        time.sleep(0.02)
    return time.monotonic() - start


def row(conn, media_id) -> dict:
    return conn.execute("SELECT * FROM public.media_files WHERE id = %s", (media_id,)).fetchone()


def tags_of(conn, media_id) -> list[str]:
    return [r["tag"] for r in conn.execute("SELECT tag FROM public.media_tags WHERE media_file_id = %s ORDER BY tag",
                                           (media_id,))]


@pytest.fixture
def webhook(services: Services, emulator) -> Iterator[str]:
    """The plugin app (login bypassed: the webhook route needs none) on a free port, with the
    emulator's webhook triggers pointing at it; yields the receiver URL."""
    import uvicorn

    from mediasync.api.app import create_app
    from support.emulator import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(lambda: services, user_dependency=lambda: None),
                                           host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    eventually(lambda: server.started, timeout=15)
    url = f"http://127.0.0.1:{port}/api/v1/cloudinary/notifications"
    services.notifications.setup("webhook", url)
    yield url
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def poll(services: Services) -> Callable[[], object]:
    services.notifications.setup("poll", CHANNEL)
    return lambda: services.notifications.drain(CHANNEL)


def test_setup_is_idempotent_and_status_shows_the_triggers(services, emulator):
    first = services.notifications.setup("poll", CHANNEL)
    second = services.notifications.setup("poll", CHANNEL)
    assert len(first.created) == 9 and (second.created, len(second.existing)) == ([], 9)  # resource_context_changed too
    status = services.notifications.status()
    assert {t["uri"] for t in status.triggers or []} == {f"poll://{CHANNEL}"} and status.received == 0


def test_console_changes_reach_the_row_by_webhook_within_2s(services, conn, emulator, webhook):
    record = services.media.upload(tiny_png(1), "cat.png", tags=["pet"])
    public_id = record.public_id
    emulator.console("rename", from_public_id=public_id, to_public_id=f"{FOLDER}/renamed")
    eventually(lambda: row(conn, record.id)["public_id"] == f"{FOLDER}/renamed")
    emulator.console("retag", public_id=f"{FOLDER}/renamed", tags=["pet", "cute"])
    eventually(lambda: tags_of(conn, record.id) == ["cute", "pet"])
    emulator.console("display_name", public_id=f"{FOLDER}/renamed", display_name="Felix")
    eventually(lambda: row(conn, record.id)["display_name"] == "Felix")
    emulator.console("delete", public_id=f"{FOLDER}/renamed")
    eventually(lambda: row(conn, record.id)["deleted_by"] == "cloudinary")
    assert row(conn, record.id)["status"] == "deleted"
    pending = conn.execute("SELECT count(*) AS n FROM public.cloudinary_cleanup_queue "
                           "WHERE status IN ('pending', 'processing')").fetchone()["n"]
    assert pending == 0  # nothing queued for an asset that is already gone


def test_console_upload_into_a_managed_folder_is_adopted_and_outside_is_not(services, conn, emulator, webhook,
                                                                            emulator_folder_mode):
    emulator.console("upload", folder=FOLDER, public_id="from-console", filename="x.png")
    emulator.console("upload", folder="someone-else", public_id="theirs", filename="y.png")
    eventually(lambda: conn.execute("SELECT count(*) AS n FROM public.media_files").fetchone()["n"] == 1)
    wait_until(lambda: all(d.get("delivered") for n in emulator.notifications() for d in n["deliveries"]),
               timeout=10, message="the app never answered every notification")  # the out-of-scope one's too
    rows = conn.execute("SELECT public_id, status FROM public.media_files").fetchall()
    named = f"{FOLDER}/from-console" if emulator_folder_mode == "fixed" else "from-console"  # dynamic: no prefix
    assert rows == [{"public_id": named, "status": "active"}]


def test_the_apps_own_upload_and_soft_delete_are_not_echoed_back(services, conn, emulator, webhook):
    record = services.media.upload(tiny_png(2), "mine.png")
    services.media.soft_delete(record.id)
    eventually(lambda: conn.execute("SELECT count(*) AS n FROM mediasync.cloudinary_notifications").fetchone()["n"]
               == 2)
    outcomes = conn.execute("SELECT notification_type, outcome FROM mediasync.cloudinary_notifications "
                            "ORDER BY id").fetchall()
    assert outcomes == [{"notification_type": "upload", "outcome": "own_change"},
                        {"notification_type": "delete", "outcome": "own_change"}]
    assert conn.execute("SELECT count(*) AS n FROM public.media_files").fetchone()["n"] == 1
    assert row(conn, record.id)["deleted_by"] == "app"


def test_webhook_while_the_database_is_down_is_retried_and_applied_once(services, conn, emulator, webhook):
    emulator.control(webhook_retry_delays=[0.3, 0.3, 0.3])
    record = services.media.upload(tiny_png(3), "later.png")
    real_db = services.notifications.db
    services.notifications.db = Database("postgresql://postgres@127.0.0.1:1/none?connect_timeout=1")
    emulator.console("delete", public_id=record.public_id)
    eventually(lambda: any(a["status"] == 503 for n in emulator.notifications() if n["notification_type"] == "delete"
                           for d in n["deliveries"] for a in d["attempts"]), timeout=10)
    assert row(conn, record.id)["status"] == "active"  # nothing half-applied while it was down
    services.notifications.db = real_db
    eventually(lambda: row(conn, record.id)["status"] == "deleted", timeout=10)
    applied = conn.execute("SELECT count(*) AS n FROM mediasync.cloudinary_notifications "
                           "WHERE notification_type = 'delete'").fetchone()["n"]
    assert applied == 1


def test_each_event_type_through_the_poll_channel(services, conn, emulator, poll, emulator_folder_mode):
    record = services.media.upload(tiny_png(4), "p.png")
    emulator.console("rename", from_public_id=record.public_id, to_public_id=f"{FOLDER}/p2")
    emulator.console("retag", public_id=f"{FOLDER}/p2", tags=["a"])
    emulator.console("display_name", public_id=f"{FOLDER}/p2", display_name="P")
    emulator.console("upload", folder=FOLDER, public_id="polled", filename="z.png")
    result = poll()
    assert (result.received, result.acknowledged, result.failed) == (5, 5, 0)
    after = row(conn, record.id)
    assert (after["public_id"], after["display_name"], tags_of(conn, record.id)) == (f"{FOLDER}/p2", "P", ["a"])
    emulator.console("delete", public_id=f"{FOLDER}/p2")
    assert poll().applied == 1 and row(conn, record.id)["deleted_by"] == "cloudinary"
    assert poll().received == 0  # everything acknowledged
    polled = f"{FOLDER}/polled" if emulator_folder_mode == "fixed" else "polled"  # dynamic: no prefix
    adopted = conn.execute("SELECT status FROM public.media_files WHERE public_id = %s", (polled,)).fetchone()
    assert adopted == {"status": "active"}


def test_dynamic_folders_move_and_folder_rename_through_the_poll_channel(services, conn, dynamic_emulator, poll):
    import dataclasses

    services.notifications.settings = dataclasses.replace(services.settings, cloudinary_folder_mode="dynamic")
    record = services.media.upload(tiny_png(5), "d.png")
    assert row(conn, record.id)["asset_folder"] == FOLDER
    dynamic_emulator.console("move", public_id=record.public_id, asset_folder=f"{FOLDER}/archive")
    poll()
    assert row(conn, record.id)["asset_folder"] == f"{FOLDER}/archive"
    dynamic_emulator.console("move", from_path=f"{FOLDER}/archive", to_path=f"{FOLDER}/old")
    poll()
    assert row(conn, record.id)["asset_folder"] == f"{FOLDER}/old"


def test_poll_while_the_database_is_down_redelivers_after_the_visibility_timeout(services, conn, emulator, poll):
    record = services.media.upload(tiny_png(6), "v.png")
    poll()  # the app's own upload notification, out of the way
    emulator.console("delete", public_id=record.public_id)
    real_db = services.notifications.db
    services.notifications.db = Database("postgresql://postgres@127.0.0.1:1/none?connect_timeout=1")
    down = services.notifications.drain(CHANNEL, visibility_timeout=1)
    assert (down.received, down.failed, down.acknowledged) == (1, 1, 0)
    services.notifications.db = real_db
    assert services.notifications.drain(CHANNEL).received == 0  # still invisible: claimed, not acknowledged
    again = wait_until(lambda: (r := services.notifications.drain(CHANNEL)).received and r,  # visible again after
                       timeout=10, message="the unacknowledged notification never came back")  # the timeout
    assert (again.received, again.applied, again.acknowledged) == (1, 1, 1)
    assert row(conn, record.id)["deleted_by"] == "cloudinary"
    assert services.notifications.drain(CHANNEL).received == 0


@pytest.fixture(params=["webhook", "poll"])
def settle(request, services: Services, emulator) -> Callable[[int], None]:
    """Wait until `n` notifications are stored, by the transport under test: the webhook delivers on
    its own; the poll channel is drained (as the DAG would) until they are in."""
    if request.param == "webhook":
        request.getfixturevalue("webhook")
    else:
        services.notifications.setup("poll", CHANNEL)

    def wait(n: int) -> None:
        def stored() -> bool:
            if request.param == "poll":
                services.notifications.drain(CHANNEL)
            return services.notifications.status(with_triggers=False).received >= n
        eventually(stored)
    return wait


def test_nothing_outside_the_managed_scope_changes_through_either_transport(services, conn, emulator, settle):
    theirs = emulator.console("upload", folder="someone-else", public_id="theirs", filename="t.png")["resource"]
    settle(1)
    arranged = conn.execute(  # a row outside the scope (say, from an earlier configuration) must stay as it is
        "INSERT INTO public.media_files (public_id, format, bytes, version, folder, asset_id, asset_folder) "
        "VALUES (%s, 'png', 1, 1, 'someone-else', %s, 'someone-else') RETURNING *",
        (theirs["public_id"], theirs["asset_id"])).fetchone()
    emulator.console("retag", public_id=theirs["public_id"], tags=["x"])
    emulator.console("display_name", public_id=theirs["public_id"], display_name="Theirs")
    emulator.console("rename", from_public_id=theirs["public_id"], to_public_id="someone-else/renamed")
    emulator.console("delete", public_id="someone-else/renamed")
    settle(5)
    assert row(conn, arranged["id"]) == arranged and tags_of(conn, arranged["id"]) == []
    outcomes = [r["outcome"] for r in conn.execute("SELECT outcome FROM mediasync.cloudinary_notifications "
                                                   "ORDER BY id")]
    assert outcomes == ["out_of_scope"] * 5


def test_dynamic_folders_through_either_transport(services, conn, dynamic_emulator, settle):
    import dataclasses

    services.notifications.settings = dataclasses.replace(services.settings, cloudinary_folder_mode="dynamic")
    record = services.media.upload(tiny_png(7), "dyn.png")
    settle(1)
    dynamic_emulator.console("move", public_id=record.public_id, asset_folder=f"{FOLDER}/2024")
    settle(2)
    assert row(conn, record.id)["asset_folder"] == f"{FOLDER}/2024"
    dynamic_emulator.console("move", from_path=FOLDER, to_path="library")
    settle(3)
    assert (row(conn, record.id)["asset_folder"], row(conn, record.id)["folder"]) == ("library/2024", "library/2024")
