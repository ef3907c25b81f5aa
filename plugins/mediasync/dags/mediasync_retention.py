"""Purge completed cleanup-queue entries older than N days (mediasync)."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Param, dag, get_current_context, task


@dag(
    dag_id="mediasync_retention",
    schedule="@daily",
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=1),
    tags=["mediasync"],
    params={"retention_days": Param(None, type=["null", "integer"], minimum=1, title="Retention (days)",
                                    description="Completed entries older than this are deleted; empty: "
                                                "MEDIASYNC_RETENTION_DAYS.")},
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

        services = services_from_airflow()
        days = get_current_context()["params"].get("retention_days")
        result = services.retention.purge(services.settings.retention_days if days is None else int(days))
        logging.getLogger("airflow.task").info("%s", result.summary())
        return result.as_dict()

    purge_completed()


mediasync_retention()
