"""The services record who asked for each operation, with what, whichever surface asked."""

from __future__ import annotations

from fixtures.media import tiny_png
from mediasync.services.maintenance_requests import ProcessQueueRequest, RetentionRequest
from mediasync.services.provenance import Provenance


def test_a_queue_drain_records_who_asked_with_what_and_what_it_did(services, db, conn):
    services.media.upload(tiny_png(400), "gone.png")
    conn.execute("DELETE FROM media_files")
    result = services.processor.process(ProcessQueueRequest.parse({"batchSize": 7}), requested_by="alice@box (CLI)")
    [record] = Provenance(db).recent("queue_process")
    assert (record.requested_by, record.params["batch_size"], record.params["retry_failed"]) == (
        "alice@box (CLI)", 7, False)
    assert record.finished_at is not None and record.result["deleted"] == result.deleted == 1


def test_a_retention_purge_records_the_days_it_used_from_the_settings_when_empty(services, db):
    services.retention.purge(RetentionRequest.parse({}), requested_by="schedule (Airflow)", dag_run_id="scheduled__x")
    services.retention.purge(7, requested_by="bob@box (CLI)")
    recent = Provenance(db).recent("retention")
    assert [(r.requested_by, r.dag_run_id, r.params["retention_days"]) for r in recent] == [
        ("bob@box (CLI)", None, 7), ("schedule (Airflow)", "scheduled__x", services.settings.retention_days)]
    assert all(r.result and r.result["retention_days"] == r.params["retention_days"] for r in recent)


def test_a_reconciliation_records_who_asked_on_its_run_from_the_start(services, conn):
    result = services.reconciler.run(grace_minutes=0, requested_by="carol (media library page)")
    run = conn.execute("SELECT triggered_by, params FROM mediasync.reconciliation_runs WHERE id = %s",
                       (result.run_id,)).fetchone()
    assert run["triggered_by"] == "carol (media library page)"
    assert (run["params"]["kind"], run["params"]["scope"], run["params"]["grace_minutes"]) == ("auto", "managed", 0)
