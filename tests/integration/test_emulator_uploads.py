"""Uploads through the official SDK over HTTP, in both folder modes: every response field and what
it means per mode, decoding (undecodable and pixel-bomb images refused), presets, overwrite."""

from __future__ import annotations

import hashlib
import io
import re
import struct
import zlib
from datetime import datetime, timezone

import cloudinary.api
import cloudinary.uploader
import cloudinary.utils
import httpx
import pytest
from cloudinary.exceptions import BadRequest
from PIL import Image

from fixtures.emulator import sdk
from fixtures.media import tiny_png

# Cloudinary's documented upload response (image_upload_api_reference, sample response) —
# asset_folder/display_name are returned on dynamic-folder accounts; the emulator mirrors them in fixed mode.
UPLOAD_FIELDS = ["asset_id", "public_id", "version", "version_id", "signature", "width", "height", "format",
                 "resource_type", "created_at", "tags", "pages", "bytes", "type", "etag", "placeholder", "url",
                 "secure_url", "asset_folder", "display_name", "original_filename", "api_key"]


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 20, 30)).save(out, "PNG")
    return out.getvalue()


def pixel_bomb() -> bytes:
    """A PNG header claiming 4 294 967 295 × 4 294 967 295 pixels (and no real image data)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 0xFFFFFFFF, 0xFFFFFFFF, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))


def test_every_upload_field_with_cloudinary_semantics(any_mode_emulator, sdk_config):
    emulator = any_mode_emulator
    data = png(3, 2)
    before = datetime.now(timezone.utc).replace(microsecond=0)
    result = cloudinary.uploader.upload(io.BytesIO(data), filename="Holiday Photo.png", folder="main-uploads",
                                        tags=["a", "b"], **sdk(emulator))
    assert [f for f in UPLOAD_FIELDS if f not in result] == []
    assert re.fullmatch(r"[0-9a-f]{32}", result["asset_id"]) and re.fullmatch(r"[0-9a-f]{32}", result["version_id"])
    assert (result["width"], result["height"], result["format"], result["resource_type"], result["type"]) == (
        3, 2, "png", "image", "upload")
    assert result["bytes"] == len(data) and result["etag"] == hashlib.md5(data).hexdigest()
    assert result["tags"] == ["a", "b"] and result["pages"] == 1 and result["placeholder"] is False
    assert result["api_key"] == emulator.api_key
    assert result["original_filename"] == "Holiday Photo"  # the uploaded file's name without extension
    created = datetime.strptime(result["created_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert created >= before and abs(result["version"] - created.timestamp()) <= 2
    # the response signature is Cloudinary's: verifiable with the SDK
    assert cloudinary.utils.verify_api_response_signature(result["public_id"], result["version"],
                                                          result["signature"])
    assert not cloudinary.utils.verify_api_response_signature(result["public_id"], result["version"] + 1,
                                                              result["signature"])
    assert result["asset_folder"] == "main-uploads"
    name = result["public_id"].rsplit("/", 1)[-1]
    assert re.fullmatch(r"[a-z0-9]{20}", name)  # no use_filename: a random id
    if emulator.folder_mode == "fixed":
        assert result["public_id"] == f"main-uploads/{name}" and result["display_name"] == name
    else:
        assert result["public_id"] == name  # dynamic: the public_id carries no folder
        assert result["display_name"] == "Holiday Photo"  # and the display name defaults to the file's name
    assert result["secure_url"] == f"{emulator.base_url}/demo/image/upload/v{result['version']}/" \
                                   f"{result['public_id']}.png"
    delivered = httpx.get(result["secure_url"])
    assert delivered.status_code == 200 and delivered.content == data
    assert delivered.headers["content-type"] == "image/png"


def test_use_filename_unique_filename_and_public_id_per_mode(any_mode_emulator):
    emulator = any_mode_emulator
    fixed = emulator.folder_mode == "fixed"
    unique = cloudinary.uploader.upload(io.BytesIO(tiny_png(1)), filename="logo.png", use_filename=True,
                                        folder="shop", **sdk(emulator))
    assert re.fullmatch(("shop/" if fixed else "") + r"logo_[a-z0-9]{6}", unique["public_id"])
    plain = cloudinary.uploader.upload(io.BytesIO(tiny_png(2)), filename="logo.png", use_filename=True,
                                       unique_filename=False, folder="shop", **sdk(emulator))
    assert plain["public_id"] == ("shop/logo" if fixed else "logo")
    named = cloudinary.uploader.upload(tiny_png(3), public_id="hero", folder="shop/banners", **sdk(emulator))
    assert named["public_id"] == ("shop/banners/hero" if fixed else "hero")
    assert named["asset_folder"] == "shop/banners" and named["display_name"] == "hero"
    # dynamic-only parameters
    explicit = cloudinary.uploader.upload(tiny_png(4), public_id="card", asset_folder="cards", display_name="My card",
                                          use_asset_folder_as_public_id_prefix=True, **sdk(emulator))
    if fixed:
        assert explicit["public_id"] == "card" and explicit["asset_folder"] == ""
    else:
        assert (explicit["public_id"], explicit["asset_folder"], explicit["display_name"]) == (
            "cards/card", "cards", "My card")


def test_overwrite_keeps_asset_id_and_existing_is_returned_unchanged(any_mode_emulator):
    emulator = any_mode_emulator
    first = cloudinary.uploader.upload(tiny_png(1), public_id="same", **sdk(emulator))
    second = cloudinary.uploader.upload(png(4, 4), public_id="same", **sdk(emulator))
    assert second["asset_id"] == first["asset_id"] and second["version"] > first["version"]
    assert second["overwritten"] is True and second["width"] == 4
    kept = cloudinary.uploader.upload(tiny_png(9), public_id="same", overwrite=False, **sdk(emulator))
    assert kept["existing"] is True and kept["etag"] == second["etag"] and kept["version"] == second["version"]


def test_presets_apply_by_mode(any_mode_emulator):
    emulator = any_mode_emulator
    result = cloudinary.uploader.unsigned_upload(io.BytesIO(tiny_png(2)), "tap2go-uploads", filename="cat.png",
                                                 cloud_name=emulator.cloud_name, upload_prefix=emulator.base_url)
    assert result["asset_folder"] == "main-uploads"
    if emulator.folder_mode == "fixed":
        assert result["public_id"].startswith("main-uploads/")
    else:
        assert "/" not in result["public_id"] and result["display_name"] == "cat"
    cloudinary.api.create_upload_preset(name="prefixed", unsigned=True, folder="albums", use_filename=True,
                                        unique_filename=False, use_asset_folder_as_public_id_prefix=True,
                                        **sdk(emulator))
    preset = cloudinary.uploader.unsigned_upload(io.BytesIO(tiny_png(3)), "prefixed", filename="dog.png",
                                                 cloud_name=emulator.cloud_name, upload_prefix=emulator.base_url)
    assert preset["public_id"] == "albums/dog" and preset["asset_folder"] == "albums"


def test_undecodable_and_pixel_bomb_images_are_refused(emulator):
    broken = tiny_png(1)[:40]  # a PNG signature and header, then nothing
    for data in (broken, b"\x89PNG\r\n\x1a\n" + b"garbage" * 10, pixel_bomb()):
        for resource_type in ("image", "auto"):
            with pytest.raises(BadRequest, match="Invalid image file"):
                cloudinary.uploader.upload(data, resource_type=resource_type, **sdk(emulator))
    answer = httpx.post(f"{emulator.base_url}/v1_1/demo/image/upload", data={"upload_preset": "tap2go-uploads"},
                        files={"file": ("bomb.png", pixel_bomb())})
    assert answer.status_code == 400 and answer.json() == {"error": {"message": "Invalid image file"}}
    assert emulator.settings()["assets"] == 0
    jpeg = io.BytesIO()
    Image.new("RGB", (5, 7)).save(jpeg, "JPEG")
    ok = cloudinary.uploader.upload(jpeg.getvalue(), **sdk(emulator))
    assert (ok["format"], ok["width"], ok["height"]) == ("jpg", 5, 7)


def test_animated_gif_pages_and_raw_files(emulator):
    frames = [Image.new("RGB", (2, 2), (80 * i, 0, 0)) for i in range(3)]
    gif = io.BytesIO()
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:])
    result = cloudinary.uploader.upload(gif.getvalue(), **sdk(emulator))
    assert (result["format"], result["pages"]) == ("gif", 3)
    raw = cloudinary.uploader.upload(io.BytesIO(b"a,b\n1,2\n"), filename="table.csv", resource_type="raw",
                                     use_filename=True, unique_filename=False, **sdk(emulator))
    assert raw["resource_type"] == "raw" and raw["public_id"] == "table.csv" and "format" not in raw
    assert raw["original_filename"] == "table"


def test_remote_file_urls_are_refused_unless_allowed(emulator):
    with pytest.raises(BadRequest, match="remote fetch is disabled"):
        cloudinary.uploader.upload("http://127.0.0.1:1/secret.png", **sdk(emulator))
    answer = httpx.post(f"{emulator.base_url}/v1_1/demo/image/upload",
                        data={"upload_preset": "tap2go-uploads", "file": "https://example.com/a.png"})
    assert answer.status_code == 400 and "remote fetch is disabled" in answer.json()["error"]["message"]


def test_ping(emulator):
    assert cloudinary.api.ping(**sdk(emulator)) == {"status": "ok"}
    assert emulator.admin_calls() == 1


def test_a_dynamic_folder_emulator_from_the_start_keeps_its_mode_across_reset(tmp_path):
    from support.emulator import RunningEmulator

    with RunningEmulator(tmp_path, folder_mode="dynamic") as running:
        assert httpx.get(f"{running.base_url}/_emulator/health").json()["folder_mode"] == "dynamic"
        running.control(folder_mode="fixed")
        running.reset()
        assert running.folder_mode == "dynamic"
        result = cloudinary.uploader.upload(tiny_png(1), folder="main-uploads", **sdk(running))
        assert "/" not in result["public_id"] and result["asset_folder"] == "main-uploads"
