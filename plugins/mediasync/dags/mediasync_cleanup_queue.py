"""Drain the Cloudinary cleanup queue every 30 seconds (mediasync)."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

TIME_BUDGET_SECONDS = 25  # finish before the next 30-second run is due


@dag(
    dag_id="mediasync_cleanup_queue",
    schedule=timedelta(seconds=30),
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=5),
    default_args={"retries": 0},
    tags=["mediasync", "cloudinary"],
    doc_md="""
Claims due entries of `cloudinary_cleanup_queue` (`FOR UPDATE SKIP LOCKED`), deletes their assets
with batched Admin API calls (≤100 ids each), records each outcome, retries with backoff, and
rescues entries whose processor died. Stops after 25 s so runs never pile up.
""",
)
def mediasync_cleanup_queue():
    @task
    def drain_cleanup_queue() -> dict:
        import logging

        from mediasync.runtime import services_from_airflow

        result = services_from_airflow().processor.process(time_budget=TIME_BUDGET_SECONDS).as_dict()
        logging.getLogger("airflow.task").info(
            "cleanup queue: claimed=%(claimed)d deleted=%(deleted)d not_found=%(not_found)d retrying=%(retrying)d "
            "failed=%(failed)d rate_limited=%(rate_limited)d rescued=%(rescued)d admin_calls=%(store_calls)d "
            "batches=%(batches)d stopped_by=%(stopped_by)s in %(duration_seconds).2fs", result)
        return result

    drain_cleanup_queue()


mediasync_cleanup_queue()
