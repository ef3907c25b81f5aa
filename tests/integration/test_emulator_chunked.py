"""Chunked uploads as Cloudinary takes them: the official SDK's `upload_large` (and hand-made parts,
as the Node SDK's `upload_chunked_stream` and the Go SDK send them) assembled by X-Unique-Upload-Id
and Content-Range into one asset; parts of at least 5 MB except the last; the last one last; a
single request of more than 100 MB refused."""

from __future__ import annotations

import hashlib
import io
import os

import cloudinary.api
import cloudinary.uploader
import cloudinary.utils
import httpx
import pytest
from cloudinary.exceptions import BadRequest
from PIL import Image

from fixtures import polyglots
from fixtures.emulator import sdk

MB = 1024 * 1024


def pattern(size: int, seed: int = 1) -> bytes:
    block = hashlib.sha256(str(seed).encode()).digest() * 2048  # 64 KiB that differ by seed
    return (block * (size // len(block) + 1))[:size]


def video(size: int) -> bytes:
    """An MP4 (ftyp + moov + mdat) of exactly `size` bytes."""
    head = polyglots.mp4([(b"ftyp", b"isom\0\0\2\0isomiso2avc1mp41"), (b"moov", b"\0" * 16)])
    mdat = size - len(head) - 8
    return head + (8 + mdat).to_bytes(4, "big") + b"mdat" + pattern(mdat)


def signed_params(emulator, **params) -> dict:
    params = {"timestamp": str(cloudinary.utils.now()), **params}
    return {**params, "signature": cloudinary.utils.api_sign_request(params, emulator.api_secret),
            "api_key": emulator.api_key}


def send_part(emulator, data: bytes, start: int, total: int | str, upload_id: str = "up-1",
              resource_type: str = "raw", **params) -> httpx.Response:
    end = start + len(data) - 1
    return httpx.post(f"{emulator.base_url}/v1_1/demo/{resource_type}/upload", data=signed_params(emulator, **params),
                      files={"file": ("big.bin", data)},
                      headers={"X-Unique-Upload-Id": upload_id, "Content-Range": f"bytes {start}-{end}/{total}"},
                      timeout=60)


def test_upload_large_becomes_one_asset(any_mode_emulator):
    emulator = any_mode_emulator
    data = pattern(12 * MB)
    result = cloudinary.uploader.upload_large(io.BytesIO(data), chunk_size=6 * MB, folder="main-uploads",
                                              filename="archive.bin", tags=["big"], **sdk(emulator))
    assert (result["bytes"], result["etag"]) == (len(data), hashlib.md5(data).hexdigest())
    assert result["resource_type"] == "raw" and result["original_filename"] == "archive"
    assert result["asset_folder"] == "main-uploads" and result["tags"] == ["big"]
    assert emulator.settings()["assets"] == 1 and emulator.upload_api_calls() == 2
    assert httpx.get(result["secure_url"]).content == data
    uploads = [n for n in emulator.notifications() if n["notification_type"] == "upload"]
    assert len(uploads) == 1 and uploads[0]["body"]["bytes"] == len(data)


def test_upload_large_video_and_image(emulator):
    movie = video(11 * MB)
    result = cloudinary.uploader.upload_large(io.BytesIO(movie), chunk_size=5 * MB, resource_type="video",
                                              **sdk(emulator))
    assert (result["resource_type"], result["format"], result["bytes"]) == ("video", "mp4", len(movie))
    noise = Image.frombytes("RGB", (1400, 1400), os.urandom(1400 * 1400 * 3))
    out = io.BytesIO()
    noise.save(out, "PNG", compress_level=0)
    picture = out.getvalue()
    assert len(picture) > 5 * MB
    image = cloudinary.uploader.upload_large(io.BytesIO(picture), chunk_size=5 * MB, resource_type="image",
                                             use_filename=True, unique_filename=False, filename="noise.png",
                                             **sdk(emulator))
    assert (image["width"], image["height"], image["format"], image["public_id"]) == (1400, 1400, "png", "noise")
    small = cloudinary.uploader.upload_large(io.BytesIO(b"tiny"), resource_type="raw", **sdk(emulator))
    assert small["bytes"] == 4  # one part: it is also the last
    assert emulator.settings()["assets"] == 3


def test_a_part_other_than_the_last_must_be_5_mb(any_mode_emulator):
    emulator = any_mode_emulator
    with pytest.raises(BadRequest, match="All parts except EOF-chunk must be larger than 5mb"):
        cloudinary.uploader.upload_large(io.BytesIO(pattern(200_000)), chunk_size=40_000, **sdk(emulator))
    assert emulator.settings()["assets"] == 0


def test_parts_arrive_in_any_order_but_the_last_comes_last(emulator):
    data = pattern(16 * MB, seed=2)
    parts = [(0, data[:5 * MB]), (5 * MB, data[5 * MB:10 * MB]), (10 * MB, data[10 * MB:15 * MB]),
             (15 * MB, data[15 * MB:])]
    for start, chunk in (parts[2], parts[0], parts[1], parts[1]):  # middle parts in any order, one sent twice
        answer = send_part(emulator, chunk, start, len(data), public_id="ordered")
        assert answer.status_code == 200 and answer.json()["done"] is False
    assert answer.json() == {"done": False, "bytes": 15 * MB, "resource_type": "raw", "public_id": "ordered"}
    assert emulator.settings()["assets"] == 0  # nothing exists before the last part
    last = send_part(emulator, parts[3][1], parts[3][0], len(data), public_id="ordered")
    assert last.status_code == 200 and last.json()["public_id"] == "ordered"
    assert last.json()["etag"] == hashlib.md5(data).hexdigest() and len(last.headers["x-request-id"]) == 32
    early = send_part(emulator, data[:5 * MB], 0, len(data), upload_id="up-2")
    assert early.status_code == 200
    refused = send_part(emulator, data[15 * MB:], 15 * MB, len(data), upload_id="up-2")
    assert refused.status_code == 400 and "before all others" in refused.json()["error"]["message"]
    assert emulator.settings()["assets"] == 1


def test_parts_without_a_total_until_the_last_as_the_node_sdk_sends_them(emulator):
    data = pattern(11 * MB, seed=3)
    for start, end, total in ((0, 6 * MB, "-1"), (6 * MB, 11 * MB, str(11 * MB))):
        answer = send_part(emulator, data[start:end], start, total, upload_id="node", resource_type="auto")
    assert answer.status_code == 200 and answer.json()["bytes"] == len(data)
    assert answer.json()["resource_type"] == "raw"  # `auto` decides at the end
    star = send_part(emulator, data[:6 * MB], 0, "*", upload_id="star")
    assert star.json() == {"done": False, "bytes": 6 * MB, "resource_type": "raw"}


@pytest.mark.parametrize(("headers", "message"), [
    ({"X-Unique-Upload-Id": "x"}, "needs both"),
    ({"Content-Range": "bytes 0-3/4"}, "needs both"),
    ({"X-Unique-Upload-Id": "x", "Content-Range": "0-3/4"}, "Invalid Content-Range"),
    ({"X-Unique-Upload-Id": "x", "Content-Range": "bytes 0-9/10"}, "does not match its Content-Range"),
    ({"X-Unique-Upload-Id": "x", "Content-Range": "bytes 3-1/10"}, "Invalid Content-Range"),
])
def test_malformed_parts_are_refused(emulator, headers, message):
    answer = httpx.post(f"{emulator.base_url}/v1_1/demo/raw/upload", data=signed_params(emulator),
                        files={"file": ("a.bin", b"abcd")}, headers=headers)
    assert answer.status_code == 400 and message in answer.json()["error"]["message"]


def test_the_total_must_not_change_between_parts(emulator):
    data = pattern(6 * MB)
    assert send_part(emulator, data, 0, 20 * MB, upload_id="t").status_code == 200
    changed = send_part(emulator, data, 6 * MB, 30 * MB, upload_id="t")
    assert changed.status_code == 400 and "total size changed" in changed.json()["error"]["message"]


def test_a_single_request_over_100_mb_is_refused(emulator):
    """Cloudinary's single-request cap: "File size too large. Got 104857601. Maximum is 104857600."."""
    class Zeros(io.RawIOBase):
        def __init__(self, size: int) -> None:
            self.left = size

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            size = self.left if size < 0 else min(size, self.left)
            self.left -= size
            return b"\0" * size

    answer = httpx.post(f"{emulator.base_url}/v1_1/demo/raw/upload", data=signed_params(emulator),
                        files={"file": ("big.bin", Zeros(100 * MB + 1))}, timeout=120)
    assert answer.status_code == 400
    assert answer.json() == {"error": {"message": "File size too large. Got 104857601. Maximum is 104857600."}}
    assert emulator.settings()["assets"] == 0


def test_unfinished_uploads_are_forgotten_on_reset(emulator):
    assert send_part(emulator, pattern(5 * MB), 0, 12 * MB, upload_id="forgotten").status_code == 200
    emulator.reset()
    last = send_part(emulator, pattern(2 * MB), 10 * MB, 12 * MB, upload_id="forgotten")
    assert last.status_code == 400 and cloudinary.api.resources(**sdk(emulator))["resources"] == []
