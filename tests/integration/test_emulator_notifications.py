"""Notifications, through the SDK over HTTP: triggers CRUD, signed webhooks verified with the SDK's
own check and retried after receiver failures, the poll channel (receive, visibility-timeout
redelivery, ack), each event's shape, and console actions "by someone else" notifying the same way."""

from __future__ import annotations

import json
import threading
import time

import cloudinary.api
import cloudinary.uploader
import cloudinary.utils
import pytest
from cloudinary.exceptions import BadRequest, NotFound

from fixtures.emulator import sdk
from fixtures.media import tiny_png
from support.waiting import wait_until

CHANNEL = "mediasync-test"


def drain(emulator, **options) -> list[dict]:
    answer = cloudinary.api.notifications(channel=CHANNEL, max_messages=100, wait_seconds=0,
                                          **options, **sdk(emulator))
    return answer.get("messages", [])


def test_triggers_crud(emulator):
    hook = cloudinary.api.create_trigger("https://example.com/hook", "upload", **sdk(emulator))
    poll = cloudinary.api.create_trigger(f"poll://{CHANNEL}", "all", uri_type="poll", **sdk(emulator))
    assert (hook["uri_type"], hook["event_type"], poll["uri_type"]) == ("webhook", "upload", "poll")
    listed = cloudinary.api.triggers(**sdk(emulator))
    assert listed["total"] == 2 and {t["id"] for t in listed["triggers"]} == {hook["id"], poll["id"]}
    assert [t["id"] for t in cloudinary.api.triggers(event_type="upload", **sdk(emulator))["triggers"]] == [hook["id"]]
    assert cloudinary.api.update_trigger(hook["id"], "https://example.com/other", **sdk(emulator)) == {"message": "ok"}
    assert cloudinary.api.triggers(event_type="upload", **sdk(emulator))["triggers"][0]["uri"] == \
        "https://example.com/other"
    assert cloudinary.api.delete_trigger(hook["id"], **sdk(emulator)) == {"message": "ok"}
    assert cloudinary.api.triggers(**sdk(emulator))["total"] == 1
    with pytest.raises(NotFound):
        cloudinary.api.delete_trigger(hook["id"], **sdk(emulator))
    with pytest.raises(BadRequest, match="event_type"):
        cloudinary.api.create_trigger("https://example.com/hook", "nonsense", **sdk(emulator))
    with pytest.raises(BadRequest, match="poll://"):
        cloudinary.api.create_trigger("https://example.com/hook", "upload", uri_type="poll", **sdk(emulator))
    assert emulator.admin_calls() == 11  # the triggers API is the Admin API


def test_signed_webhook_verifiable_with_the_sdk_and_retried(emulator, receiver, sdk_config):
    emulator.control(webhook_retry_delays=[0.05, 0.1, 0.1])
    cloudinary.api.create_trigger(receiver.url, "upload", **sdk(emulator))
    receiver.script = [500, 503]  # fails twice, then takes it
    uploaded = cloudinary.uploader.upload(tiny_png(1), folder="main-uploads", **sdk(emulator))
    calls = receiver.wait_for(3)
    assert [c["status"] for c in calls] == [500, 503, 200]
    assert len({c["body"] for c in calls}) == 1  # the same bytes each time
    for call in calls:
        body, headers = call["body"].decode(), call["headers"]
        assert cloudinary.utils.verify_notification_signature(body, headers["X-Cld-Timestamp"],
                                                              headers["X-Cld-Signature"])
        assert not cloudinary.utils.verify_notification_signature(body + " ", headers["X-Cld-Timestamp"],
                                                                  headers["X-Cld-Signature"])
    payload = json.loads(calls[0]["body"])
    assert payload["notification_type"] == "upload" and payload["asset_id"] == uploaded["asset_id"]
    assert payload["public_id"] == uploaded["public_id"] and payload["secure_url"] == uploaded["secure_url"]
    assert payload["request_id"] and payload["timestamp"].endswith("Z")
    assert payload["notification_context"]["triggered_by"] == {"source": "api", "id": emulator.api_key}
    log = emulator.notifications()[0]["deliveries"][0]
    assert [a["status"] for a in log["attempts"]] == [500, 503, 200] and log["delivered"] is True


def test_webhook_to_a_receiver_that_is_down_is_tried_four_times(emulator, receiver):
    emulator.control(webhook_retry_delays=[0.05, 0.05, 0.05])
    receiver.close()
    cloudinary.api.create_trigger(receiver.url, "all", **sdk(emulator))
    cloudinary.uploader.upload(tiny_png(1), **sdk(emulator))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        attempts = emulator.notifications()[0]["deliveries"][0]["attempts"]
        if len(attempts) == 4:
            break
        time.sleep(0.05)
    assert len(attempts) == 4 and all(str(a["status"]).startswith("error") for a in attempts)


def test_sha256_signatures_when_configured(emulator, receiver, sdk_config):
    emulator.control(notification_signature_algorithm="sha256")
    cloudinary.api.create_trigger(receiver.url, "upload", **sdk(emulator))
    cloudinary.uploader.upload(tiny_png(1), **sdk(emulator))
    call = receiver.wait_for(1)[0]
    assert len(call["headers"]["X-Cld-Signature"]) == 64
    assert cloudinary.utils.verify_notification_signature(call["body"].decode(), call["headers"]["X-Cld-Timestamp"],
                                                          call["headers"]["X-Cld-Signature"], algorithm="sha256")


def test_per_call_notification_url_on_upload_and_destroy(emulator, receiver):
    made = cloudinary.uploader.upload(tiny_png(1), notification_url=receiver.url, **sdk(emulator))
    cloudinary.uploader.destroy(made["public_id"], notification_url=receiver.url, **sdk(emulator))
    kinds = [json.loads(c["body"])["notification_type"] for c in receiver.wait_for(2)]
    assert sorted(kinds) == ["delete", "upload"]


def test_poll_channel_receive_redeliver_and_ack(emulator, sdk_config):
    cloudinary.api.create_trigger(f"poll://{CHANNEL}", "upload", uri_type="poll", **sdk(emulator))
    for n in range(3):
        cloudinary.uploader.upload(tiny_png(n), public_id=f"m{n}", **sdk(emulator))
    first = cloudinary.api.notifications(channel=CHANNEL, max_messages=2, wait_seconds=0, visibility_timeout=1,
                                         **sdk(emulator))["messages"]
    assert [m["payload"]["public_id"] for m in first] == ["m0", "m1"]
    for message in first:
        assert set(message) >= {"payload", "signed_payload", "timestamp", "signature", "receipt_handle"}
        assert cloudinary.utils.verify_notification(message)
        raw = cloudinary.utils.base64url_decode(message["signed_payload"])
        assert json.loads(raw) == message["payload"]
    second = drain(emulator, visibility_timeout=1)
    assert [m["payload"]["public_id"] for m in second] == ["m2"]
    assert cloudinary.api.notifications(channel=CHANNEL, wait_seconds=0, **sdk(emulator)) == {}  # all in flight
    cloudinary.api.ack_notifications([m["receipt_handle"] for m in second], **sdk(emulator))
    # the visibility timeout passes: unacknowledged messages come back, with new handles
    again = wait_until(lambda: drain(emulator), timeout=10, message="the unacknowledged messages never came back")
    assert [m["payload"]["public_id"] for m in again] == ["m0", "m1"]
    assert {m["receipt_handle"] for m in again}.isdisjoint(m["receipt_handle"] for m in first)
    assert cloudinary.api.ack_notifications([m["receipt_handle"] for m in first], **sdk(emulator))["acknowledged"] == 0
    assert cloudinary.api.ack_notifications([m["receipt_handle"] for m in again],
                                            **sdk(emulator))["acknowledged"] == 2
    time.sleep(1.1)
    assert drain(emulator) == []
    with pytest.raises(BadRequest, match="max_messages"):
        cloudinary.api.notifications(channel=CHANNEL, max_messages=101, **sdk(emulator))
    with pytest.raises(BadRequest, match="visibility_timeout"):
        cloudinary.api.notifications(channel=CHANNEL, visibility_timeout=601, **sdk(emulator))
    with pytest.raises(BadRequest, match="at most 100"):
        cloudinary.api.ack_notifications([f"h{i}" for i in range(101)], **sdk(emulator))
    assert emulator.admin_calls() == 1  # polling is not metered against the Admin API allowance


def test_long_poll_answers_as_soon_as_a_message_arrives(emulator):
    cloudinary.api.create_trigger(f"poll://{CHANNEL}", "upload", uri_type="poll", **sdk(emulator))
    later = threading.Timer(0.5, lambda: cloudinary.uploader.upload(tiny_png(1), **sdk(emulator)))
    later.start()
    started = time.monotonic()
    answer = cloudinary.api.notifications(channel=CHANNEL, wait_seconds=10, **sdk(emulator))
    assert len(answer["messages"]) == 1 and 0.4 < time.monotonic() - started < 5
    later.join()


def test_event_shapes_for_every_change(dynamic_emulator):
    emulator = dynamic_emulator
    cloudinary.api.create_trigger(f"poll://{CHANNEL}", "all", uri_type="poll", **sdk(emulator))
    a = cloudinary.uploader.upload(tiny_png(1), public_id="a", folder="inbox", **sdk(emulator))
    b = cloudinary.uploader.upload(tiny_png(2), public_id="b", folder="inbox", **sdk(emulator))
    c = cloudinary.uploader.upload(tiny_png(3), public_id="c", folder="inbox", **sdk(emulator))
    cloudinary.uploader.rename("a", "a2", **sdk(emulator))
    cloudinary.api.update("b", asset_folder="done", display_name="Bee", tags=["t"], **sdk(emulator))
    cloudinary.uploader.destroy("a2", **sdk(emulator))
    cloudinary.api.delete_resources(["b"], **sdk(emulator))
    cloudinary.api.delete_resources_by_asset_ids([c["asset_id"]], **sdk(emulator))
    bodies = [m["payload"] for m in drain(emulator)]
    assert [p["notification_type"] for p in bodies] == [
        "upload", "upload", "upload", "rename", "move", "resource_display_name_changed", "resource_tags_changed",
        "delete", "delete", "delete"]
    for body in bodies:
        assert body["request_id"] and body["timestamp"] and body["notification_context"]["triggered_by"]["source"] \
            == "api"
    rename = bodies[3]
    assert (rename["from_public_id"], rename["to_public_id"], rename["asset_id"]) == ("a", "a2", a["asset_id"])
    move = bodies[4]["resources"]["b"]
    assert (move["from_asset_folder"], move["to_asset_folder"], move["asset_id"]) == ("inbox", "done", b["asset_id"])
    shown = bodies[5]["resources"]["b"]
    assert (shown["previous_display_name"], shown["new_display_name"], shown["asset_id"]) == ("b", "Bee", b["asset_id"])
    assert bodies[4]["source"] == bodies[5]["source"] == bodies[6]["source"] == "api"
    tags = bodies[6]["resources"][0]
    assert (tags["public_id"], tags["added"], tags["removed"]) == ("b", ["t"], [])
    deleted = [body["resources"] for body in bodies[7:]]
    assert [[r["public_id"] for r in d] for d in deleted] == [["a2"], ["b"], ["c"]]
    assert deleted[2][0] | {} == {"resource_type": "image", "type": "upload", "asset_id": c["asset_id"],
                                  "public_id": "c", "version": c["version"], "asset_folder": "inbox",
                                  "display_name": "c"}


def test_console_actions_change_assets_and_notify_like_someone_else(dynamic_emulator, receiver):
    emulator = dynamic_emulator
    cloudinary.api.create_trigger(receiver.url, "all", **sdk(emulator))
    uploaded = emulator.console("upload", folder="main-uploads", filename="from-console.png")["resource"]
    assert uploaded["asset_folder"] == "main-uploads" and uploaded["display_name"] == "from-console"
    public_id = uploaded["public_id"]
    emulator.console("retag", public_id=public_id, tags=["x"])
    emulator.console("display_name", public_id=public_id, display_name="Shown")
    emulator.console("move", public_id=public_id, asset_folder="elsewhere")
    emulator.console("move", from_path="elsewhere", to_path="renamed")
    emulator.console("rename", from_public_id=public_id, to_public_id="console-renamed")
    assert cloudinary.api.resource("console-renamed", **sdk(emulator))["asset_id"] == uploaded["asset_id"]
    assert cloudinary.api.resource("console-renamed", **sdk(emulator))["asset_folder"] == "renamed"
    emulator.console("delete", public_id="console-renamed")
    calls = receiver.wait_for(7)
    bodies = [json.loads(c["body"]) for c in calls]
    assert [b["notification_type"] for b in bodies] == [
        "upload", "resource_tags_changed", "resource_display_name_changed", "move", "move_or_rename_asset_folder",
        "rename", "delete"]
    assert all(b["notification_context"]["triggered_by"]["source"] == "ui" for b in bodies)
    assert (bodies[4]["from_path"], bodies[4]["to_path"]) == ("elsewhere", "renamed")
    with pytest.raises(NotFound):
        cloudinary.api.resource("console-renamed", **sdk(emulator))
    assert emulator.deletions()["deleted"] == 1
