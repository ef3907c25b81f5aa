"""Running the `mediasync` CLI as an operator does — a subprocess with nothing configured but what
the test passes — and what a clean error looks like."""

from __future__ import annotations

import os
import subprocess
import sys


def run_cli(*args: str, database_url: str | None = None, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("MEDIASYNC_", "SUPABASE_", "AIRFLOW_CONN_", "CLOUDINARY_"))}
    environ["MEDIASYNC_SETTINGS_FILE"] = ""  # never a running `make run`'s settings file
    if database_url is not None:
        environ["MEDIASYNC_DATABASE_URL"] = database_url
    environ.update(env)
    return subprocess.run([sys.executable, "-m", "mediasync.cli", *args], env=environ, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL, check=False)


def assert_clean_error(result: subprocess.CompletedProcess, fragment: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mediasync: error: "), result.stderr
    assert fragment in lines[0]
