"""Purge completed cleanup-queue entries older than N days (mediasync)."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, get_current_context, task

from mediasync.airflow_params import airflow_params
from mediasync.services.maintenance_requests import RetentionRequest


@dag(
    dag_id="mediasync_retention",
    schedule="@daily",
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=1),
    tags=["mediasync"],
    params=airflow_params(RetentionRequest),  # declared once: mediasync.services.maintenance_requests
    doc_md="Deletes `completed` cleanup-queue entries older than **retention_days**, in bounded batches; "
           "`failed` entries are kept for people to look at.",
)
def mediasync_retention():
    from mediasync.lineage import CLEANUP_QUEUE

    # Lineage without an outlet event: an event on the queue asset would start a pointless cleanup run.
    @task(inlets=[CLEANUP_QUEUE])
    def purge_completed() -> dict:
        import logging

        from mediasync.runtime import services_from_airflow
        from mediasync.services.operations import trigger_source

        services = services_from_airflow()
        context = get_current_context()
        params, run = context["params"], context["dag_run"]
        request = RetentionRequest.parse({k: params[k] for k in RetentionRequest.model_fields if k in params})
        result = services.retention.purge(request, requested_by=trigger_source(run), dag_run_id=run.run_id)
        logging.getLogger("airflow.task").info("%s", result.summary())
        return result.as_dict()

    purge_completed()


mediasync_retention()
