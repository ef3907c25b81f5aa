"""The emulator through the official cloudinary SDK over real HTTP: shapes, signatures, listing,
deletes, rate limits, faults, delivery and persistence."""

from __future__ import annotations

import hashlib
import time

import cloudinary.api
import cloudinary.uploader
import cloudinary.utils
import httpx
import pytest
from cloudinary.exceptions import AuthorizationRequired, BadRequest, GeneralError, RateLimited

from fixtures.media import tiny_png
from mediasync.emulator.server import signature_matches
from support.emulator import RunningEmulator

UPLOAD_FIELDS = {"asset_id", "public_id", "version", "version_id", "signature", "width", "height", "format",
                 "resource_type", "created_at", "tags", "pages", "bytes", "type", "etag", "placeholder", "url",
                 "secure_url", "original_filename", "asset_folder", "display_name", "api_key"}


def sdk(emulator, **overrides) -> dict:
    options = {"cloud_name": emulator.cloud_name, "api_key": emulator.api_key, "api_secret": emulator.api_secret,
               "upload_prefix": emulator.base_url}
    return {**options, **overrides}


def test_signature_rule_matches_cloudinarys_test_vector():
    ok, signed = signature_matches({"public_id": "sample_image", "timestamp": "1315060510"},
                                   "b4ad47fb4e25c7bf5f92a20089f9db59bc302313", "abcd")
    assert ok and signed == "public_id=sample_image&timestamp=1315060510"


def test_signed_upload_returns_cloudinary_fields_and_delivers_the_bytes(emulator):
    data = tiny_png(1)
    result = cloudinary.uploader.upload(data, folder="main-uploads", public_id="hero", tags=["a", "b"],
                                        **sdk(emulator))
    assert set(result) >= UPLOAD_FIELDS
    assert (result["public_id"], result["resource_type"], result["type"], result["format"]) == (
        "main-uploads/hero", "image", "upload", "png")
    assert (result["width"], result["height"], result["bytes"]) == (1, 1, len(data))
    assert result["etag"] == hashlib.md5(data).hexdigest() and result["tags"] == ["a", "b"]
    assert result["secure_url"].startswith(emulator.base_url + "/demo/image/upload/v")
    delivered = httpx.get(result["secure_url"])
    assert delivered.status_code == 200 and delivered.content == data
    assert delivered.headers["content-type"] == "image/png"


def test_unsigned_upload_with_the_default_preset_uses_its_folder(emulator):
    result = cloudinary.uploader.unsigned_upload(tiny_png(2), "tap2go-uploads", cloud_name=emulator.cloud_name,
                                                 upload_prefix=emulator.base_url)
    assert result["public_id"].startswith("main-uploads/") and result["asset_folder"] == "main-uploads"
    with pytest.raises(BadRequest, match="Upload preset not found"):
        cloudinary.uploader.unsigned_upload(tiny_png(2), "no-such-preset", cloud_name=emulator.cloud_name,
                                            upload_prefix=emulator.base_url)


def test_wrong_secret_is_rejected_with_cloudinarys_error(emulator):
    with pytest.raises(AuthorizationRequired, match=r"Invalid Signature [0-9a-f]{40}\. String to sign - '"):
        cloudinary.uploader.upload(tiny_png(3), **sdk(emulator, api_secret="wrong"))
    with pytest.raises(AuthorizationRequired):
        cloudinary.api.resources(**sdk(emulator, api_secret="wrong"))


def test_sha256_signatures_and_stale_timestamps(emulator):
    result = cloudinary.uploader.upload(tiny_png(4), signature_algorithm="sha256", **sdk(emulator))
    assert result["public_id"]
    stale = {"timestamp": str(int(time.time()) - 7200)}  # the SDK always stamps "now": sign one by hand
    stale["signature"] = cloudinary.utils.api_sign_request(stale, emulator.api_secret)
    response = httpx.post(f"{emulator.base_url}/v1_1/demo/image/upload", data={**stale, "api_key": emulator.api_key},
                          files={"file": ("a.png", tiny_png(4))})
    assert response.status_code == 400 and "Stale request" in response.json()["error"]["message"]


def test_missing_file_and_wrong_type(emulator):
    response = httpx.post(f"{emulator.base_url}/v1_1/demo/image/upload", data={"upload_preset": "tap2go-uploads"})
    assert response.status_code == 400
    assert response.json() == {"error": {"message": "Missing required parameter - file"}}
    with pytest.raises(BadRequest, match="Invalid image file"):
        cloudinary.uploader.upload(b"plain text", resource_type="image", **sdk(emulator))
    raw = cloudinary.uploader.upload(b"plain text", resource_type="auto", **sdk(emulator))
    assert raw["resource_type"] == "raw"


def test_listing_pages_prefix_and_single_resource(emulator):
    emulator.seed(1200, prefix="main-uploads/p")
    emulator.seed(5, prefix="other/p")
    seen, cursor, calls = [], None, 0
    while True:
        page = cloudinary.api.resources(type="upload", prefix="main-uploads/", max_results=500,
                                        next_cursor=cursor, **sdk(emulator))
        calls += 1
        seen += [r["public_id"] for r in page["resources"]]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    assert calls == 3 and len(seen) == 1200 and len(set(seen)) == 1200
    assert all(pid.startswith("main-uploads/") for pid in seen)
    one = cloudinary.api.resource("other/p0000003", **sdk(emulator))
    assert one["public_id"] == "other/p0000003" and one["bytes"] == 1024
    with pytest.raises(BadRequest, match="max_results"):
        cloudinary.api.resources(max_results=501, **sdk(emulator))


def test_delete_resources_and_destroy(emulator):
    emulator.seed(3, prefix="main-uploads/d")
    answer = cloudinary.api.delete_resources(["main-uploads/d0000000", "main-uploads/d0000001", "nope"],
                                             **sdk(emulator))
    assert answer["deleted"] == {"main-uploads/d0000000": "deleted", "main-uploads/d0000001": "deleted",
                                 "nope": "not_found"}
    assert answer["partial"] is False
    # Upload API answers carry X-Request-Id, which the SDK adds to the result as `request_id`
    first, again = (cloudinary.uploader.destroy("main-uploads/d0000002", **sdk(emulator)) for _ in range(2))
    assert first == {"result": "ok", "request_id": first["request_id"]} and len(first["request_id"]) == 32
    assert again == {"result": "not found", "request_id": again["request_id"]} != first
    with pytest.raises(BadRequest, match="at most 100"):
        cloudinary.api.delete_resources([f"x{i}" for i in range(101)], **sdk(emulator))


def test_rate_limit_headers_then_420(emulator):
    emulator.control(rate_limit=2)
    first = cloudinary.api.resources(**sdk(emulator))
    assert first.rate_limit_allowed == 2 and first.rate_limit_remaining == 1 and first.rate_limit_reset_at
    cloudinary.api.resources(**sdk(emulator))
    with pytest.raises(RateLimited, match=r"Rate Limit Exceeded\. Limit of 2 api operations reached\. Try again on"):
        cloudinary.api.resources(**sdk(emulator))
    cloudinary.uploader.upload(tiny_png(5), **sdk(emulator))  # the Upload API is not rate limited


def test_fault_injection_and_latency_at_run_time(emulator):
    emulator.control(fail_rate=1.0)
    with pytest.raises(GeneralError):
        cloudinary.api.resources(**sdk(emulator))
    emulator.control(fail_rate=0.0, latency_ms=200)
    started = time.monotonic()
    cloudinary.api.resources(**sdk(emulator))
    assert time.monotonic() - started >= 0.2
    assert emulator.settings()["latency_ms"] == 200


def test_data_survives_a_restart(tmp_path):
    with RunningEmulator(tmp_path) as first:
        uploaded = cloudinary.uploader.upload(tiny_png(6), folder="main-uploads", **sdk(first))
    with RunningEmulator(tmp_path) as second:
        listed = cloudinary.api.resources(**sdk(second))
        assert [r["public_id"] for r in listed["resources"]] == [uploaded["public_id"]]
        delivered = httpx.get(uploaded["secure_url"].replace(first.base_url, second.base_url))
        assert delivered.content == tiny_png(6)


def test_upload_presets_admin(emulator):
    presets = cloudinary.api.upload_presets(**sdk(emulator))
    assert [p["name"] for p in presets["presets"]] == ["tap2go-uploads"]
    assert cloudinary.api.upload_preset("tap2go-uploads", **sdk(emulator))["settings"]["folder"] == "main-uploads"


def test_delivery_urls_can_name_a_public_host(tmp_path):
    """Behind Docker the API is reached as http://emulator:9444 but browsers need the host's address."""
    with RunningEmulator(tmp_path, public_url="http://localhost:19444/") as running:
        result = cloudinary.uploader.upload(tiny_png(7), **sdk(running))
        assert result["secure_url"].startswith("http://localhost:19444/demo/image/upload/v")
