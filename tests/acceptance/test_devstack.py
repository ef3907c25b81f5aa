"""`make run` end to end: a fresh state dir, embedded PostgreSQL, the emulator, Airflow's API
server, DAG processor, scheduler and triggerer on ports other than the defaults; a row deleted in
psql leaves Cloudinary within seconds, three times (the event-driven path, every part real); no run
fails at start; the printed login works on the page; a DAG's task really runs
(the task runners reach the execution API at the chosen port); the two connections are in
Airflow's metadata DB and Cloudinary's Test works; the API server listens on 127.0.0.1 only; the
`mediasync` CLI works with nothing but the settings file `make run` wrote; Ctrl-C (SIGINT, even
when inherited as ignored), SIGTERM and SIGHUP (terminal closed) stop every process it started,
also in the middle of starting up."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from fixtures.media import tiny_png
from support.emulator import free_port
from support.waiting import wait_until

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
                                 preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))  # noqa: PLW1509 - no threads yet in this child
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
def test_make_run_starts_everything_and_ctrl_c_stops_it(private_dir):
    stack, log_path, airflow_port, emulator_port = start_stack(private_dir)
    try:
        output = _wait_for_output(log_path, "mediasync is running", stack, timeout=420)
        password = re.search(r"login: admin / (\S+)\)", output).group(1)
        base = f"http://localhost:{airflow_port}"
        # Patient client: a freshly started Airflow on a loaded 2-core machine can take seconds to answer.
        http = httpx.Client(timeout=60)
        token = http.post(f"{base}/auth/token", json={"username": "admin", "password": password}).json()
        page = http.get(f"{base}/mediasync/", cookies={"_token": token["access_token"]})
        assert page.status_code == 200 and "Media Library" in page.text
        stats = http.get(f"{base}/mediasync/api/v1/cleanup-queue",
                          headers={"Authorization": f"Bearer {token['access_token']}"}).json()
        assert stats["pending"] == 0
        assert http.get(f"http://127.0.0.1:{emulator_port}/_emulator/health").json()["ok"] is True

        auth = {"Authorization": f"Bearer {token['access_token']}"}
        assert_connections_in_metadata_db(base, auth, emulator_port)
        assert_sql_deletes_reach_cloudinary_within_seconds(http, base, auth, private_dir, emulator_port)
        run_id = assert_a_dag_task_runs(base, auth)
        assert_metadata_in_the_embedded_postgres(private_dir, "mediasync_retention", run_id)
        assert_no_run_failed(base, auth)
        assert_listens_on_loopback_only(airflow_port)
        assert_cli_works_with_only_the_settings_file(private_dir, output)
    finally:
        stack.send_signal(signal.SIGINT)
    assert_stopped_everything(stack, private_dir, log_path, f"http://127.0.0.1:{emulator_port}/_emulator/health",
                              f"http://127.0.0.1:{airflow_port}/api/v2/version")
    assert not (private_dir / "state" / "mediasync.env").exists()  # it pointed at what no longer runs


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_while_starting_up_stops_what_already_runs(private_dir, signum):
    stack, log_path, _airflow_port, emulator_port = start_stack(private_dir)
    try:
        _wait_for_output(log_path, "starting Airflow", stack, timeout=120)
        airflow_log = private_dir / "state" / "airflow.log"
        written = airflow_log.stat().st_size if airflow_log.exists() else 0
        wait_until(lambda: airflow_log.exists() and airflow_log.stat().st_size > written,  # Airflow's processes
                   timeout=120, message="Airflow's processes never started")  # are coming up
    finally:
        stack.send_signal(signum)
    assert_stopped_everything(stack, private_dir, log_path, f"http://127.0.0.1:{emulator_port}/_emulator/health")


def assert_connections_in_metadata_db(base: str, auth: dict, emulator_port: int) -> None:
    """Listed by the REST API, i.e. stored in Airflow's metadata DB (variables would not be listed)."""
    listed = httpx.get(f"{base}/api/v2/connections", headers=auth, timeout=60).json()["connections"]
    by_id = {c["connection_id"]: c for c in listed}
    assert by_id["mediasync_db"]["conn_type"] == "postgres"
    assert by_id["cloudinary_default"]["conn_type"] == "cloudinary"
    assert f"127.0.0.1:{emulator_port}" in by_id["cloudinary_default"]["extra"]
    # Admin → Connections → Test, as the UI sends it: the form's fields, the stored (hidden) secret reused.
    form = {"connection_id": "cloudinary_default", "conn_type": "cloudinary", "login": "mediasync-key",
            "extra": by_id["cloudinary_default"]["extra"]}
    tested = httpx.post(f"{base}/api/v2/connections/test", headers=auth, timeout=60, json=form).json()
    assert tested["status"] is True, tested
    wrong = httpx.post(f"{base}/api/v2/connections/test", headers=auth, timeout=60,
                       json={**form, "password": "not-the-secret"}).json()
    assert wrong["status"] is False, wrong


def assert_a_dag_task_runs(base: str, auth: dict, dag_id: str = "mediasync_retention") -> str:
    """Triggered through the REST API; success means the task runner reached the execution API on
    this (non-default) port and found the connections."""
    deadline = time.monotonic() + 120
    while httpx.get(f"{base}/api/v2/dags/{dag_id}", headers=auth, timeout=60).status_code != 200:
        assert time.monotonic() < deadline, f"{dag_id} was not parsed within 120 s"
        time.sleep(2)
    run = httpx.post(f"{base}/api/v2/dags/{dag_id}/dagRuns", headers=auth, timeout=60,
                     json={"logical_date": None, "conf": {"retention_days": 7}})
    assert run.status_code == 200, run.text
    run_id = run.json()["dag_run_id"]
    deadline, state = time.monotonic() + 360, None
    while time.monotonic() < deadline:
        state = httpx.get(f"{base}/api/v2/dags/{dag_id}/dagRuns/{run_id}", headers=auth, timeout=60).json()["state"]
        if state in ("success", "failed"):
            break
        time.sleep(2)
    tis = httpx.get(f"{base}/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", headers=auth, timeout=60).json()
    assert state == "success", f"{dag_id} {run_id}: {state}: {tis}"
    return run_id


def assert_metadata_in_the_embedded_postgres(tmp_path: Path, dag_id: str, run_id: str) -> None:
    """Airflow's metadata DB is the `airflow` database of the embedded PostgreSQL (its processes
    write at once; SQLite would let one in at a time), and the run just triggered is in it."""
    from mediasync import settings_file

    mediasync_db = settings_file.parse((tmp_path / "state" / "mediasync.env").read_text())["MEDIASYNC_DATABASE_URL"]
    with psycopg.connect(mediasync_db, dbname="airflow") as conn:  # the same server, the other database
        state = conn.execute("SELECT state FROM dag_run WHERE dag_id = %s AND run_id = %s", (dag_id, run_id)).fetchone()
    assert state == ("success",)
    assert not (tmp_path / "state" / "airflow" / "airflow.db").exists()


def assert_sql_deletes_reach_cloudinary_within_seconds(http: httpx.Client, base: str, auth: dict, tmp_path: Path,
                                                        emulator_port: int, times: int = 3) -> None:
    """The seed's core path with every real component (API server, DAG processor, scheduler,
    triggerer): a row deleted in psql leaves Cloudinary within seconds, three times in a row —
    the cleanup queue's watcher is registered and running. The first delete after start may also
    wait for the DAG processor to register the watcher and the triggerer to start it."""
    from mediasync import settings_file

    settings = settings_file.parse((tmp_path / "state" / "mediasync.env").read_text())
    control = f"http://127.0.0.1:{emulator_port}/_emulator/control"
    for i, limit in enumerate([60.0] + [10.0] * times):
        created = http.post(f"{base}/mediasync/api/v1/media", headers=auth,
                            files={"file": (f"sql-delete-{i}.png", tiny_png(9000 + i), "image/png")})
        assert created.status_code == 201, created.text
        before = http.get(control).json()["assets"]
        with psycopg.connect(settings["MEDIASYNC_DATABASE_URL"], autocommit=True) as psql:
            psql.execute("DELETE FROM media_files WHERE id = %s", (created.json()["id"],))
        started = time.monotonic()
        while http.get(control).json()["assets"] >= before:
            assert time.monotonic() - started < limit, f"delete {i}: the asset was still there after {limit:.0f} s"
            time.sleep(0.2)
        print(f"SQL DELETE {i} reached Cloudinary in {time.monotonic() - started:.1f} s")


def assert_no_run_failed(base: str, auth: dict) -> None:
    """A fresh start shows no red in the grid: no task started before the API server answered."""
    runs = httpx.get(f"{base}/api/v2/dags/~/dagRuns", headers=auth, timeout=60,
                     params={"state": "failed"}).json()["dag_runs"]
    assert runs == [], [(r["dag_id"], r["dag_run_id"]) for r in runs]


def assert_listens_on_loopback_only(port: int) -> None:
    listening = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True).stdout
    addresses = {line.split()[3].rsplit(":", 1)[0] for line in listening.splitlines() if line.strip()}
    assert addresses and addresses <= {"127.0.0.1"}, listening


def assert_cli_works_with_only_the_settings_file(tmp_path: Path, output: str) -> None:
    settings = tmp_path / "state" / "mediasync.env"
    assert settings.is_file() and str(settings) in output
    assert settings.stat().st_mode & 0o077 == 0  # it holds credentials
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW", "MEDIASYNC_", "CLOUDINARY_", "SUPABASE_"))}
    # The printed way: MEDIASYNC_HOME names the state dir when it is not ./.mediasync.
    stats = subprocess.run([sys.executable, "-m", "mediasync.cli", "queue", "stats", "--json"], timeout=120,
                           env={**env, "MEDIASYNC_HOME": str(tmp_path / "state")}, capture_output=True, text=True)
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["pending"] == 0
    # Run from the directory that holds .mediasync/ (what `make run` in a checkout gives), no variable at all.
    workdir = tmp_path / "checkout"
    (workdir / ".mediasync").mkdir(parents=True)
    (workdir / ".mediasync" / "mediasync.env").write_text(settings.read_text())
    (workdir / "sub").mkdir()
    reconcile = subprocess.run([sys.executable, "-m", "mediasync.cli", "reconcile", "--json"], timeout=120,
                               env=env, cwd=workdir / "sub", capture_output=True, text=True)
    assert reconcile.returncode == 0, reconcile.stderr
    assert json.loads(reconcile.stdout)["mode"] == "dry_run"


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
