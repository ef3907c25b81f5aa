"""Deployment artefacts hold together, without Docker:

- docker-compose.yml has the shape of Airflow 3's official CeleryExecutor compose (services,
  dependencies, a scalable worker), every command it runs exists (`mediasync ...` in the package's
  CLI, `airflow ...` in Airflow's CLI with the celery provider), every `AIRFLOW__*` option it sets
  is a real Airflow option, every other variable it hands the containers is read by mediasync (or
  by the script or image that gets it), and `.env.example` lists exactly the settings it reads;
- deploy/Dockerfile installs the built wheel, pinned by the lock, never an editable install;
- the wheel `python -m build` makes, installed into a clean venv outside the repository, runs
  `mediasync db upgrade`, `mediasync emulator`, `mediasync verify`, serves the plugin, and ships
  the DAG files Airflow can load from the installed package.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest
import yaml

from fixtures.database import create_database, drop_database
from mediasync.processes import stop_process_group
from support.emulator import free_port

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "plugins" / "mediasync"
VENV_BIN = Path(sys.executable).parent
AIRFLOW_SERVICES = {"airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                    "airflow-triggerer", "airflow-worker"}
DAG_IDS = {"mediasync_cleanup_queue", "mediasync_cloudinary_notifications", "mediasync_reconcile",
           "mediasync_retention"}
# Variables a container gets that mediasync does not read, and who does.
READ_ELSEWHERE = {
    "POSTGRES_USER": "the postgres image", "POSTGRES_PASSWORD": "the postgres image",
    "AIRFLOW_DB_PASSWORD": "deploy/postgres-init.sh", "MEDIASYNC_DB_PASSWORD": "deploy/postgres-init.sh",
    "DUMB_INIT_SETSID": "the Airflow image's entrypoint (warm Celery shutdown)",
    "ADMIN_USERNAME": "airflow-init's script", "ADMIN_PASSWORD": "airflow-init's script",
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def env_example() -> dict[str, str]:
    values = {}
    for line in (REPO / ".env.example").read_text().splitlines():
        match = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            values[match.group(1)] = match.group(2)
    return values


def package_sources() -> str:
    return "\n".join(p.read_text() for p in PACKAGE.rglob("*.py"))


def command_lines(service: dict) -> list[list[str]]:
    """The command lines a service runs: its entrypoint/command, or the lines of its bash script."""
    entrypoint, command = service.get("entrypoint"), service.get("command")
    if entrypoint in ("/bin/bash", ["/bin/bash"]):
        script = command[-1].replace("$$", "$")
        lines, buffer = [], ""
        for raw in script.splitlines():  # join continuation lines and quoted multi-line arguments
            buffer += raw + "\n"
            try:
                words = shlex.split(buffer.replace("\\\n", " "), comments=True)
            except ValueError:
                continue
            buffer = ""
            # The command itself: up to the first redirection or operator (`>/dev/null 2>&1 || true`).
            end = next((i for i, w in enumerate(words) if w in ("||", "&&", "|", ";") or re.match(r"^\d?>", w)),
                       len(words))
            if words[:end]:
                lines.append(words[:end])
        return lines
    if isinstance(entrypoint, list):
        return [entrypoint]
    if isinstance(command, str):
        return [["airflow", *command.split()]]
    return []


# --- docker-compose.yml ----------------------------------------------------------------------------

def test_compose_has_the_celery_executor_shape(compose):
    services = compose["services"]
    assert {"postgres", "redis", "emulator"} | AIRFLOW_SERVICES <= set(services)
    for name in AIRFLOW_SERVICES:
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert "redis" in env["AIRFLOW__CELERY__BROKER_URL"] and env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith(
            "${AIRFLOW_RESULT_BACKEND:-db+postgresql://")
        assert "airflow-apiserver:8080/execution/" in env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
    for name in AIRFLOW_SERVICES - {"airflow-init"}:
        assert services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully", name
        assert "healthcheck" in services[name], name
    commands = {name: services[name].get("command") for name in AIRFLOW_SERVICES - {"airflow-init"}}
    assert commands == {"airflow-apiserver": "api-server", "airflow-scheduler": "scheduler",
                        "airflow-dag-processor": "dag-processor", "airflow-triggerer": "triggerer",
                        "airflow-worker": "celery worker"}
    # `--scale airflow-worker=N` needs a worker without a fixed name or host port.
    worker = services["airflow-worker"]
    assert "container_name" not in worker and "ports" not in worker
    assert worker["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"
    # Airflow metadata and mediasync's media data: separate databases.
    init_sql = (REPO / "deploy" / "postgres-init.sh").read_text()
    assert "CREATE DATABASE airflow" in init_sql and "CREATE DATABASE mediasync" in init_sql
    env = services["airflow-init"]["environment"]
    assert "/airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] and "/mediasync" in env["MEDIASYNC_DATABASE_URL"]
    # The emulator is there by default and swapped out by .env (COMPOSE_PROFILES).
    assert services["emulator"]["profiles"] == ["emulator"] and env_example()["COMPOSE_PROFILES"] == "emulator"


def test_the_init_service_sets_up_airflow_mediasync_and_the_connections(compose):
    lines = [" ".join(words[:3]) for words in command_lines(compose["services"]["airflow-init"])]
    for step in ("airflow db migrate", "mediasync db upgrade", "airflow connections add"):
        assert any(line.startswith(step) for line in lines), (step, lines)
    added = [words[3] for words in command_lines(compose["services"]["airflow-init"])
             if words[:3] == ["airflow", "connections", "add"]]
    assert added == ["mediasync_db", "cloudinary_default"]
    assert "passwords.json" in compose["services"]["airflow-init"]["command"][-1]  # the admin user


def test_every_mediasync_command_in_compose_exists(compose):
    from typer.testing import CliRunner

    from mediasync.cli import app

    used = [words[1:] for service in compose["services"].values() for words in command_lines(service)
            if words and words[0] == "mediasync"]
    assert ["db", "upgrade"] in used and any(words[0] == "emulator" for words in used)
    for words in used:
        first_option = next((i for i, w in enumerate(words) if w.startswith("-")), len(words))
        subcommand, options = words[:first_option], [w for w in words if w.startswith("--")]
        result = CliRunner().invoke(app, [*subcommand, "--help"])
        assert result.exit_code == 0, (words, result.output)
        for option in options:
            assert option in result.output, (words, option)


def test_every_airflow_command_and_option_in_compose_exists(compose):
    """Parsed by Airflow's own CLI parser, with the CeleryExecutor configured (its `celery` commands);
    every AIRFLOW__SECTION__KEY is an option Airflow (or its celery provider) knows."""
    commands = [words[1:] for service in compose["services"].values() for words in command_lines(service)
                if words and words[0] == "airflow"]
    options = sorted({k for service in compose["services"].values() for k in (service.get("environment") or {})
                      if k.startswith("AIRFLOW__")})
    script = """
import json, sys
from airflow.cli.cli_parser import get_parser
from airflow.configuration import conf
commands, options = json.loads(sys.stdin.read())
parser = get_parser()
for words in commands:
    parser.parse_args(words)
conf.load_providers_configuration()
described = conf.configuration_description
def known(section, key):
    return key in described.get(section, {}).get("options", {}) or conf.has_option(section, key)
unknown = [o for o in options if not known(*[p.lower() for p in o.split("__")[1:3]])]
print(json.dumps(unknown))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
    env.update(AIRFLOW__CORE__EXECUTOR="CeleryExecutor", AIRFLOW_HOME=os.environ["AIRFLOW_HOME"])
    result = subprocess.run([sys.executable, "-c", script], input=json.dumps([commands, options]), env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [], "options Airflow does not know"
    assert ["celery", "worker"] in commands


def test_every_other_variable_a_container_gets_is_read_by_someone(compose):
    sources = package_sources()
    for name, service in compose["services"].items():
        for key in service.get("environment") or {}:
            if key.startswith("AIRFLOW__"):
                continue
            if key in READ_ELSEWHERE:
                continue
            assert f'"{key}"' in sources or f"'{key}'" in sources, f"{name}: {key} is read by nothing"


def test_compose_hands_every_mediasync_setting_to_airflow(compose):
    """Every setting config.py reads can be set from .env."""
    config = (PACKAGE / "config.py").read_text()
    settings = set(re.findall(r'"((?:MEDIASYNC|SUPABASE)_[A-Z_]+)"', config)) - {"NEXT_PUBLIC_SUPABASE_URL"}
    settings -= {"SUPABASE_DB_URL"}  # the database: MEDIASYNC_DATABASE_URL from MEDIASYNC_DB_CONN
    env = compose["services"]["airflow-worker"]["environment"]
    missing = sorted(settings - set(env))
    assert not missing, f"docker-compose.yml does not pass: {missing}"


def test_env_example_lists_exactly_the_settings_compose_reads(compose):
    text = (REPO / "docker-compose.yml").read_text().replace("$$", "")
    interpolated = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", text))
    listed = set(env_example())
    assert sorted(interpolated - listed) == [], ".env.example misses settings docker-compose.yml reads"
    assert sorted(listed - interpolated - {"COMPOSE_PROFILES"}) == [], ".env.example lists settings nothing reads"
    assert ".env" in (REPO / ".gitignore").read_text().split() and ".env" in (REPO / ".dockerignore").read_text()


# --- deploy/Dockerfile -------------------------------------------------------------------------------

def test_dockerfile_installs_the_wheel_pinned_by_the_lock():
    dockerfile = (REPO / "deploy" / "Dockerfile").read_text()
    run_lines = " ".join(line for line in dockerfile.splitlines() if not line.lstrip().startswith("#"))
    assert " -e " not in run_lines and "--editable" not in run_lines
    assert "python -m build --wheel" in run_lines and "mediasync-*.whl" in run_lines
    assert "-c /tmp/constraints.txt" in run_lines and "COPY requirements/constraints.txt" in run_lines
    lock = (REPO / "requirements" / "constraints.txt").read_text()
    airflow = re.search(r"^apache-airflow==(\S+)$", lock, re.M).group(1)
    assert f"ARG AIRFLOW_VERSION={airflow}" in dockerfile
    assert "ARG PYTHON_VERSION=3.11" in dockerfile and "--python-version 3.11" in lock
    assert "AIRFLOW__CORE__DAGS_FOLDER" in dockerfile


# --- the wheel in a clean venv ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory) -> Path:
    """`python -m build --wheel`, then a fresh venv (no access to the repository) with that wheel
    installed by pip, pinned by the lock. Returns the venv's bin/."""
    work = tmp_path_factory.mktemp("wheel")
    built = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(work / "dist"), str(REPO)],
                           capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    wheel = next((work / "dist").glob("mediasync-*.whl"))
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    for required in ("mediasync/sql/001_media.sql", "mediasync/sql/repeatable/R__is_open_entry.sql",
                     "mediasync/api/static/index.html", "mediasync/api/static/page.js",
                     "mediasync/api/static/page.css",
                     *(f"mediasync/dags/{d}.py" for d in DAG_IDS)):
        assert required in names, f"{required} is not in {wheel.name}"
    subprocess.run([sys.executable, "-m", "venv", str(work / "venv")], check=True, timeout=120)
    bin_dir = work / "venv" / "bin"
    install = subprocess.run([str(bin_dir / "pip"), "install", "-q", "-c", str(REPO / "requirements" / "constraints.txt"),
                              f"{wheel}[celery]"], capture_output=True, text=True, timeout=900, cwd=work,
                             stdin=subprocess.DEVNULL)
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    return bin_dir


def clean_env(bin_dir: Path, home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW", "MEDIASYNC_", "CLOUDINARY_", "SUPABASE_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", AIRFLOW_HOME=str(home / "airflow"),
               MEDIASYNC_SETTINGS_FILE="", **extra)
    return env


def _wait(url: str, process: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"{url} did not answer within {timeout}s:\n{log.read_text()[-3000:]}")


@pytest.mark.slow
def test_the_wheel_works_in_a_clean_venv_outside_the_repository(installed_wheel, tmp_path, pg_server_url):
    bin_dir = installed_wheel
    where = subprocess.run([str(bin_dir / "python"), "-c", "import mediasync; print(mediasync.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, env=clean_env(bin_dir, tmp_path), check=True)
    assert str(REPO) not in where.stdout and "site-packages" in where.stdout  # the installed copy, not the checkout

    name = f"mediasync_wheel_{uuid.uuid4().hex[:8]}"
    db_url = create_database(pg_server_url, name)
    processes: list[subprocess.Popen] = []
    try:
        env = clean_env(bin_dir, tmp_path, MEDIASYNC_DATABASE_URL=db_url, MEDIASYNC_REPORT_DIR=str(tmp_path / "r"))
        upgrade = subprocess.run(["mediasync", "db", "upgrade"], env=env, cwd=tmp_path, capture_output=True,
                                 text=True, timeout=120)
        assert upgrade.returncode == 0 and "database is up to date" in upgrade.stdout, upgrade.stderr

        port = free_port()
        log = tmp_path / "emulator.log"
        processes.append(subprocess.Popen(["mediasync", "emulator", "--port", str(port), "--data-dir",
                                           str(tmp_path / "emu")], env=env, cwd=tmp_path, stdout=log.open("w"),
                                          stderr=subprocess.STDOUT, start_new_session=True))
        _wait(f"http://127.0.0.1:{port}/_emulator/health", processes[-1], log, 60)
        cloudinary_url = f"cloudinary://mediasync-key:mediasync-secret@demo?upload_prefix=http://127.0.0.1:{port}"

        verify = subprocess.run(["mediasync", "verify"], env={**env, "CLOUDINARY_URL": cloudinary_url},
                                cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        assert re.search(r"^\d+ passed, 0 failed, 1 skipped$", verify.stdout, re.M), verify.stdout  # SKIP: Supabase unset

        # Airflow from the installed package alone: the DAG files it ships load, and the plugin serves its page.
        dags = subprocess.run([str(bin_dir / "python"), "-c", """
import json
from importlib.resources import files
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(str(files("mediasync") / "dags"))
print(json.dumps({"dags": sorted(bag.dag_ids), "errors": {k: str(v) for k, v in bag.import_errors.items()}}))
"""], env={**env, "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}, cwd=tmp_path, capture_output=True, text=True,
                              timeout=300)
        assert dags.returncode == 0, dags.stderr[-3000:]
        loaded = json.loads(dags.stdout.strip().splitlines()[-1])
        assert loaded["errors"] == {} and set(loaded["dags"]) >= DAG_IDS, loaded

        (tmp_path / "passwords.json").write_text(json.dumps({"admin": "wheel-test"}))
        airflow_env = {**env, "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
                       "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(tmp_path / "passwords.json"),
                       "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "CLOUDINARY_URL": cloudinary_url}
        migrate = subprocess.run(["airflow", "db", "migrate"], env=airflow_env, cwd=tmp_path, capture_output=True,
                                 text=True, timeout=300)
        assert migrate.returncode == 0, migrate.stderr[-3000:]
        api_port = free_port()
        log = tmp_path / "api-server.log"
        processes.append(subprocess.Popen(["airflow", "api-server", "--host", "127.0.0.1", "--port", str(api_port)],
                                          env=airflow_env, cwd=tmp_path, stdout=log.open("w"),
                                          stderr=subprocess.STDOUT, start_new_session=True))
        base = f"http://127.0.0.1:{api_port}"
        _wait(f"{base}/api/v2/version", processes[-1], log, 240)
        token = httpx.post(f"{base}/auth/token", json={"username": "admin", "password": "wheel-test"},
                           timeout=60).json()
        page = httpx.get(f"{base}/mediasync/", cookies={"_token": token["access_token"]}, timeout=30)
        assert page.status_code == 200 and "Media Library" in page.text
        stats = httpx.get(f"{base}/mediasync/api/v1/cleanup-queue", timeout=30,
                          headers={"Authorization": f"Bearer {token['access_token']}"})
        assert stats.status_code == 200 and stats.json()["pending"] == 0
    finally:
        for process in processes:
            stop_process_group(process)
        drop_database(pg_server_url, name)


@pytest.mark.slow
def test_the_init_service_script_runs_against_real_services(compose, tmp_path, pg_server_url, emulator):
    """airflow-init's script, as compose hands it to bash, with /opt/airflow moved to a temporary
    folder and the services on this machine: Airflow's metadata DB migrated, mediasync's schema
    upgraded, the admin password written, both connections in the metadata DB (the Cloudinary
    one passing its Test), and a second run (a restart) replacing them without error."""
    from psycopg.conninfo import conninfo_to_dict

    script = compose["services"]["airflow-init"]["command"][-1].replace("$$", "$").replace("/opt/airflow",
                                                                                         str(tmp_path))
    suffix = uuid.uuid4().hex[:8]
    metadata, media = f"mediasync_init_af_{suffix}", f"mediasync_init_{suffix}"
    metadata_url, media_url = create_database(pg_server_url, metadata), create_database(pg_server_url, media)
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MEDIASYNC_", "CLOUDINARY_"))}
        env.update(PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}", AIRFLOW_HOME=str(tmp_path),
                   AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="postgresql+psycopg2://" + metadata_url.split("://", 1)[1],
                   AIRFLOW__CORE__LOAD_EXAMPLES="False", MEDIASYNC_DATABASE_URL=media_url,
                   CLOUDINARY_URL=emulator.cloudinary_url, ADMIN_USERNAME="admin", ADMIN_PASSWORD="s3cret",
                   MEDIASYNC_SETTINGS_FILE="")
        for attempt in ("first start", "restart"):
            result = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=600,
                                    cwd=tmp_path, stdin=subprocess.DEVNULL)
            assert result.returncode == 0, (attempt, result.stdout[-3000:], result.stderr[-3000:])
        assert json.loads((tmp_path / "config" / "passwords.json").read_text()) == {"admin": "s3cret"}
        with psycopg.connect(media_url) as conn:
            assert conn.execute("SELECT count(*) FROM mediasync.schema_migrations").fetchone()[0] >= 5
        check = subprocess.run([sys.executable, "-c", """
import json
from airflow.models.connection import Connection
from airflow.utils.session import create_session
with create_session() as session:
    conns = {c.conn_id: c for c in session.query(Connection)}
    db, cld = conns["mediasync_db"], conns["cloudinary_default"]
    print(json.dumps({"ids": sorted(conns), "db": [db.conn_type, db.host, db.port, db.schema, db.login],
                      "cld": [cld.conn_type, cld.login, cld.extra_dejson], "test": list(cld.test_connection())}))
"""], env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert check.returncode == 0, check.stderr[-3000:]
        found = json.loads(check.stdout.strip().splitlines()[-1])
        info = conninfo_to_dict(media_url)
        assert found["ids"] == ["cloudinary_default", "mediasync_db"]
        assert found["db"] == ["postgres", info["host"], int(info["port"]), media, info["user"]]
        assert found["cld"] == ["cloudinary", emulator.api_key,
                                {"cloud_name": emulator.cloud_name, "api_base_url": emulator.base_url}]
        assert found["test"][0] is True, found["test"]
    finally:
        drop_database(pg_server_url, metadata)
        drop_database(pg_server_url, media)
