"""`mediasync notifications setup|status|poll` as a subprocess, against the emulator's triggers
API and poll channel."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from fixtures.media import tiny_png


def run_cli(*args: str, db_url: str, emulator, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("MEDIASYNC_", "SUPABASE_", "AIRFLOW_CONN_", "CLOUDINARY_"))}
    environ.update(MEDIASYNC_DATABASE_URL=db_url, CLOUDINARY_URL=emulator.cloudinary_url, **env)
    return subprocess.run([sys.executable, "-m", "mediasync.cli", "notifications", *args], env=environ,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, check=False)


def test_setup_poll_is_idempotent_and_status_shows_it(db_url, emulator):
    first = run_cli("setup", "--transport", "poll", "--channel", "media", "--json", db_url=db_url, emulator=emulator)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["uri"] == "poll://media" and len(json.loads(first.stdout)["created"]) == 9
    second = run_cli("setup", "--transport", "poll", "--channel", "media", "--json", db_url=db_url,
                     emulator=emulator)
    assert json.loads(second.stdout)["created"] == [] and len(json.loads(second.stdout)["existing"]) == 9
    status = run_cli("status", "--json", db_url=db_url, emulator=emulator)
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["received"] == 0 and data["last_received_at"] is None
    assert {t["uri"] for t in data["triggers"]} == {"poll://media"}
    human = run_cli("status", db_url=db_url, emulator=emulator)
    assert "poll://media" in human.stdout and "received" in human.stdout


def test_setup_webhook_and_poll_drains_the_channel(db_url, emulator, services):
    hook = run_cli("setup", "--transport", "webhook", "--url", "https://media.example.com/mediasync/api/v1/cloudinary/"
                   "notifications", db_url=db_url, emulator=emulator)
    assert hook.returncode == 0, hook.stderr
    assert run_cli("setup", "--transport", "poll", db_url=db_url, emulator=emulator).returncode == 0
    services.media.upload(tiny_png(1), "cli.png")
    emulator.console("upload", folder="main-uploads", public_id="by-console", filename="c.png")
    polled = run_cli("poll", "--json", db_url=db_url, emulator=emulator)
    assert polled.returncode == 0, polled.stderr
    result = json.loads(polled.stdout)
    assert (result["channel"], result["received"], result["applied"], result["acknowledged"]) == ("mediasync", 2, 1, 2)
    status = json.loads(run_cli("status", "--json", db_url=db_url, emulator=emulator).stdout)
    assert (status["received"], status["applied"], status["last_type"]) == (2, 1, "upload")


def test_bad_usage_is_one_clean_line(db_url, emulator):
    for args in (["setup", "--transport", "webhook"], ["setup", "--transport", "carrier-pigeon"],
                 ["setup", "--transport", "webhook", "--url", "ftp://x"]):
        result = run_cli(*args, db_url=db_url, emulator=emulator)
        assert result.returncode != 0 and "Traceback" not in result.stderr + result.stdout
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("mediasync: error: "), result.stderr
