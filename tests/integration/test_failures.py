"""Correctness under database failure: a connection lost mid-transaction is one documented outcome
(CLI: one line, exit 3 for a reconciliation; API: JSON 503), never a traceback, never a run left
`running`; a value the database refuses is bad input (4xx), not an outage."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.conninfo import make_conninfo

from fixtures.authorization import EveryoneMay
from fixtures.media import tiny_png
from mediasync.db import Database, PooledDatabase
from mediasync.errors import DatabaseUnavailable, InvalidInput
from mediasync.runtime import build_services
from mediasync.store import StoredAsset
from support.waiting import wait_until

pytestmark = pytest.mark.reliability


def cut_connections(conn, *, waiting_on_lock: bool = False) -> int:
    """Terminate every other session on this test's database (what a failover or an admin does)."""
    condition = "AND wait_event_type = 'Lock'" if waiting_on_lock else ""
    return conn.execute(f"SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE datname = "
                        f"current_database() AND pid <> pg_backend_pid() {condition}").fetchone()["n"]


def cli_env(db_url: str, emulator) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDIASYNC_", "CLOUDINARY_", "AIRFLOW_CONN_"))}
    env.update(MEDIASYNC_DATABASE_URL=db_url, CLOUDINARY_URL=emulator.cloudinary_url)
    return env


def reconcile_and_cut_connections(emulator, conn, db_url, report_dir) -> tuple[int, str, str]:
    """`mediasync reconcile` in a subprocess, its database connections cut during the listing."""
    emulator.seed(1200, prefix="main-uploads/r")  # three listing pages
    emulator.control(latency_ms=1500)
    env = {**cli_env(db_url, emulator), "MEDIASYNC_REPORT_DIR": str(report_dir)}
    requests_before = emulator.settings()["api_requests"]
    run = subprocess.Popen([sys.executable, "-m", "mediasync.cli", "reconcile", "--json"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        wait_until(lambda: run.poll() is not None
                   or conn.execute("SELECT 1 FROM mediasync.reconciliation_runs WHERE status = 'running'").fetchone(),
                   interval=0.1, message="the run never started")
        assert run.poll() is None, "the run ended before it started listing"
        wait_until(lambda: emulator.settings()["api_requests"] > requests_before,  # a listing call is held
                   message="the run never asked the emulator for a listing page")
        assert cut_connections(conn) >= 1
        out, err = run.communicate(timeout=120)
    finally:
        emulator.control(latency_ms=0)
        if run.poll() is None:
            run.kill()
    return run.returncode, out, err


def test_reconcile_cli_losing_its_connections_mid_run_exits_3_in_one_line(emulator, conn, db_url, tmp_path):
    returncode, out, err = reconcile_and_cut_connections(emulator, conn, db_url, tmp_path)
    assert returncode == 3, (out, err)
    assert "Traceback" not in err and "Traceback" not in out
    lines = err.strip().splitlines()
    # One error line; the rest are the CLI's own progress lines (issue 15: plain lines off a terminal).
    assert len([line for line in lines if line.startswith("mediasync: error: ")]) == 1, err
    assert lines and all(line.startswith("mediasync: ") for line in lines), err


def test_a_reconciliation_cut_off_from_its_database_is_finished_not_left_running(emulator, conn, db_url, tmp_path):
    reconcile_and_cut_connections(emulator, conn, db_url, tmp_path)
    statuses = [r["status"] for r in conn.execute("SELECT status FROM mediasync.reconciliation_runs")]
    assert statuses == ["failed"], statuses


def test_api_answers_json_503_when_the_connection_dies_mid_transaction(db_url, cloudinary_store, settings, conn):
    from mediasync.api.app import create_app

    services = build_services(PooledDatabase(db_url, max_attempts=3), cloudinary_store, settings)

    async def anyone() -> str:
        return "tester"

    app = create_app(services_factory=lambda: services, user_dependency=anyone, authorizer=EveryoneMay())
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/api/v1/media").status_code == 200  # the pool is warm
        answers: list = []
        locker = psycopg.connect(db_url)
        try:
            locker.execute("LOCK TABLE media_files IN ACCESS EXCLUSIVE MODE")  # the API's read waits on this
            reader = threading.Thread(target=lambda: answers.append(client.get("/api/v1/media")))
            reader.start()
            deadline = time.monotonic() + 10
            while cut_connections(conn, waiting_on_lock=True) == 0:
                assert time.monotonic() < deadline, "the API's query never waited on the lock"
                time.sleep(0.05)
            reader.join(15)
        finally:
            locker.rollback()
            locker.close()
        lost = answers[0]
        assert lost.status_code == 503, lost.text
        assert lost.headers["content-type"] == "application/json" and "PostgreSQL" in lost.json()["detail"]
        assert client.get("/api/v1/media").status_code == 200  # the pool replaced the dead connection
    services.db.close()


def test_a_value_the_database_refuses_is_bad_input_not_an_outage(db):
    from mediasync.repository.media import MediaRepository

    huge = StoredAsset(public_id="main-uploads/huge", resource_type="image", type="upload", format="png",
                       bytes=10, version=1, etag=None, secure_url=None, width=4_294_967_295, height=4_294_967_295)
    with pytest.raises(InvalidInput) as refused, db.transaction() as connection:
        MediaRepository().insert(connection, huge, [])
    assert refused.value.status_code == 422 and not isinstance(refused.value, DatabaseUnavailable)


def test_upload_while_the_database_is_gone_leaves_no_asset(services, cloudinary_store, db_url):
    broken = build_services(Database(make_conninfo(db_url, dbname="missing_db"), max_attempts=3),
                            cloudinary_store, services.settings)
    with pytest.raises(DatabaseUnavailable):
        broken.media.upload(tiny_png(40), "gone.png")
    assert list(cloudinary_store.iter_resources("image", "upload", "main-uploads/")) == []


def test_the_pool_works_again_as_soon_as_the_database_is_back(pg_server_url, template_database, db_url):
    from psycopg.conninfo import conninfo_to_dict

    from fixtures.database import create_database, drop_database

    name = conninfo_to_dict(db_url)["dbname"]  # a Unix-socket URL ends in ?host=/dir, not the database
    pooled = PooledDatabase(db_url, wait_seconds=10)
    try:
        with pooled.transaction() as connection:
            assert connection.sql("SELECT 1 AS one") == [{"one": 1}]
        drop_database(pg_server_url, name)  # the server restarts, the database fails over, ...
        with pytest.raises(DatabaseUnavailable), pooled.transaction() as connection:
            connection.sql("SELECT 1")
        create_database(pg_server_url, name, template=template_database)
        started = time.monotonic()
        with pooled.transaction() as connection:
            assert connection.sql("SELECT 1 AS one") == [{"one": 1}]
        assert time.monotonic() - started < 2  # not the failed pool's reconnect backoff (seconds, growing)
    finally:
        pooled.close()
