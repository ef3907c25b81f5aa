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
    params={"retention_days": Param(30, type="integer", minimum=1, title="Retention (days)",
                                    description="Completed entries older than this are deleted.")},
    doc_md="Deletes `completed` cleanup-queue entries older than **retention_days**, in bounded batches; "
           "`failed` entries are kept for people to look at.",
)
def mediasync_retention():
    @task
    def purge_completed() -> dict:
        import logging

        from mediasync.runtime import services_from_airflow

        days = int(get_current_context()["params"]["retention_days"])
        result = services_from_airflow().retention.purge(days).as_dict()
        logging.getLogger("airflow.task").info(
            "retention: deleted %(deleted)d completed entries older than %(retention_days)d days "
            "in %(batches)d batches (%(duration_seconds).2fs)", result)
        return result

    purge_completed()


mediasync_retention()
