"""Notification bodies read into typed changes; malformed bodies refused with a 400."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from mediasync.config import Settings
from mediasync.services.notifications import RejectedNotification
from mediasync.services.notifications.apply import Scope, renamed_url
from mediasync.services.notifications.events import (
    ContextChanged,
    Deleted,
    FolderRenamed,
    Moved,
    Renamed,
    TagsChanged,
    Uploaded,
    parse,
)

SIGNED = datetime(2026, 1, 1, tzinfo=timezone.utc)


def read(body: dict):
    return parse(json.dumps(body).encode(), SIGNED)


def test_delete_lists_every_resource_and_the_event_time_is_cloudinarys():
    n = read({"notification_type": "delete", "resources": [
        {"resource_type": "image", "type": "upload", "asset_id": "a1", "public_id": "f/x"},
        {"resource_type": "video", "type": "upload", "asset_id": "a2", "public_id": "f/y"}],
        "notification_context": {"triggered_at": "2026-01-01T10:00:00Z", "triggered_by": {"source": "ui", "id": "u"}}})
    assert [c.ref.public_id for c in n.changes if isinstance(c, Deleted)] == ["f/x", "f/y"]
    assert n.event_at == datetime(2026, 1, 1, 10, tzinfo=timezone.utc) and n.source == "ui"
    assert n.asset_ids == ["a1", "a2"]


def test_other_shapes():
    rename = read({"notification_type": "rename", "from_public_id": "f/a", "to_public_id": "f/b", "asset_id": "a"})
    assert rename.changes == [Renamed(rename.changes[0].ref, "f/b", "upload", None, None)]
    move = read({"notification_type": "move", "resources": {"p": {"asset_id": "a", "from_asset_folder": "f",
                                                                  "to_asset_folder": "/g/"}}})
    assert isinstance(move.changes[0], Moved) and move.changes[0].to_asset_folder == "g"
    assert move.changes[0].ref.public_id == "p"
    folder = read({"notification_type": "move_or_rename_asset_folder", "from_path": "a/", "to_path": "b"})
    assert folder.changes == [FolderRenamed("a", "b")]
    tags = read({"notification_type": "resource_tags_changed", "resources": [
        {"public_id": "p", "added": ["x"], "removed": ["y"], "updated": []}]})
    assert isinstance(tags.changes[0], TagsChanged) and (tags.changes[0].added, tags.changes[0].removed) == (
        ("x",), ("y",))
    upload = read({"notification_type": "upload", "public_id": "f/u", "version": 3, "format": "png"})
    assert isinstance(upload.changes[0], Uploaded) and upload.changes[0].fields["version"] == 3
    assert read({"notification_type": "eager", "public_id": "x"}).changes == []
    assert read({"notification_type": "upload", "public_id": "f/u", "version": 3}).event_at == SIGNED


def test_context_changes_and_an_uploads_context():
    n = read({"notification_type": "resource_context_changed", "resources": {"f/p": {
        "asset_id": "a", "resource_type": "image", "type": "upload", "added": [{"name": "credit", "value": "Ann"}],
        "updated": [{"name": "alt", "value": "new"}], "removed": [{"name": "caption", "value": "old"}]}}})
    assert n.changes == [ContextChanged(n.changes[0].ref, {"credit": "Ann", "alt": "new"}, ("caption",))]
    assert n.changes[0].ref.public_id == "f/p" and n.asset_ids == ["a"]
    upload = read({"notification_type": "upload", "public_id": "f/u", "version": 3,
                   "context": {"custom": {"alt": "x"}}})
    assert upload.changes[0].fields["context"] == {"alt": "x"}
    assert read({"notification_type": "upload", "public_id": "f/u", "version": 3}).changes[0].fields["context"] is None


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b'{"resources": []}', b'{"notification_type": "delete"}',
                                 b'{"notification_type": "delete", "resources": [1]}',
                                 b'{"notification_type": "delete", "resources": [{"asset_id": "a"}]}',
                                 b'{"notification_type": "rename", "from_public_id": "a"}',
                                 b'{"notification_type": "upload", "public_id": "a"}',
                                 b'{"notification_type": "resource_tags_changed", "resources": '
                                 b'[{"public_id": "a", "added": "x"}]}',
                                 b'{"notification_type": "resource_context_changed", "resources": '
                                 b'{"a": {"added": ["alt=x"]}}}', b"\xff\xfe"])
def test_malformed_bodies_are_refused(raw):
    with pytest.raises(RejectedNotification) as caught:
        parse(raw, SIGNED)
    assert caught.value.status_code == 400


def test_scope_in_both_folder_modes():
    fixed = Scope(Settings(cloudinary_folder_mode="fixed"))
    assert fixed.contains("main-uploads/x", None) and not fixed.contains("other/x", "main-uploads")
    dynamic = Scope(Settings(cloudinary_folder_mode="dynamic"))
    assert dynamic.contains("x", "main-uploads/sub") and not dynamic.contains("main-uploads/x", "other")
    auto = Scope(Settings(managed_folders=("a", "b")))
    assert auto.contains("a/x", None) and auto.contains("x", "b") and not auto.contains("c/x", None)


def test_renamed_url():
    url = "https://res.cloudinary.com/demo/image/upload/v1/f/a.png"
    assert renamed_url(url, "f/a", "g/b") == "https://res.cloudinary.com/demo/image/upload/v1/g/b.png"
    assert renamed_url("https://x/raw/upload/v1/f/a.pdf", "f/a.pdf", "f/b.pdf") == "https://x/raw/upload/v1/f/b.pdf"
    assert renamed_url(None, "a", "b") is None
