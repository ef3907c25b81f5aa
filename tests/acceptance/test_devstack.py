"""`make run` end to end: a fresh state dir, embedded PostgreSQL, the emulator, airflow standalone;
the printed login works on the page; Ctrl-C (SIGINT, even when inherited as ignored), SIGTERM and
SIGHUP (terminal closed) stop every process it started, also in the middle of starting up."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from mediasync.emulator.testing import free_port

REPO = Path(__file__).resolve().parents[2]


def start_stack(tmp_path: Path) -> tuple[subprocess.Popen, Path, int, int]:
    """`python -m mediasync.devstack` (what `make run` runs) with SIGINT ignored, as a shell
    leaves it for a job started with `&`: Ctrl-C must still stop everything."""
    airflow_port, emulator_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW", "MEDIASYNC_", "CLOUDINARY_", "SUPABASE_"))}
    env.update(MEDIASYNC_HOME=str(tmp_path / "state"), MEDIASYNC_AIRFLOW_PORT=str(airflow_port),
               MEDIASYNC_EMULATOR_PORT=str(emulator_port))
    log_path = tmp_path / "make-run.log"
    with log_path.open("w") as log:
        stack = subprocess.Popen([sys.executable, "-m", "mediasync.devstack"], cwd=REPO, env=env, stdout=log,
                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                                 preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    return stack, log_path, airflow_port, emulator_port


def assert_stopped_everything(stack: subprocess.Popen, tmp_path: Path, log_path: Path, *ports_urls: str) -> None:
    stack.wait(timeout=120)
    assert "stopping" in log_path.read_text()
    leftovers = subprocess.run(["pgrep", "-f", str(tmp_path / "state")], capture_output=True, text=True).stdout
    assert leftovers.strip() == "", f"processes still running: {leftovers}"
    for url in ports_urls:
        with pytest.raises(httpx.HTTPError):
            httpx.get(url, timeout=2)


@pytest.mark.slow
def test_make_run_starts_everything_and_ctrl_c_stops_it(tmp_path):
    stack, log_path, airflow_port, emulator_port = start_stack(tmp_path)
    try:
        output = _wait_for_output(log_path, "mediasync is running", stack, timeout=420)
        password = re.search(r"login: admin / (\S+)\)", output).group(1)
        base = f"http://localhost:{airflow_port}"
        token = httpx.post(f"{base}/auth/token", json={"username": "admin", "password": password}).json()
        page = httpx.get(f"{base}/mediasync/", cookies={"_token": token["access_token"]})
        assert page.status_code == 200 and "Media Library" in page.text
        stats = httpx.get(f"{base}/mediasync/api/v1/cleanup-queue",
                          headers={"Authorization": f"Bearer {token['access_token']}"}).json()
        assert stats["pending"] == 0
        assert httpx.get(f"http://127.0.0.1:{emulator_port}/_emulator/health").json()["ok"] is True
    finally:
        stack.send_signal(signal.SIGINT)
    assert_stopped_everything(stack, tmp_path, log_path, f"http://127.0.0.1:{emulator_port}/_emulator/health",
                              f"http://127.0.0.1:{airflow_port}/api/v2/version")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_while_starting_up_stops_what_already_runs(tmp_path, signum):
    stack, log_path, airflow_port, emulator_port = start_stack(tmp_path)
    try:
        _wait_for_output(log_path, "starting Airflow", stack, timeout=120)
        time.sleep(3)  # Airflow's processes are coming up
    finally:
        stack.send_signal(signum)
    assert_stopped_everything(stack, tmp_path, log_path, f"http://127.0.0.1:{emulator_port}/_emulator/health")


def _wait_for_output(path: Path, marker: str, process: subprocess.Popen, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = path.read_text()
        if marker in text:
            return text
        if process.poll() is not None:
            pytest.fail(f"make run exited with {process.returncode}:\n{text[-3000:]}")
        time.sleep(1)
    pytest.fail(f"make run did not finish starting within {timeout}s:\n{path.read_text()[-3000:]}")
