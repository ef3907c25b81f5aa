"""Conformance of the Upload API with Cloudinary, through the official Python SDK and what its own
integration tests expect (pycloudinary test_uploader.py / test_request_id.py), in both folder
modes: request ids, file names of any script, filename_override, contextual metadata,
allowed_formats and format conversion, tags as Cloudinary keeps them, and JSON errors."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import cloudinary.api
import cloudinary.uploader
import httpx
import pytest
from cloudinary.exceptions import BadRequest, NotFound
from PIL import Image

from fixtures import polyglots
from fixtures.emulator import sdk
from fixtures.media import tiny_png

CONTEXT = {"caption": "some caption", "alt": "alternative|alt=a"}  # what pycloudinary's test_context sends


def png(size: tuple[int, int] = (4, 3), mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (10, 20, 30, 128) if mode == "RGBA" else (10, 20, 30)).save(out, "PNG")
    return out.getvalue()


def test_every_api_answer_carries_a_request_id(any_mode_emulator):
    emulator = any_mode_emulator
    uploaded = cloudinary.uploader.upload(tiny_png(1), **sdk(emulator))
    assert len(uploaded["request_id"]) == 32  # the SDK copies X-Request-Id into the upload result
    listed = cloudinary.api.resources(**sdk(emulator))
    assert len(listed.request_id) == 32 and "request_id" not in listed  # Admin: on the response, not the body
    ids = {cloudinary.uploader.upload(tiny_png(i), **sdk(emulator))["request_id"] for i in range(2, 5)}
    assert len(ids) == 3 and uploaded["request_id"] not in ids
    refused = httpx.post(f"{emulator.base_url}/v1_1/demo/image/upload", data={"upload_preset": "tap2go-uploads"})
    assert refused.status_code == 400 and len(refused.headers["x-request-id"]) == 32  # errors too
    returned = cloudinary.uploader.upload(b"", return_error=True, **sdk(emulator))
    assert returned["error"]["http_code"] == 400 and len(returned["error"]["request_id"]) == 32


def test_file_names_of_any_script_and_filename_override(any_mode_emulator, tmp_path: Path):
    emulator = any_mode_emulator
    path = tmp_path / "üni_näme_lögö.png"  # pycloudinary's TEST_UNICODE_IMAGE
    path.write_bytes(png())
    named = cloudinary.uploader.upload(str(path), use_filename=True, unique_filename=False, **sdk(emulator))
    assert named["public_id"] == "üni_näme_lögö" and named["original_filename"] == "üni_näme_lögö"
    assert httpx.get(named["secure_url"]).content == png()
    assert cloudinary.api.resource("üni_näme_lögö", **sdk(emulator))["original_filename"] == "üni_näme_lögö"
    spaced = cloudinary.uploader.upload(io.BytesIO(png()), filename="My Photo (1).png", use_filename=True,
                                        unique_filename=False, **sdk(emulator))
    assert spaced["public_id"] == "My_Photo_1_" and spaced["original_filename"] == "My Photo (1)"
    overridden = cloudinary.uploader.upload(str(path), filename_override="overridden", **sdk(emulator))
    assert overridden["original_filename"] == "overridden"
    used = cloudinary.uploader.upload(io.BytesIO(png()), filename_override="Ünïcode name.png", use_filename=True,
                                      unique_filename=False, **sdk(emulator))
    assert (used["public_id"], used["original_filename"]) == ("Ünïcode_name", "Ünïcode name")
    stream = cloudinary.uploader.upload(io.BytesIO(png()), **sdk(emulator))
    assert stream["original_filename"] == "stream"  # the SDK's name for a stream without one
    discarded = cloudinary.uploader.upload(str(path), discard_original_filename=True, **sdk(emulator))
    assert "original_filename" not in discarded


def test_context_is_stored_returned_and_changed(any_mode_emulator):
    emulator = any_mode_emulator
    result = cloudinary.uploader.upload(png(), context=CONTEXT, **sdk(emulator))
    assert result["context"] == {"custom": CONTEXT}
    assert cloudinary.api.resource(result["public_id"], **sdk(emulator))["context"] == {"custom": CONTEXT}
    plain = cloudinary.uploader.upload(png(), **sdk(emulator))
    assert "context" not in plain and "context" not in cloudinary.api.resource(plain["public_id"], **sdk(emulator))
    added = cloudinary.uploader.add_context({"caption": "new", "credit": "me"}, [plain["public_id"], "nope"],
                                            **sdk(emulator))
    assert added["public_ids"] == [plain["public_id"]]
    assert cloudinary.api.resource(plain["public_id"], **sdk(emulator))["context"] == {
        "custom": {"caption": "new", "credit": "me"}}
    cloudinary.api.update(plain["public_id"], context={"alt": "a=b"}, **sdk(emulator))
    assert cloudinary.api.resource(plain["public_id"], **sdk(emulator))["context"]["custom"] == {
        "caption": "new", "credit": "me", "alt": "a=b"}
    cloudinary.uploader.remove_all_context([plain["public_id"]], **sdk(emulator))
    assert "context" not in cloudinary.api.resource(plain["public_id"], **sdk(emulator))
    listed = cloudinary.api.resources(context=True, **sdk(emulator))["resources"]
    assert [r.get("context") for r in listed] == [None, {"custom": CONTEXT}]
    assert all("context" not in r for r in cloudinary.api.resources(**sdk(emulator))["resources"])
    by_key = cloudinary.api.resources_by_context("alt", **sdk(emulator))["resources"]
    by_pair = cloudinary.api.resources_by_context("alt", "nothing", **sdk(emulator))["resources"]
    assert [r["public_id"] for r in by_key] == [result["public_id"]] and by_pair == []


def test_context_changes_are_notified(emulator):
    result = cloudinary.uploader.upload(png(), context={"alt": "old", "caption": "gone"}, **sdk(emulator))
    cloudinary.uploader.add_context({"alt": "new", "credit": "me"}, [result["public_id"]], **sdk(emulator))
    cloudinary.uploader.remove_all_context([result["public_id"]], **sdk(emulator))
    changes = [n["body"]["resources"][result["public_id"]] for n in emulator.notifications()
               if n["notification_type"] == "resource_context_changed"]
    assert [(c["added"], c["updated"], c["removed"]) for c in changes] == [
        ([{"name": "credit", "value": "me"}], [{"name": "alt", "value": "new"}], []),
        ([], [], [{"name": "alt", "value": "new"}, {"name": "caption", "value": "gone"},
                  {"name": "credit", "value": "me"}])]
    assert changes[0]["asset_id"] == result["asset_id"] and changes[0]["type"] == "upload"
    upload_body = next(n["body"] for n in emulator.notifications() if n["notification_type"] == "upload")
    assert upload_body["context"] == {"custom": {"alt": "old", "caption": "gone"}}


def test_allowed_formats_refuse_and_format_converts(any_mode_emulator):
    emulator = any_mode_emulator
    ok = cloudinary.uploader.upload(png(), allowed_formats=["png"], **sdk(emulator))
    assert ok["format"] == "png"
    with pytest.raises(BadRequest, match="Image file format png not allowed"):
        cloudinary.uploader.upload(png(), allowed_formats=["jpg", "gif"], **sdk(emulator))
    assert emulator.settings()["assets"] == 1
    converted = cloudinary.uploader.upload(png(), allowed_formats=["jpg"], format="jpg", **sdk(emulator))
    delivered = httpx.get(converted["secure_url"])
    assert converted["format"] == "jpg" and converted["secure_url"].endswith(".jpg")
    assert delivered.content[:3] == b"\xff\xd8\xff" and delivered.headers["content-type"] == "image/jpeg"
    assert converted["bytes"] == len(delivered.content)
    assert converted["etag"] == hashlib.md5(delivered.content).hexdigest()
    assert (converted["width"], converted["height"]) == (4, 3)
    kept = cloudinary.uploader.upload(png(), allowed_formats=["png", "jpg"], format="jpg", **sdk(emulator))
    assert kept["format"] == "png"  # with allowed_formats, `format` only converts what would be refused
    webp = cloudinary.uploader.upload(png(mode="RGBA"), format="webp", **sdk(emulator))
    assert webp["format"] == "webp" and httpx.get(webp["secure_url"]).content[8:12] == b"WEBP"
    with pytest.raises(BadRequest, match="Video file format mp4 not allowed"):
        cloudinary.uploader.upload(polyglots.mp4(), resource_type="video", allowed_formats="webm,mov",
                                   **sdk(emulator))
    with pytest.raises(BadRequest, match="not supported by the emulator"):
        cloudinary.uploader.upload(polyglots.mp4(), resource_type="video", format="webm", **sdk(emulator))
    raw = cloudinary.uploader.upload(io.BytesIO(b"a,b\n"), filename="t.csv", resource_type="raw", format="jpg",
                                     **sdk(emulator))
    assert raw["resource_type"] == "raw" and "format" not in raw  # `format` means nothing to raw files


def test_tags_are_kept_unique_in_name_order(emulator):
    """pycloudinary's test_tags / test_multiple_tags / test_remove_all_tags."""
    first = cloudinary.uploader.upload(tiny_png(1), tags=["zeta", "alpha", "alpha"], **sdk(emulator))
    assert first["tags"] == ["alpha", "zeta"]
    second = cloudinary.uploader.upload(tiny_png(2), tags=["zeta"], **sdk(emulator))
    ids = [first["public_id"], second["public_id"]]
    cloudinary.uploader.add_tag(["tag1", "tag2"], ids, **sdk(emulator))
    cloudinary.uploader.add_tag("tag3,tag4", ids, **sdk(emulator))
    assert cloudinary.api.resource(ids[1], **sdk(emulator))["tags"] == ["tag1", "tag2", "tag3", "tag4", "zeta"]
    cloudinary.uploader.remove_tag(["tag1", "tag2"], ids[1], **sdk(emulator))
    assert cloudinary.api.resource(ids[1], **sdk(emulator))["tags"] == ["tag3", "tag4", "zeta"]
    cloudinary.uploader.remove_all_tags(ids, **sdk(emulator))
    assert "tags" not in cloudinary.api.resource(ids[0], **sdk(emulator))  # no tags: no key
    assert cloudinary.uploader.upload(tiny_png(3), **sdk(emulator))["tags"] == []  # the upload answer keeps it


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/v1_1/demo/nothing"), ("GET", "/v1_1/demo/resources/"), ("GET", "/v1_1/demo/folders"),
    ("PUT", "/v1_1/demo/resources/image/upload"), ("PATCH", "/v1_1/demo/upload_presets"),
    ("GET", "/v1_1/demo/resources/image/moderations/manual/pending"), ("POST", "/v1_1/demo/image/sprite"),
    ("GET", "/v2/demo/nothing"), ("GET", "/v1_1"),
])
def test_unknown_calls_answer_a_json_404(emulator, method, path):
    answer = httpx.request(method, emulator.base_url + path, auth=(emulator.api_key, emulator.api_secret))
    assert answer.status_code == 404 and "location" not in answer.headers
    assert answer.headers["content-type"] == "application/json" and len(answer.headers["x-request-id"]) == 32
    assert answer.json()["error"]["message"].startswith(f"Unsupported API call - {method} ")
    assert emulator.admin_calls() == 0  # not an Admin API call: nothing metered


def test_the_sdk_raises_not_found_for_unsupported_calls(emulator):
    with pytest.raises(NotFound, match="Unsupported API call - GET /v1_1/demo/folders"):
        cloudinary.api.root_folders(**sdk(emulator))
    with pytest.raises(NotFound, match="Unsupported API call"):
        cloudinary.api.resources_by_moderation("manual", "pending", **sdk(emulator))


def test_a_data_dir_written_before_context_keeps_its_assets(tmp_path: Path):
    import sqlite3

    from support.emulator import RunningEmulator

    (tmp_path / "blobs").mkdir()
    (tmp_path / "blobs" / "a").write_bytes(tiny_png(1))
    db = sqlite3.connect(tmp_path / "emulator.sqlite3")
    db.executescript("""
        CREATE TABLE assets (seq INTEGER PRIMARY KEY, asset_id TEXT NOT NULL UNIQUE, resource_type TEXT NOT NULL,
            type TEXT NOT NULL, public_id TEXT NOT NULL, version INTEGER NOT NULL, version_id TEXT NOT NULL,
            format TEXT, bytes INTEGER NOT NULL, width INTEGER, height INTEGER, pages INTEGER NOT NULL DEFAULT 1,
            etag TEXT NOT NULL, created_at TEXT NOT NULL, asset_folder TEXT NOT NULL DEFAULT '', display_name TEXT,
            original_filename TEXT, tags TEXT NOT NULL DEFAULT '[]', blob TEXT);
        INSERT INTO assets (asset_id, resource_type, type, public_id, version, version_id, format, bytes, width,
            height, etag, created_at, original_filename, tags, blob)
        VALUES ('a', 'image', 'upload', 'old', 1, 'v', 'png', 68, 1, 1, 'e', '2024-01-01T00:00:00Z', 'old', '[]', 'a');
    """)
    db.close()
    with RunningEmulator(tmp_path) as running:
        assert "context" not in cloudinary.api.resource("old", **sdk(running))
        cloudinary.uploader.add_context({"alt": "kept"}, ["old"], **sdk(running))
        assert cloudinary.api.resource("old", **sdk(running))["context"] == {"custom": {"alt": "kept"}}
        assert httpx.get(f"{running.base_url}/demo/image/upload/v1/old.png").content == tiny_png(1)
