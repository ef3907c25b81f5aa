"""Nightly reconciliation of Cloudinary against media_files (mediasync)."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Param, dag, get_current_context, task


@dag(
    dag_id="mediasync_reconcile",
    schedule="0 3 * * *",
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=6),
    default_args={"retries": 1, "retry_delay": timedelta(minutes=10)},
    tags=["mediasync", "cloudinary", "reconciliation"],
    params={
        "apply": Param(False, type="boolean", title="Apply repairs",
                       description="Manual runs are dry runs unless this is on; scheduled runs apply."),
        "folder": Param(None, type=["null", "string"], title="Folder",
                        description="Only assets under this folder (e.g. main-uploads); empty for all."),
        "force": Param(False, type="boolean", title="Force",
                       description="Allow deletions above the safety cap."),
        "max_delete_fraction": Param(0.05, type="number", minimum=0, maximum=1, title="Max delete fraction",
                                     description="Abort when deletions exceed max(100, this × assets)."),
    },
    doc_md="""
Streams the full Cloudinary listing into PostgreSQL, diffs it against `media_files` in SQL and
classifies drift (`orphan_asset`, `undeleted_asset`, `missing_asset`, `metadata_mismatch`,
`stuck_queue`). Scheduled runs repair; manual runs are dry runs unless **apply** is set. A listing
that did not complete takes no action: when Cloudinary's hourly Admin API allowance ran low the task
is rescheduled (state *up for reschedule*, no worker held) for when it resets and goes on from its
checkpoint; when Cloudinary failed, the task fails and its retry resumes. Deletions over the cap
abort unless **force**. Reports (CSV, HTML) go to `MEDIASYNC_REPORT_DIR` and, when configured, Supabase Storage.
""",
)
def mediasync_reconcile():
    @task
    def reconcile() -> dict:
        import logging

        from mediasync.runtime import services_from_airflow

        context = get_current_context()
        params, run = context["params"], context["dag_run"]
        apply = bool(params["apply"]) or str(run.run_type) == "scheduled"  # nightly runs repair
        result = services_from_airflow().reconciler.run(apply=apply, folder=params.get("folder") or None,
                                                 force=bool(params["force"]),
                                                 max_delete_fraction=float(params["max_delete_fraction"]))
        log = logging.getLogger("airflow.task")
        width = max(len(k) for k in result.counts) if result.counts else 10
        table = "\n".join(f"  {k.ljust(width)}  {v:>10}" for k, v in sorted(result.counts.items()))
        log.info("reconciliation run %d (%s): %s — %s\n%s\nreports: %s %s %s", result.run_id, result.mode,
                 result.status, result.message, table, result.report_csv, result.report_html,
                 result.report_url or "")
        if result.status == "incomplete" and result.resume_at:
            from airflow.exceptions import AirflowRescheduleException

            # Cloudinary's Admin API allowance ran low: free the worker, go on from the checkpoint once it resets.
            log.info("listing continues at %s", result.resume_at.isoformat())
            raise AirflowRescheduleException(result.resume_at + timedelta(seconds=1))
        if result.status in ("failed", "incomplete"):  # incomplete here: Cloudinary unreachable; retries resume
            raise RuntimeError(f"reconciliation run {result.run_id} {result.status}: {result.message}")
        return result.as_dict()

    reconcile()


mediasync_reconcile()
