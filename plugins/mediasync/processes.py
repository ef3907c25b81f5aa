"""Airflow's components on one machine, started in order and stopped together, with nothing left over.

`airflow standalone` starts the scheduler, DAG processor, triggerer and API server at the same
moment, so the first scheduled tasks can start before the API server answers and fail (a task
runner talks to the execution API on the API server): a fresh `make run` showed a red grid.
`AirflowStack` starts the API server first and the other three once it answers.

Every component runs in a process group of its own (its workers and task runners with it), all
stopped together (SIGTERM, then SIGKILL), and each group is recorded in a registry file beside the
launcher's pid. A launcher killed outright (SIGKILL, an expired `timeout -s KILL`) cannot stop its
children; the next `AirflowStack` (or `stop_leftovers()`) finds the groups of launchers that are
gone and stops them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

import httpx

from mediasync.errors import MediasyncError

log = logging.getLogger(__name__)

AFTER_API_SERVER = ("scheduler", "dag-processor", "triggerer")


def stop_process_group(process: subprocess.Popen, grace_seconds: float = 30) -> None:
    """Stop a process started with `start_new_session=True` and everything it spawned (Airflow's
    API server, scheduler and workers fork children): SIGTERM to the group, SIGKILL after the grace."""
    if process.poll() is None:
        _signal_group(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    _signal_group(process.pid, signal.SIGKILL)  # children that outlived their parent


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def registry() -> Path:
    """Where running stacks record their process groups (one file per stack)."""
    return Path(os.environ.get("MEDIASYNC_STACK_REGISTRY") or Path(tempfile.gettempdir()) / "mediasync-stacks")


def stop_leftovers() -> list[int]:
    """Stop the process groups of stacks whose launcher no longer runs; the groups stopped.

    Airflow's processes rename themselves (setproctitle overwrites their command line and
    environment), so a stack is known by the file it registered, not by what `ps` shows."""
    stopped: list[int] = []
    for record in sorted(registry().glob("*.json")):
        try:
            entry = json.loads(record.read_text())
            launcher, groups = int(entry["launcher"]), [int(g) for g in entry["groups"]]
        except (OSError, ValueError, KeyError, TypeError):
            record.unlink(missing_ok=True)
            continue
        if _alive(launcher):
            continue
        for pgid in groups:
            if _group_alive(pgid):
                log.warning("stopping process group %d left by an earlier run (launcher %d is gone)", pgid, launcher)
                _signal_group(pgid, signal.SIGKILL)
                stopped.append(pgid)
        record.unlink(missing_ok=True)
    return stopped


def wait_for_http(url: str, what: str, timeout: float, process: subprocess.Popen | None = None) -> None:
    """Until `url` answers below 500; fails naming `what` if `process` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise MediasyncError(f"{what} exited with code {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise MediasyncError(f"{what} did not answer at {url} within {int(timeout)} s")


class Registration:
    """This launcher's registry file: the process groups it started (each a session leader's pid)."""

    def __init__(self) -> None:
        self.path = registry() / f"{os.getpid()}-{uuid.uuid4().hex[:8]}.json"
        self.groups: list[int] = []

    def add(self, pgid: int) -> None:
        self.groups.append(pgid)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps({"launcher": os.getpid(), "groups": self.groups}))

    def remove(self) -> None:
        self.groups.clear()
        self.path.unlink(missing_ok=True)


class AirflowStack:
    """`airflow api-server`, then the scheduler, DAG processor and triggerer once it answers; one
    process group each, one log. `env` is Airflow's environment (AIRFLOW_HOME, the API's host and port,
    the execution API's URL); `api_url` is where the API server answers (`http://host:port`)."""

    def __init__(self, env: Mapping[str, str], log_path: Path, api_url: str, *, cwd: Path | None = None,
                 airflow: str = "airflow") -> None:
        self.env = dict(env)
        self.log_path = log_path
        self.api_url = api_url.rstrip("/")
        self.cwd = cwd
        self.airflow = airflow
        self.processes: dict[str, subprocess.Popen] = {}
        self.record = Registration()

    def _spawn(self, component: str) -> subprocess.Popen:
        with self.log_path.open("a") as out:
            process = subprocess.Popen(  # noqa: S603 - Airflow's own command
                [self.airflow, component], env=self.env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, cwd=self.cwd, start_new_session=True)
        self.processes[component] = process
        self.record.add(process.pid)
        return process

    def start(self, timeout: float = 300) -> AirflowStack:
        """Start everything; returns once the API server answers and the others are started."""
        stop_leftovers()
        try:
            api_server = self._spawn("api-server")
            wait_for_http(f"{self.api_url}/api/v2/version", "Airflow's API server", timeout, api_server)
            for component in AFTER_API_SERVER:
                self._spawn(component)
        except BaseException:
            self.stop()  # a failed or interrupted start leaves nothing running
            raise
        return self

    def exited(self) -> tuple[str, int] | None:
        """The first component that stopped, with its exit code; None while all run."""
        for component, process in self.processes.items():
            if process.poll() is not None:
                return component, process.returncode
        return None

    def stop(self) -> None:
        """SIGTERM to every group, SIGKILL after 30 s to whatever is left (children included)."""
        for process in self.processes.values():
            _signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                break
        for process in self.processes.values():
            _signal_group(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        self.processes.clear()
        self.record.remove()

    def __enter__(self) -> AirflowStack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
