"""`mediasync verify` against a real database and the emulator: every scenario passes, and a
broken setup fails loudly with a non-zero exit."""

from __future__ import annotations

import os
import subprocess
import sys

from mediasync.verify import SyncVerifier


def test_every_sync_scenario_passes_and_cleans_up(services, cloudinary_store, conn):
    results = SyncVerifier(services).run()
    assert [r.name for r in results if not r.ok] == [], [(r.name, r.detail) for r in results if not r.ok]
    assert len(results) == 10
    assert conn.execute("SELECT count(*) AS n FROM media_files WHERE public_id LIKE 'mediasync-verify/%' "
                        "OR folder LIKE 'mediasync-verify/%'").fetchone()["n"] == 0
    leftovers = [a.public_id for rt in ("image", "video", "raw") for a in cloudinary_store.iter_resources(rt)
                 if a.public_id.startswith("mediasync-verify/")
                 or (a.asset_folder or "").startswith("mediasync-verify")]
    assert leftovers == []


def run_verify(db_url: str, cloudinary_url: str, tmp_path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDIASYNC_", "CLOUDINARY_", "AIRFLOW_CONN_"))}
    env.update(MEDIASYNC_DATABASE_URL=db_url, CLOUDINARY_URL=cloudinary_url,
               MEDIASYNC_REPORT_DIR=str(tmp_path / "reports"))
    return subprocess.run([sys.executable, "-m", "mediasync.cli", "verify"], env=env, capture_output=True, text=True,
                          check=False,
                          timeout=300, stdin=subprocess.DEVNULL)


def test_cli_prints_a_table_and_exits_zero(db_url, emulator, tmp_path):
    result = run_verify(db_url, emulator.cloudinary_url, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "10 passed, 0 failed"
    assert sum(line.startswith("PASS") for line in lines) == 10


def test_cli_fails_with_wrong_cloudinary_credentials(db_url, emulator, tmp_path):
    wrong = emulator.cloudinary_url.replace(f":{emulator.api_secret}@", ":wrong-secret@")
    result = run_verify(db_url, wrong, tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "FAIL  upload syncs Cloudinary and media_files" in result.stdout
