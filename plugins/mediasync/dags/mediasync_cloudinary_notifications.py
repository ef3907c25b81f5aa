"""Apply Cloudinary notifications from the poll channel (mediasync).

For deployments without public ingress: Cloudinary buffers notifications on a poll channel
(`mediasync notifications setup --transport poll`); the triggerer long-polls it and wakes this DAG,
whose task drains the channel through the ingest service and acknowledges each message only after
its commit. A slow timetable is the safety net (a missed wake-up costs at most that long).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import AssetOrTimeSchedule, DeltaTriggerTimetable, Param, dag, task

from mediasync.lineage import NOTIFICATION_CHANNEL


@dag(
    dag_id="mediasync_cloudinary_notifications",
    schedule=AssetOrTimeSchedule(timetable=DeltaTriggerTimetable(timedelta(minutes=5)), assets=NOTIFICATION_CHANNEL),
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=10),
    default_args={"retries": 0},
    tags=["mediasync", "cloudinary"],
    params={"channel": Param(None, type=["null", "string"],
                             description="Poll channel (default: MEDIASYNC_NOTIFICATION_CHANNEL)")},
    doc_md=__doc__,
)
def mediasync_cloudinary_notifications():
    @task
    def apply_notifications(params: dict | None = None) -> dict:
        import logging

        from mediasync.runtime import services_from_airflow

        result = services_from_airflow().notifications.drain((params or {}).get("channel")).as_dict()
        logging.getLogger("airflow.task").info(
            "notifications on %(channel)s: received=%(received)d applied=%(applied)d duplicates=%(duplicates)d "
            "unchanged=%(unchanged)d rejected=%(rejected)d dead_lettered=%(dead_lettered)d "
            "acknowledged=%(acknowledged)d failed=%(failed)d", result)
        if result["failed"]:
            raise RuntimeError(f"{result['failed']} notification(s) not applied (left for redelivery): "
                               f"{result['error']}")
        return result

    apply_notifications()


mediasync_cloudinary_notifications()
