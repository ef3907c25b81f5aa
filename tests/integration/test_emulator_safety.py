"""The emulator is a dev tool and safe by default: loopback unless told, a control token off
loopback, JSON-only control POSTs, 4xx (never 500) for bad control input, no remote fetches unless
allowed; and its credentials come from flags or one CLOUDINARY_URL shared with the SDK."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import cloudinary.api
import cloudinary.uploader
import httpx
import pytest

from fixtures.emulator import sdk
from fixtures.media import tiny_png
from mediasync.emulator.app import serve
from mediasync.emulator.config import Credentials, credentials_from_env
from support.emulator import RunningEmulator, free_port

MEDIASYNC = str(Path(sys.executable).parent / "mediasync")


def test_listening_beyond_loopback_without_a_token_is_refused(tmp_path):
    with pytest.raises(ValueError, match="control token"):
        serve(host="0.0.0.0", port=free_port(), data_dir=tmp_path)
    run = subprocess.run([MEDIASYNC, "emulator", "--host", "0.0.0.0", "--port", str(free_port()), "--data-dir",
                          str(tmp_path)], capture_output=True, text=True, timeout=60, check=False,
                         env={k: v for k, v in os.environ.items() if k != "MEDIASYNC_EMULATOR_CONTROL_TOKEN"})
    assert run.returncode == 2 and "control token" in run.stderr


def test_control_token_guards_every_control_route_but_health(tmp_path):
    with RunningEmulator(tmp_path, control_token="s3cret") as running:
        base = running.base_url
        assert httpx.get(f"{base}/_emulator/health").status_code == 200
        for method, path in (("GET", "/_emulator/control"), ("POST", "/_emulator/control"),
                             ("POST", "/_emulator/reset"), ("POST", "/_emulator/seed"),
                             ("GET", "/_emulator/deletions"), ("GET", "/_emulator/notifications"),
                             ("POST", "/_emulator/console")):
            answer = httpx.request(method, base + path, json={})
            assert answer.status_code == 401 and "token" in answer.json()["detail"], path
            wrong = httpx.request(method, base + path, json={}, headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401, path
        assert httpx.get(f"{base}/_emulator/control", headers={"X-Emulator-Token": "s3cret"}).status_code == 200
        assert httpx.get(f"{base}/_emulator/control", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        running.control(latency_ms=1)  # the helper sends the token
        running.reset()
        assert running.settings()["latency_ms"] == 0


def test_control_posts_must_be_json(emulator):
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        answer = httpx.post(f"{emulator.base_url}/_emulator/control", content=b'{"fail_rate": 1}',
                            headers={"Content-Type": content_type})
        assert answer.status_code == 415, content_type
    answer = httpx.post(f"{emulator.base_url}/_emulator/reset")  # no body, no type: a browser could send that
    assert answer.status_code == 415
    assert emulator.settings()["fail_rate"] == 0.0


@pytest.mark.parametrize(("path", "body", "status"), [
    ("/_emulator/control", b"{not json", 400),
    ("/_emulator/control", b"[1, 2]", 422),
    ("/_emulator/control", b'{"fail_rate": "lots"}', 422),
    ("/_emulator/control", b'{"fail_rate": 2}', 422),
    ("/_emulator/control", b'{"latency_ms": -5}', 422),
    ("/_emulator/control", b'{"folder_mode": "sideways"}', 422),
    ("/_emulator/control", b'{"webhook_retry_delays": "soon"}', 422),
    ("/_emulator/seed", b'{"count": "many"}', 422),
    ("/_emulator/seed", b'{"count": 1, "resource_type": "pdf"}', 422),
    ("/_emulator/console", b'{"action": "explode"}', 422),
    ("/_emulator/console", b'{"action": "rename", "from_public_id": "a"}', 422),
    ("/_emulator/console", b'{"action": "rename", "from_public_id": "a", "to_public_id": "b"}', 404),
    ("/_emulator/console", b'{"action": "delete", "public_ids": [1, 2]}', 422),
    ("/_emulator/console", b'{"action": "retag", "public_id": 7}', 422),
    ("/_emulator/console", b'{"action": "upload", "file_base64": "%%%"}', 422),
    ("/_emulator/console", b'{"action": "upload", "file_base64": "aGVsbG8=", "resource_type": "image"}', 422),
])
def test_bad_control_input_is_a_4xx_never_a_500(emulator, path, body, status):
    answer = httpx.post(emulator.base_url + path, content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == status, answer.text
    assert "detail" in answer.json()


def test_remote_fetch_only_when_allowed(tmp_path):
    with RunningEmulator(tmp_path / "a", allow_remote_fetch=True) as running:
        source = cloudinary.uploader.upload(tiny_png(1), public_id="source", **sdk(running))
        fetched = cloudinary.uploader.upload(source["secure_url"], **sdk(running))
        assert fetched["etag"] == source["etag"] and fetched["original_filename"] == "source"


def test_credentials_from_cloudinary_url(monkeypatch):
    env = {"CLOUDINARY_URL": "cloudinary://k%40y:s%3Acret@acme?upload_prefix=http://127.0.0.1:1"}
    assert credentials_from_env(env) == Credentials("acme", "k@y", "s:cret")
    assert credentials_from_env({}) == Credentials("demo", "mediasync-key", "mediasync-secret")
    assert credentials_from_env({**env, "MEDIASYNC_EMULATOR_CLOUD": "other"}).cloud_name == "other"
    with pytest.raises(ValueError, match="CLOUDINARY_URL"):
        credentials_from_env({"CLOUDINARY_URL": "https://nope"})


def test_one_cloudinary_url_configures_the_emulator_and_the_sdk(tmp_path):
    port = free_port()
    url = f"cloudinary://team-key:team-secret@team-cloud?upload_prefix=http://127.0.0.1:{port}"
    env = {**os.environ, "CLOUDINARY_URL": url}
    for name in ("MEDIASYNC_EMULATOR_CLOUD", "MEDIASYNC_EMULATOR_API_KEY", "MEDIASYNC_EMULATOR_API_SECRET"):
        env.pop(name, None)
    process = subprocess.Popen([MEDIASYNC, "emulator", "--port", str(port), "--data-dir", str(tmp_path),
                                "--folder-mode", "dynamic"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/_emulator/health", timeout=1).json()
                break
            except httpx.HTTPError:
                assert process.poll() is None and time.monotonic() < deadline, "the emulator did not start"
                time.sleep(0.2)
        assert health == {"ok": True, "cloud_name": "team-cloud", "folder_mode": "dynamic"}
        options = {"cloud_name": "team-cloud", "api_key": "team-key", "api_secret": "team-secret",
                   "upload_prefix": f"http://127.0.0.1:{port}"}
        result = cloudinary.uploader.upload(tiny_png(1), folder="main-uploads", **options)
        assert result["asset_folder"] == "main-uploads" and "/" not in result["public_id"]
        assert cloudinary.api.ping(**options) == {"status": "ok"}
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_help_shows_every_flag():
    run = subprocess.run([MEDIASYNC, "emulator", "--help"], capture_output=True, text=True, timeout=60, check=False,
                         env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"})
    assert run.returncode == 0
    for flag in ("--host", "--port", "--data-dir", "--cloud-name", "--api-key", "--api-secret", "--folder-mode",
                 "--control-token", "--allow-remote-fetch", "--latency-ms", "--fail-rate", "--rate-limit",
                 "CLOUDINARY_URL"):
        assert flag in run.stdout, flag
