"""The three DAGs: they parse cleanly with no work at import, and `dag.test()` of each does its
job against real PostgreSQL and the emulator, through the Airflow connections."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

from fixtures import dagruns
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
    assert queue.max_active_runs == 1 and queue.catchup is False
    reconcile = dagbag.get_dag("mediasync_reconcile")
    assert set(reconcile.params) == {"apply", "folder", "scope", "kind", "force", "max_delete_fraction",
                                     "grace_minutes"}  # the request model's fields (test_operation_requests)
    assert reconcile.params["apply"] is False and reconcile.params["scope"] == "managed"
    assert reconcile.params["kind"] == "auto"  # nightly: full weekly (or after missed notifications), else incremental
    # Settings are the single source of defaults: an empty Param means "the configured value".
    assert reconcile.params["max_delete_fraction"] is None and reconcile.params["grace_minutes"] is None
    assert dagbag.get_dag("mediasync_retention").params["retention_days"] is None


def test_cleanup_queue_is_event_driven_with_an_hourly_safety_net(dagbag):
    """Scheduled on an asset whose watcher LISTENs for the queue's notification, or'ed with a slow
    timetable: no run every 30 s when idle."""
    from airflow.sdk import AssetOrTimeSchedule
    from airflow.serialization.serialized_objects import DagSerialization

    from mediasync.triggers.queue import CleanupQueueTrigger

    schedule = dagbag.get_dag("mediasync_cleanup_queue").timetable
    assert isinstance(schedule, AssetOrTimeSchedule) or type(schedule).__name__ == "AssetOrTimeSchedule"
    assert schedule.timetable.delta == timedelta(hours=1)
    (watcher,) = schedule.asset_condition.watchers
    assert isinstance(watcher.trigger, CleanupQueueTrigger)
    classpath, kwargs = watcher.trigger.serialize()
    assert classpath == "mediasync.triggers.queue.CleanupQueueTrigger"
    assert CleanupQueueTrigger(**kwargs).serialize() == (classpath, kwargs)  # the triggerer rebuilds it from this
    assert kwargs["channel"] == "mediasync_cleanup_queue" and kwargs["poll_seconds"] == 30
    DagSerialization.to_dict(dagbag.get_dag("mediasync_cleanup_queue"))  # serialisable for the scheduler


def _declarations(dagbag) -> dict[tuple[str, str], list[tuple[str, frozenset]]]:
    """Every declaration of every asset, as the DAG processor reads them from the serialized DAGs
    (schedules, task inlets and outlets), with the watchers each declaration carries."""
    from airflow.dag_processing.collection import _find_all_assets
    from airflow.serialization.encoders import encode_trigger
    from airflow.serialization.serialized_objects import LazyDeserializedDAG

    found: dict[tuple[str, str], list[tuple[str, frozenset]]] = {}
    for dag_id in dagbag.dag_ids:
        lazy = LazyDeserializedDAG.from_dag(dagbag.get_dag(dag_id))
        for asset in _find_all_assets([lazy]):
            watchers = frozenset((w.name, repr(encode_trigger(w.trigger))) for w in asset.watchers)
            found.setdefault((asset.name, asset.uri), []).append((dag_id, watchers))
    return found


def test_an_asset_with_a_watcher_carries_it_wherever_it_is_declared(dagbag):
    """Airflow keeps one declaration per asset, the last it meets, and drops the watchers of an
    active asset declared without them: a bare lineage Asset used as an inlet once switched the
    event-driven cleanup off in a real Airflow. Every declaration of a watched asset must carry the
    same watchers, in every DAG."""
    declarations = _declarations(dagbag)
    for key, seen in declarations.items():
        variants = {watchers for _, watchers in seen}
        assert len(variants) == 1, f"asset {key} is declared with different watchers: {seen}"
    watched = {name for (name, _), seen in declarations.items() if seen[0][1]}
    assert watched == {"mediasync_cleanup_queue", "mediasync_cloudinary_notification_channel"}


def test_airflow_keeps_both_watchers_when_it_collects_the_dags(dagbag):
    """What the DAG processor stores, per file and for all files at once: each watched asset keeps
    its watcher (the asset_watcher rows the triggerer runs come from these)."""
    from airflow.dag_processing.collection import AssetModelOperation
    from airflow.serialization.serialized_objects import LazyDeserializedDAG

    lazies = {dag_id: LazyDeserializedDAG.from_dag(dagbag.get_dag(dag_id)) for dag_id in dagbag.dag_ids}
    batches = [lazies] + [{dag_id: lazy} for dag_id, lazy in lazies.items()]  # all files, then one file each
    for batch in batches:
        collected = AssetModelOperation.collect(batch).assets
        for (name, _), asset in collected.items():
            if name in ("mediasync_cleanup_queue", "mediasync_cloudinary_notification_channel"):
                assert [w.name for w in asset.watchers], f"{name} lost its watcher collecting {sorted(batch)}"


def run_dag(dagbag, dag_id: str, run_type: str = "manual", **conf):
    from airflow.utils.state import DagRunState

    # A freshly parsed DAG per run, as a worker has: in-process, an earlier run's conf would stay
    # in the shared DAG object's params and hide what an empty Param resolves to.
    dag = DagBag(dag_folder=str(DAGS / f"{dag_id}.py")).get_dag(dag_id)
    run = dagruns.run_dag(dag, run_type, **conf)
    assert run.state == DagRunState.SUCCESS and run.run_type == run_type
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


def test_a_cleanup_run_that_finds_a_held_batch_fails_and_calls_the_operators_notifier(
        dagbag, airflow_metadata, airflow_connections, monkeypatch, services, conn, cloudinary_store, tmp_path):
    """A held batch turns the run red (not a green run with a line in the log), names the batch and
    the commands that decide it, and fires the notifier configured in MEDIASYNC_ALERT_NOTIFIER;
    flowing deletions in the same run still happen, and a batch is reported once."""
    from airflow.utils.state import DagRunState, TaskInstanceState

    alerts = tmp_path / "alerts.jsonl"
    monkeypatch.setenv("MEDIASYNC_ALERT_NOTIFIER", "fixtures.notifier.RecordingNotifier")
    monkeypatch.setenv("MEDIASYNC_ALERT_NOTIFIER_KWARGS", json.dumps({"path": str(alerts)}))
    ids = [services.media.upload(tiny_png(70 + i), f"held{i}.png").id for i in range(14)]
    conn.execute("DELETE FROM media_files WHERE id = %s", (ids[0],))  # one asset: flows
    conn.execute("DELETE FROM media_files WHERE id <> %s", (ids[1],))  # 12 of 13: held by the fraction rule
    batch = conn.execute("SELECT id FROM mediasync.deletion_batches WHERE status = 'held'").fetchone()["id"]

    dag = DagBag(dag_folder=str(DAGS / "mediasync_cleanup_queue.py")).get_dag("mediasync_cleanup_queue")
    run = dagruns.run_dag(dag)
    assert run.state == DagRunState.FAILED
    (ti,) = run.get_task_instances()
    assert ti.state == TaskInstanceState.FAILED
    (alert,) = [json.loads(line) for line in alerts.read_text().splitlines()]
    assert f"batch {batch}" in alert["exception"] and f"mediasync deletions release {batch}" in alert["exception"]
    assert "MEDIASYNC_DELETE_HOLD_FRACTION" in alert["exception"]
    assert alert["message"] == "drain_cleanup_queue of mediasync_cleanup_queue failed"  # the template was rendered
    assert len(list(cloudinary_store.iter_resources())) == 13  # the flowing one went, the held twelve did not

    again = dagruns.run_dag(dag)  # reported once: the next run is green
    assert again.state == DagRunState.SUCCESS and len(alerts.read_text().splitlines()) == 1


def test_reconcile_dag_finds_planted_drift_as_a_dry_run(dagbag, airflow_metadata, airflow_connections, monkeypatch,
                                                        services, conn, cloudinary_store):
    monkeypatch.setenv("MEDIASYNC_RECONCILE_GRACE_MINUTES", "0")
    orphan = cloudinary_store.upload(tiny_png(50), upload_preset="tap2go-uploads", folder="main-uploads",
                                    resource_type="image", filename="orphan.png")
    conn.execute("INSERT INTO media_files (public_id, folder, created_at) "
                 "VALUES ('main-uploads/missing', 'main-uploads', now() - '1h'::interval)")
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


def foreign_and_managed_assets(cloudinary_store) -> dict[str, str]:
    """A shared account: an orphan in the managed folder, another app's asset, one at the root."""
    def upload(seed: int, folder: str | None, name: str) -> str:  # signed, no preset: as another tool would
        return cloudinary_store.upload(tiny_png(seed), folder=folder, resource_type="image", filename=name).public_id

    return {"orphan": upload(60, "main-uploads", "orphan.png"), "other_app": upload(61, "other-app", "theirs.png"),
            "root": upload(62, None, "console.png")}


def test_a_scheduled_reconcile_run_applies_within_the_managed_folders(dagbag, airflow_metadata, airflow_connections,
                                                                      monkeypatch, conn, cloudinary_store):
    monkeypatch.setenv("MEDIASYNC_RECONCILE_GRACE_MINUTES", "0")
    assets = foreign_and_managed_assets(cloudinary_store)
    run_dag(dagbag, "mediasync_reconcile", run_type="scheduled")
    run = conn.execute("SELECT mode, status, counts, params FROM mediasync.reconciliation_runs").fetchone()
    assert (run["mode"], run["status"], run["params"]["scope"]) == ("apply", "completed", "managed")
    assert run["counts"]["orphan_asset"] == 1 and run["counts"]["queued_deletions"] == 1
    assert run["params"]["max_delete_fraction"] == 0.05  # the setting, not a literal in the DAG file
    left = {a.public_id for a in cloudinary_store.iter_resources()}
    assert left == {assets["other_app"], assets["root"]}  # never delete what is not ours


def test_nightly_runs_list_in_full_first_then_only_what_was_uploaded_since(dagbag, airflow_metadata,
                                                                           airflow_connections, monkeypatch, conn,
                                                                           emulator, services):
    monkeypatch.setenv("MEDIASYNC_RECONCILE_GRACE_MINUTES", "0")
    services.media.upload(tiny_png(63), "yesterday.png")
    run_dag(dagbag, "mediasync_reconcile", run_type="scheduled")  # the inventory's first run: full
    services.media.upload(tiny_png(64), "tonight.png")
    calls = emulator.admin_calls()
    run_dag(dagbag, "mediasync_reconcile", run_type="scheduled")
    runs = conn.execute("SELECT kind, status, listed_since, params FROM mediasync.reconciliation_runs "
                        "ORDER BY id").fetchall()
    assert [(r["kind"], r["status"]) for r in runs] == [("full", "completed"), ("incremental", "completed")]
    assert runs[0]["listed_since"] is None and runs[1]["listed_since"] is not None
    assert "no complete full listing" in runs[0]["params"]["kind_reason"]
    assert "no drift the notifications missed" in runs[1]["params"]["kind_reason"]
    assert emulator.admin_calls() - calls == 3  # one search per resource type, whatever the library's size


def test_a_manual_reconcile_run_without_apply_changes_nothing(dagbag, airflow_metadata, airflow_connections,
                                                              monkeypatch, conn, cloudinary_store):
    monkeypatch.setenv("MEDIASYNC_RECONCILE_GRACE_MINUTES", "0")
    monkeypatch.setenv("MEDIASYNC_RECONCILE_MAX_DELETE_FRACTION", "0.2")
    assets = foreign_and_managed_assets(cloudinary_store)
    run_dag(dagbag, "mediasync_reconcile")
    run = conn.execute("SELECT mode, status, counts, params FROM mediasync.reconciliation_runs").fetchone()
    assert (run["mode"], run["status"]) == ("dry_run", "completed")
    assert run["counts"]["orphan_asset"] == 1 and run["counts"]["queued_deletions"] == 0
    assert run["params"]["max_delete_fraction"] == 0.2
    assert {a.public_id for a in cloudinary_store.iter_resources()} == set(assets.values())
    assert conn.execute("SELECT count(*) AS n FROM cloudinary_cleanup_queue").fetchone()["n"] == 0


def test_a_scheduled_retention_run_uses_the_configured_days(dagbag, airflow_metadata, airflow_connections,
                                                              monkeypatch, conn):
    monkeypatch.setenv("MEDIASYNC_RETENTION_DAYS", "7")
    conn.execute("INSERT INTO cloudinary_cleanup_queue (public_id, reason, status, completed_at) VALUES "
                 "('ten-days', 'db_delete', 'completed', now() - interval '10 days'), "
                 "('three-days', 'db_delete', 'completed', now() - interval '3 days')")
    run_dag(dagbag, "mediasync_retention", run_type="scheduled")
    assert [r["public_id"] for r in conn.execute("SELECT public_id FROM cloudinary_cleanup_queue")] == ["three-days"]
