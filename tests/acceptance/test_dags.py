"""The three DAGs: they parse cleanly with no work at import, and `dag.test()` of each does its
job against real PostgreSQL and the emulator, through the Airflow connections."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from fixtures.media import tiny_png

DAGS = Path(__file__).resolve().parents[2] / "dags"
DAG_IDS = ["mediasync_cleanup_queue", "mediasync_cloudinary_notifications", "mediasync_reconcile",
           "mediasync_retention"]


@pytest.fixture(scope="module")
def dagbag(airflow_metadata):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_dagbag_has_the_three_dags_and_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert sorted(dagbag.dag_ids) == DAG_IDS


def test_dag_files_do_no_database_or_network_work_at_import(monkeypatch):
    """Parsing with no database and no Cloudinary configured must still succeed."""
    from airflow.dag_processing.dagbag import DagBag

    for name in ("AIRFLOW_CONN_MEDIASYNC_DB", "MEDIASYNC_DATABASE_URL", "CLOUDINARY_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MEDIASYNC_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    assert DagBag(dag_folder=str(DAGS)).import_errors == {}


def test_schedules_and_params(dagbag):
    queue = dagbag.get_dag("mediasync_cleanup_queue")
    assert queue.schedule == timedelta(seconds=30)
    assert queue.max_active_runs == 1 and queue.catchup is False
    reconcile = dagbag.get_dag("mediasync_reconcile")
    assert set(reconcile.params) == {"apply", "folder", "force", "max_delete_fraction"}
    assert reconcile.params["apply"] is False and reconcile.params["max_delete_fraction"] == 0.05
    assert dagbag.get_dag("mediasync_retention").params["retention_days"] == 30


def run_dag(dagbag, dag_id: str, **conf):
    from airflow.utils.state import DagRunState

    run = dagbag.get_dag(dag_id).test(run_conf=conf or None)
    assert run.state == DagRunState.SUCCESS
    return run


def test_cleanup_queue_dag_drains_the_queue(dagbag, airflow_metadata, airflow_connections, services, conn,
                                            cloudinary_store):
    for i in range(3):
        services.media.upload(tiny_png(i), f"dag{i}.png")
    conn.execute("DELETE FROM media_files")
    assert conn.execute("SELECT count(*) AS n FROM cloudinary_cleanup_queue WHERE status = 'pending'"
                        ).fetchone()["n"] == 3
    run_dag(dagbag, "mediasync_cleanup_queue")
    assert conn.execute("SELECT status, count(*) AS n FROM cloudinary_cleanup_queue GROUP BY status"
                        ).fetchall() == [{"status": "completed", "n": 3}]
    assert list(cloudinary_store.iter_resources()) == []


def test_reconcile_dag_finds_planted_drift_as_a_dry_run(dagbag, airflow_metadata, airflow_connections, monkeypatch,
                                                        services, conn, cloudinary_store):
    monkeypatch.setenv("MEDIASYNC_RECONCILE_GRACE_MINUTES", "0")
    orphan = cloudinary_store.upload(tiny_png(50), upload_preset="tap2go-uploads", folder="main-uploads",
                                    resource_type="image", filename="orphan.png")
    conn.execute("INSERT INTO media_files (public_id, created_at) "
                 "VALUES ('main-uploads/missing', now() - '1h'::interval)")
    run_dag(dagbag, "mediasync_reconcile", apply=False, folder="main-uploads")
    run = conn.execute("SELECT id, mode, status, counts FROM mediasync.reconciliation_runs").fetchone()
    assert (run["mode"], run["status"]) == ("dry_run", "completed")
    assert run["counts"]["orphan_asset"] == 1 and run["counts"]["missing_asset"] == 1
    items = {(r["kind"], r["public_id"]) for r in conn.execute(
        "SELECT kind, public_id FROM mediasync.reconciliation_items WHERE run_id = %s", (run["id"],))}
    assert items == {("orphan_asset", orphan.public_id), ("missing_asset", "main-uploads/missing")}
    assert [a.public_id for a in cloudinary_store.iter_resources()] == [orphan.public_id]  # dry run: untouched


def test_retention_dag_purges_old_completed_entries(dagbag, airflow_metadata, airflow_connections, conn):
    conn.execute("INSERT INTO cloudinary_cleanup_queue (public_id, reason, status, completed_at) VALUES "
                 "('old', 'db_delete', 'completed', now() - interval '45 days'), "
                 "('recent', 'db_delete', 'completed', now() - interval '2 days')")
    run_dag(dagbag, "mediasync_retention", retention_days=30)
    assert [r["public_id"] for r in conn.execute("SELECT public_id FROM cloudinary_cleanup_queue")] == ["recent"]


def test_reconcile_dag_waits_for_the_admin_api_allowance_and_goes_on(dagbag, airflow_metadata, airflow_connections,
                                                                     monkeypatch, emulator, conn):
    """A listing that would spend the queue's share of the hourly allowance pauses; the task is
    rescheduled (no worker held) for the reset and resumes from its checkpoint, twice here."""
    monkeypatch.setenv("MEDIASYNC_RECONCILE_GRACE_MINUTES", "0")
    monkeypatch.setenv("MEDIASYNC_RECONCILE_ADMIN_API_RESERVE", "1")
    emulator.seed(1600, prefix="main-uploads/bulk")  # four image pages
    emulator.control(rate_limit=3, rate_limit_window_seconds=3)  # two pages a window, one call kept
    run_dag(dagbag, "mediasync_reconcile")
    runs = conn.execute("SELECT status, counts FROM mediasync.reconciliation_runs ORDER BY id").fetchall()
    assert [r["status"] for r in runs] == ["incomplete", "incomplete", "completed"]
    assert runs[-1]["counts"]["orphan_asset"] == 1600 and runs[-1]["counts"]["assets_listed"] == 1600
    assert emulator.admin_calls() == 6  # image pages 1-2 | 3-4 | video, raw: nothing listed twice
