"""Drain the Cloudinary cleanup queue when rows are queued (mediasync).

Event-driven: the DAG is scheduled on the asset `mediasync_cleanup_queue`, whose `AssetWatcher`
runs `CleanupQueueTrigger` in the triggerer. The trigger LISTENs for the queue's notification
(one per statement that queues rows), and checks every 30 s for entries due anyway (retries,
expired leases, missed notifications). An hourly timetable is the safety net (for a triggerer
that is down). An idle system creates no runs beyond it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import AssetOrTimeSchedule, DeltaTriggerTimetable, dag, task

from mediasync.alerts import notify_operator
from mediasync.lineage import CLEANUP_QUEUE, managed_folders

TIME_BUDGET_SECONDS = 240  # stop claiming after this; the run finishes what is in flight
SAFETY_NET = timedelta(hours=1)


@dag(
    dag_id="mediasync_cleanup_queue",
    schedule=AssetOrTimeSchedule(timetable=DeltaTriggerTimetable(SAFETY_NET), assets=CLEANUP_QUEUE),
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=10),
    default_args={"retries": 0, "on_failure_callback": notify_operator},
    tags=["mediasync", "cloudinary"],
    doc_md="""
Runs seconds after rows are queued (a SQL `DELETE`, a soft delete, reconciliation): claims due
entries of `cloudinary_cleanup_queue` (`FOR UPDATE SKIP LOCKED`), deletes their assets with a
few chunks in flight — Admin API `delete_resources` (≤100 ids a call) while the hourly allowance
is above the reconciliation's reserve, Upload API `destroy` below it — records each outcome,
retries with backoff, and rescues entries whose processor died. The log line says which API
deleted how many. Hourly runs are the safety net.

A deletion batch the delete brake held (a mass `DELETE`, a `TRUNCATE`, a row-by-row loop) is never
sent to Cloudinary: the run that first finds it **fails on purpose** with the batch, its reason and
the commands that release or undo it, and calls the notifier set in `MEDIASYNC_ALERT_NOTIFIER`.
""",
)
def mediasync_cleanup_queue():
    # CLEANUP_QUEUE carries its watcher wherever it is referenced (mediasync.lineage). Not an outlet of
    # the queue itself: this DAG is scheduled on it, and would re-trigger itself.
    @task(inlets=[CLEANUP_QUEUE], outlets=[*managed_folders()])
    def drain_cleanup_queue() -> dict:
        import logging

        from airflow.exceptions import AirflowFailException
        from airflow.sdk import get_current_context

        from mediasync.alerts import held_batches_message
        from mediasync.runtime import services_from_airflow
        from mediasync.services.operations import trigger_source

        services = services_from_airflow()
        run = get_current_context()["dag_run"]
        result = services.processor.process(time_budget=TIME_BUDGET_SECONDS, requested_by=trigger_source(run),
                                            dag_run_id=run.run_id)
        logging.getLogger("airflow.task").info("%s", result.summary())
        held = services.deletions.take_new_holds()
        if held:  # red in the grid, and the operator's notifier (on_failure_callback) fires
            raise AirflowFailException(held_batches_message(held))
        return result.as_dict()

    drain_cleanup_queue()


mediasync_cleanup_queue()
