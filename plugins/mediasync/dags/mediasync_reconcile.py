"""Nightly reconciliation of Cloudinary against media_files (mediasync)."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, get_current_context, task

from mediasync.airflow_params import airflow_params
from mediasync.services.reconcile.request import ReconcileRequest


@dag(
    dag_id="mediasync_reconcile",
    schedule="0 3 * * *",
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=6),
    default_args={"retries": 1, "retry_delay": timedelta(minutes=10)},
    tags=["mediasync", "cloudinary", "reconciliation"],
    params=airflow_params(ReconcileRequest),  # declared once: mediasync.services.reconcile.request
    doc_md="""
Streams the Cloudinary listing of the managed folders (`MEDIASYNC_MANAGED_FOLDERS`, in the
account's folder mode; the whole account only with **scope** `account`) into PostgreSQL, diffs it
against `media_files` in SQL and classifies drift (`orphan_asset`, `undeleted_asset`,
`missing_asset`, `metadata_mismatch`, `stuck_queue`). Assets outside the scope are counted
(`unmanaged`), never deleted. Scheduled runs repair; manual runs are dry runs unless **apply** is
set. A listing that did not complete takes no action: when Cloudinary's hourly Admin API allowance
ran low the task is rescheduled (state *up for reschedule*, no worker held) for when it resets and
goes on from its checkpoint; when Cloudinary failed, the task fails and its retry resumes.
A full listing covers every asset of the scope; an incremental one (the nightly default between
full ones, **kind** `auto`) only the assets uploaded since the last complete run, through the Search
API — a few Admin API calls instead of two per thousand assets.
Deletions over the cap abort unless **force**. Empty Params use the settings
(`MEDIASYNC_RECONCILE_*`). Reports (CSV, HTML) go to `MEDIASYNC_REPORT_DIR` and, when configured,
Supabase Storage.
""",
)
def mediasync_reconcile():
    from mediasync.lineage import MEDIA_FILES, managed_folders

    @task(inlets=[MEDIA_FILES, *managed_folders()], outlets=[MEDIA_FILES, *managed_folders()])
    def reconcile() -> dict:
        import logging

        from mediasync.runtime import services_from_airflow
        from mediasync.services.operations import Operations, summary_lines, trigger_source

        context = get_current_context()
        params, run = context["params"], context["dag_run"]
        # The Task SDK's run type is an enum whose str() is "DagRunType.SCHEDULED": compare its value.
        scheduled = getattr(run.run_type, "value", run.run_type) == "scheduled"
        services = services_from_airflow()
        operations = Operations(services.db)
        who = operations.requester(run.run_id) or trigger_source(run)
        operations.record_request(dag_run_id=run.run_id, requested_by=who, conf=dict(params))
        # The summary below is the task's one account of the run; the service's own line would repeat it.
        logging.getLogger("mediasync.services.reconcile.service").setLevel(logging.WARNING)
        asked = {k: params[k] for k in ReconcileRequest.model_fields if k in params}
        request = ReconcileRequest.parse({**asked, "apply": scheduled or bool(params["apply"])})
        result = services.reconciler.run(request, requested_by=who)  # nightly runs repair; manual ones follow `apply`
        operations.attribute(result.run_id, who, dag_run_id=run.run_id)
        log = logging.getLogger("airflow.task")
        log.info("%s", "\n".join(summary_lines(result, who)))
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
