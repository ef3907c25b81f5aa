"""SQL `DELETE` → asset gone from Cloudinary, with the real Airflow API server, scheduler, DAG
processor and triggerer (as `make run` starts them, the repo's DAGs, 50 ms emulator latency) — the
event-driven path. Each sample deletes one row in SQL and polls the emulator until the asset is gone.
The seed's 30 s schedule is computed from the same measurements: a DELETE waits for the next tick
(uniform over 0–30 s) and then for a run of the same length. Also counts the cleanup DAG runs an
idle period creates (zero beyond the hourly safety net). Takes a few minutes (Airflow's start);
BENCH_EVENT_SAMPLES sets the samples, BENCH_IDLE_SECONDS the idle period; BENCH_AIRFLOW=0 skips.
However it ends (a signal, a timeout, an exception), Airflow's process group is stopped; a run
killed outright is cleaned up by the next one (`mediasync.processes.stop_leftovers`)."""

import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
from _harness import emulator_process, fresh_database, machine, report
from mediasync.db.dsn import airflow_connection_fields
from mediasync.processes import AirflowStack

SAMPLES = int(os.environ.get("BENCH_EVENT_SAMPLES", "10"))
IDLE_SECONDS = int(os.environ.get("BENCH_IDLE_SECONDS", "90"))
LATENCY_MS = int(os.environ.get("BENCH_LATENCY_MS", "50"))
REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
SEED_PERIOD = 30.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))], 2)


def airflow(home: Path, db_url: str, emu) -> AirflowStack:
    from support.emulator import free_port

    port = free_port()
    base = emu.base_url.replace(":", "%3A").replace("/", "%2F")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "CLOUDINARY_", "MEDIASYNC_"))}
    env.update(AIRFLOW_HOME=str(home), AIRFLOW__CORE__LOAD_EXAMPLES="False",
               AIRFLOW__CORE__EXECUTOR="LocalExecutor",
               AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"), AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
               AIRFLOW__CORE__PARALLELISM="4", AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="1",
               AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
               AIRFLOW__API__HOST="127.0.0.1", AIRFLOW__API__PORT=str(port),
               AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
               AIRFLOW_CONN_MEDIASYNC_DB=json.dumps(airflow_connection_fields(db_url)),  # socket DSNs too
               AIRFLOW_CONN_CLOUDINARY_DEFAULT=f"cloudinary://mediasync-key:mediasync-secret@demo?api_base_url={base}",
               PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    subprocess.run([str(VENV_BIN / "airflow"), "db", "migrate"], env=env, check=True, capture_output=True,
                   stdin=subprocess.DEVNULL, timeout=600)
    return AirflowStack(env, home / "airflow.log", f"http://127.0.0.1:{port}", airflow=str(VENV_BIN / "airflow"))


def _stop_on_signal(signum, _frame) -> None:
    raise SystemExit(128 + signum)  # unwinds through the `with` blocks: Airflow, emulator, database stop


def asset_gone(emu, before: int, timeout: float) -> float | None:
    """Seconds until the emulator holds fewer than `before` assets (the deleted row's asset went)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if emu.assets() < before:
            return time.monotonic() - started
        time.sleep(0.05)
    return None


def cleanup_runs(home: Path) -> int:
    with sqlite3.connect(home / "airflow.db") as meta:
        return meta.execute("SELECT count(*) FROM dag_run WHERE dag_id = 'mediasync_cleanup_queue'").fetchone()[0]


def delete_one(db, public_id: str) -> None:
    with db.session() as conn:
        conn.sql("DELETE FROM media_files WHERE public_id = %(p)s", {"p": public_id})


for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
    signal.signal(signum, _stop_on_signal)

if os.environ.get("BENCH_AIRFLOW", "1") == "0":
    report("event_latency", skipped="BENCH_AIRFLOW=0")
    sys.exit(0)

with fresh_database() as db, emulator_process(latency_ms=LATENCY_MS) as emu, \
        tempfile.TemporaryDirectory() as tmp:
    count = SAMPLES + 1
    emu.seed(count, prefix="main-uploads/e")
    with db.session() as conn:
        conn.sql("INSERT INTO media_files (public_id, format, bytes, folder) "
                 "SELECT 'main-uploads/e' || lpad(g::text, 7, '0'), 'png', 1, 'main-uploads' "
                 "FROM generate_series(0, %(n)s - 1) g", {"n": count})
    home = Path(tmp)
    with airflow(home, db.url, emu).start(timeout=600):
        before = emu.assets()
        delete_one(db, "main-uploads/e0000000")  # warm-up: Airflow starts, parses, runs the trigger
        warm_up = asset_gone(emu, before, timeout=600)
        if warm_up is None:
            raise SystemExit(f"Airflow never removed the first asset; see {home / 'airflow.log'}")
        latencies, run_seconds = [], []
        for i in range(1, count):
            time.sleep(3)  # let the previous run finish (max_active_runs=1)
            before = emu.assets()
            delete_one(db, f"main-uploads/e{i:07d}")
            gone = asset_gone(emu, before, timeout=120)
            latencies.append(gone if gone is not None else 120.0)
        with sqlite3.connect(home / "airflow.db") as meta:
            run_seconds = [r[0] for r in meta.execute(
                "SELECT (julianday(end_date) - julianday(start_date)) * 86400 FROM dag_run "
                "WHERE dag_id = 'mediasync_cleanup_queue' AND end_date IS NOT NULL")]
        runs_before_idle = cleanup_runs(home)
        time.sleep(IDLE_SECONDS)
        idle_runs = cleanup_runs(home) - runs_before_idle
    # The 30 s schedule: wait for the next tick (uniform 0-30 s), then a run as long as measured.
    run_p50 = statistics.median(run_seconds) if run_seconds else 0.0
    seed_p50, seed_p95 = SEED_PERIOD * 0.5 + run_p50, SEED_PERIOD * 0.95 + percentile(run_seconds or [0.0], 0.95)
    report("event_latency", samples=len(latencies), p50_seconds=percentile(latencies, 0.5),
           p95_seconds=percentile(latencies, 0.95), max_seconds=round(max(latencies), 2),
           warm_up_seconds=round(warm_up, 1),
           dag_run_seconds_p50=round(run_p50, 2),
           seed_30s_schedule={"p50_seconds": round(seed_p50, 1), "p95_seconds": round(seed_p95, 1),
                              "computed": True},
           idle_seconds=IDLE_SECONDS, cleanup_runs_while_idle=idle_runs,
           seed_runs_in_the_same_idle_period=int(IDLE_SECONDS // SEED_PERIOD),
           latencies=[round(x, 2) for x in latencies],
           machine=machine())
