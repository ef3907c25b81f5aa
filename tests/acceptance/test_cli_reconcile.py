"""`mediasync reconcile --scope` and the settings a deployment's CLI writes for the database,
as subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from fixtures.media import tiny_png


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("MEDIASYNC_", "SUPABASE_", "AIRFLOW_CONN_", "CLOUDINARY_"))}
    environ.update(env)
    return subprocess.run([sys.executable, "-m", "mediasync.cli", *args], env=environ, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL, check=False)


def test_max_attempts_from_db_upgrade_is_what_a_psql_delete_gets(db_url, conn):
    upgraded = run_cli("db", "upgrade", MEDIASYNC_DATABASE_URL=db_url, MEDIASYNC_MAX_ATTEMPTS="5")
    assert upgraded.returncode == 0, upgraded.stderr
    conn.execute("INSERT INTO media_files (public_id) VALUES ('main-uploads/typed-in-psql')")
    psql = subprocess.run(["psql", db_url, "-v", "ON_ERROR_STOP=1", "-c",
                           "DELETE FROM media_files WHERE public_id = 'main-uploads/typed-in-psql'"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert psql.returncode == 0, psql.stderr
    assert [r["max_attempts"] for r in conn.execute("SELECT max_attempts FROM cloudinary_cleanup_queue")] == [5]


def test_reconcile_scope_flag(db_url, emulator, emulator_folder_mode, cloudinary_store, tmp_path):
    cloudinary_store.upload(tiny_png(1), folder="other-app", resource_type="image", filename="theirs.png")
    env = {"MEDIASYNC_DATABASE_URL": db_url, "CLOUDINARY_URL": emulator.cloudinary_url,
           "MEDIASYNC_RECONCILE_GRACE_MINUTES": "0", "MEDIASYNC_REPORT_DIR": str(tmp_path),
           "MEDIASYNC_CLOUDINARY_FOLDER_MODE": emulator_folder_mode}
    managed = run_cli("reconcile", "--json", **env)
    assert managed.returncode == 0, managed.stderr
    assert json.loads(managed.stdout)["counts"]["orphan_asset"] == 0

    account = json.loads(run_cli("reconcile", "--scope", "account", "--json", **env).stdout)
    assert account["counts"]["orphan_asset"] == 1 and account["mode"] == "dry_run"

    widened = run_cli("reconcile", "--folder", "other-app", **env)
    assert widened.returncode == 1 and "Traceback" not in widened.stderr
    assert widened.stderr.strip().startswith("mediasync: error: folder 'other-app' is outside the managed folders")
    bad = run_cli("reconcile", "--scope", "everything", **env)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
