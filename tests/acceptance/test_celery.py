"""mediasync on Airflow's distributed engine, for real and without Docker: the CeleryExecutor with
Redis as broker and PostgreSQL as metadata DB and result backend, an API server (the execution API
the workers call), a scheduler, a DAG processor and two `airflow celery worker` processes.

The three packaged DAGs run through the workers; then two workers drain a 10,000-item cleanup
queue together (SKIP LOCKED claims), and no asset is deleted twice.

Needs Redis at 127.0.0.1:6379 (MEDIASYNC_TEST_REDIS_URL overrides; a dedicated DB number and a
queue name of its own per run, so parallel runs don't collide) and the suite's PostgreSQL; skips
with the reason when Redis does not answer.
"""

from __future__ import annotations

import ast
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

import httpx
import psycopg
import pytest

from fixtures.database import create_database, drop_database
from mediasync.processes import stop_process_group
from support.emulator import RunningEmulator, free_port

pytestmark = [pytest.mark.celery, pytest.mark.slow]

VENV_BIN = Path(sys.executable).parent
REDIS_URL = os.environ.get("MEDIASYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
PASSWORD = "mediasync-celery-test"
DAG_IDS = ("mediasync_cleanup_queue", "mediasync_reconcile", "mediasync_retention")
QUEUE_ITEMS = 10_000
FANOUT = 4  # parallel drain tasks: two per worker

# Two drains of the same queue at once, each in its own task: Celery hands them to whichever
# worker is free, so both workers claim from the queue at the same time. The worker's name comes
# back in the XCom, so the test can tell that both took part.
FANOUT_DAG = f'''
from datetime import datetime

from airflow.sdk import dag, task


@dag(dag_id="mediasync_test_cleanup_fanout", schedule=None, start_date=datetime(2025, 1, 1), catchup=False,
     max_active_tasks={FANOUT})
def mediasync_test_cleanup_fanout():
    @task
    def drain(slot: int) -> dict:
        import os

        from mediasync.runtime import services_from_airflow

        result = services_from_airflow().processor.process(time_budget=240).as_dict()
        return {{"worker": os.environ.get("MEDIASYNC_TEST_WORKER"), "slot": slot,
                 **{{k: result[k] for k in ("claimed", "deleted", "not_found", "failed", "store_calls")}}}}

    drain.expand(slot=list(range({FANOUT})))


mediasync_test_cleanup_fanout()
'''


def redis_client():
    import redis

    return redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=5)


@pytest.fixture(scope="module")
def redis_available() -> None:
    try:
        redis_client().ping()
    except Exception as exc:  # noqa: BLE001 - any failure means: no broker here
        pytest.skip(f"Redis does not answer at {REDIS_URL} ({exc.__class__.__name__}: {exc}); "
                    f"the CeleryExecutor test needs it as broker")


def sqlalchemy_url(dsn: str, scheme: str) -> str:
    return scheme + dsn.split("://", 1)[1]


@dataclass
class CeleryCluster:
    base_url: str
    home: Path
    db_url: str
    queue: str
    emulator: RunningEmulator
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def token(self) -> str:
        response = httpx.post(f"{self.base_url}/auth/token", json={"username": "admin", "password": PASSWORD},
                              timeout=60)
        response.raise_for_status()
        return response.json()["access_token"]

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.base_url}/api/v2", timeout=60,
                            headers={"Authorization": f"Bearer {self.token()}"})

    def logs(self) -> str:
        return "\n".join(f"--- {name}.log ---\n{(self.home / f'{name}.log').read_text()[-2500:]}"
                         for name in self.processes)

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                pytest.fail(f"airflow {name} exited with {process.returncode}\n{self.logs()}")

    def wait_for_dags(self, dag_ids, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        with self.api() as api:
            missing = list(dag_ids)
            while missing and time.monotonic() < deadline:
                self.check_alive()
                missing = [d for d in missing if api.get(f"/dags/{d}").status_code != 200]
                time.sleep(2)
        if missing:
            pytest.fail(f"DAGs not parsed within {timeout}s: {missing}\n{self.logs()}")

    def run_dag(self, dag_id: str, conf: dict | None = None, timeout: float = 300) -> str:
        """Trigger through the REST API; wait for the run to end; return its run id (fails unless success)."""
        with self.api() as api:
            response = api.post(f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})
            assert response.status_code == 200, response.text
            run_id = response.json()["dag_run_id"]
            deadline = time.monotonic() + timeout
            state = None
            while time.monotonic() < deadline:
                self.check_alive()
                state = api.get(f"/dags/{dag_id}/dagRuns/{run_id}").json()["state"]
                if state in ("success", "failed"):
                    break
                time.sleep(2)
            tis = api.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances").json()["task_instances"]
        summary = [(ti["task_id"], ti["map_index"], ti["state"], ti.get("queue"), ti.get("hostname")) for ti in tis]
        assert state == "success", f"{dag_id} run {run_id}: {state}; tasks {summary}\n{self.logs()}"
        return run_id

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        with self.api() as api:
            return api.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances").json()["task_instances"]

    def xcom(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1):
        with self.api() as api:
            response = api.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value",
                               params={"map_index": map_index, "deserialize": True})
        assert response.status_code == 200, response.text
        value = response.json()["value"]
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return ast.literal_eval(value)
        return value


def _start(name: str, args: list[str], env: dict[str, str], home: Path) -> subprocess.Popen:
    log = (home / f"{name}.log").open("w")
    return subprocess.Popen([str(VENV_BIN / "airflow"), *args], env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True, cwd=home)


@pytest.fixture(scope="module")
def celery_cluster(redis_available, tmp_path_factory, pg_server_url, template_database) -> Iterator[CeleryCluster]:
    home = tmp_path_factory.mktemp("airflow-celery")
    suffix = uuid.uuid4().hex[:8]
    metadata_name, media_name = f"mediasync_af_{suffix}", f"mediasync_celery_{suffix}"
    queue = f"mediasync_test_{suffix}"
    dags = home / "dags"
    dags.mkdir()
    for dag_file in files("mediasync").joinpath("dags").iterdir():  # the DAG files the package ships
        if dag_file.name.endswith(".py"):
            (dags / dag_file.name).symlink_to(Path(str(dag_file)))
    (dags / "mediasync_test_cleanup_fanout.py").write_text(FANOUT_DAG)
    (home / "passwords.json").write_text(json.dumps({"admin": PASSWORD}))
    (home / "reports").mkdir()

    metadata_url = create_database(pg_server_url, metadata_name)
    db_url = create_database(pg_server_url, media_name, template=template_database)
    emulator = RunningEmulator(home / "emulator").start()
    port = free_port()
    base = emulator.base_url.replace(":", "%3A").replace("/", "%2F")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "CLOUDINARY_", "MEDIASYNC_"))}
    env.update({
        "AIRFLOW_HOME": str(home),
        "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sqlalchemy_url(metadata_url, "postgresql+psycopg2://"),
        "AIRFLOW__CELERY__BROKER_URL": REDIS_URL,
        "AIRFLOW__CELERY__RESULT_BACKEND": sqlalchemy_url(metadata_url, "db+postgresql://"),
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        # Only the runs this test triggers: no timetable runs, and no triggerer, so the cleanup DAG's
        # event trigger does not start drains of its own while the test counts what its drains did.
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "AIRFLOW__CORE__PARALLELISM": "8",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW_CONN_MEDIASYNC_DB": db_url,
        "AIRFLOW_CONN_CLOUDINARY_DEFAULT": f"cloudinary://{emulator.api_key}:{emulator.api_secret}@"
                                           f"{emulator.cloud_name}?api_base_url={base}",
        "MEDIASYNC_REPORT_DIR": str(home / "reports"),
    })
    cluster = CeleryCluster(f"http://127.0.0.1:{port}", home, db_url, queue, emulator)
    try:
        migrate = subprocess.run([str(VENV_BIN / "airflow"), "db", "migrate"], env=env, capture_output=True,
                                 text=True, timeout=420, stdin=subprocess.DEVNULL, cwd=home)
        assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]
        cluster.processes["api-server"] = _start("api-server", ["api-server", "--host", "127.0.0.1", "--port",
                                                                 str(port)], env, home)
        cluster.processes["scheduler"] = _start("scheduler", ["scheduler"], env, home)
        cluster.processes["dag-processor"] = _start("dag-processor", ["dag-processor"], env, home)
        for worker in ("worker1", "worker2"):
            cluster.processes[worker] = _start(
                worker, ["celery", "worker", "--celery-hostname", f"{worker}-{suffix}@%h", "--queues", queue,
                         "--concurrency", "2", "--skip-serve-logs", "--pid", str(home / f"{worker}.pid")],
                {**env, "MEDIASYNC_TEST_WORKER": worker}, home)
        deadline = time.monotonic() + 240
        while True:
            cluster.check_alive()
            try:
                if httpx.get(f"{cluster.base_url}/api/v2/version", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the API server did not answer within 240 s\n{cluster.logs()}")
            time.sleep(1)
        yield cluster
    finally:
        for process in reversed(list(cluster.processes.values())):
            stop_process_group(process)
        emulator.stop()
        try:
            client = redis_client()
            for key in client.scan_iter(match=f"*{queue}*"):
                client.delete(key)
        except Exception:  # noqa: BLE001 - best effort: the queue name is unique to this run anyway
            pass
        drop_database(pg_server_url, media_name)
        drop_database(pg_server_url, metadata_name)
        shutil.rmtree(home / "emulator", ignore_errors=True)


def test_the_three_dags_run_on_celery_workers(celery_cluster):
    celery_cluster.wait_for_dags(DAG_IDS)
    for dag_id in DAG_IDS:
        run_id = celery_cluster.run_dag(dag_id)
        tis = celery_cluster.task_instances(dag_id, run_id)
        assert tis and all(ti["state"] == "success" for ti in tis)
        # Sent to this run's Celery queue, so a Celery worker (not a local executor) ran it.
        assert {ti["queue"] for ti in tis} == {celery_cluster.queue}


def test_two_workers_drain_a_10000_item_queue_and_no_asset_is_deleted_twice(celery_cluster):
    emulator = celery_cluster.emulator
    emulator.reset()
    assert emulator.seed(QUEUE_ITEMS, prefix="main-uploads/celery") == QUEUE_ITEMS
    with psycopg.connect(celery_cluster.db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO cloudinary_cleanup_queue (public_id, reason) "
                     "SELECT 'main-uploads/celery' || lpad(i::text, 7, '0'), 'db_delete' "
                     "FROM generate_series(0, %s - 1) AS i", (QUEUE_ITEMS,))
    # Each Admin call takes a while, as over the internet, so the drain lasts long enough for
    # every task to start and take part.
    emulator.control(latency_ms=400)
    admin_calls_before = emulator.admin_calls()
    calls_logged_before = len(emulator.admin_call_log())
    celery_cluster.wait_for_dags(["mediasync_test_cleanup_fanout"])
    run_id = celery_cluster.run_dag("mediasync_test_cleanup_fanout", timeout=420)
    emulator.control(latency_ms=0)

    results = [celery_cluster.xcom("mediasync_test_cleanup_fanout", run_id, "drain", i) for i in range(FANOUT)]
    workers_that_deleted = {r["worker"] for r in results if r["deleted"] > 0}
    assert workers_that_deleted == {"worker1", "worker2"}, results
    assert sum(r["claimed"] for r in results) == QUEUE_ITEMS, results
    assert sum(r["deleted"] for r in results) == QUEUE_ITEMS, results
    assert sum(r["not_found"] for r in results) == 0, results  # "not found" would mean deleted before

    with psycopg.connect(celery_cluster.db_url) as conn:
        by_status = dict(conn.execute("SELECT status || '/' || attempts, count(*) FROM cloudinary_cleanup_queue "
                                      "GROUP BY 1").fetchall())
        assert by_status == {"completed/1": QUEUE_ITEMS}
        assert conn.execute("SELECT count(*) FROM cloudinary_cleanup_queue WHERE completed_at IS NULL "
                            "OR jsonb_array_length(coalesce(errors, '[]'::jsonb)) > 0").fetchone()[0] == 0
    assert emulator.settings()["assets"] == 0
    # The invariant: the drain's only Admin API calls are delete_resources, 100 ids each, so 10,000
    # queued assets cost exactly 100 calls (and the log names any other call that crept in).
    drain_calls = emulator.admin_call_log()[calls_logged_before:]
    assert drain_calls == ["DELETE resources/image/upload"] * (QUEUE_ITEMS // 100), Counter(drain_calls)
    assert emulator.admin_calls() - admin_calls_before == QUEUE_ITEMS // 100

    deletions = httpx.get(f"{emulator.base_url}/_emulator/deletions", timeout=10)
    if deletions.status_code != 404:  # the emulator's deletion ledger (being added in parallel)
        ledger = deletions.json()
        assert ledger["requests"] == ledger["ids"] == QUEUE_ITEMS, ledger
        assert ledger["max_per_id"] == 1, ledger
