"""The reconciliation report as a link on Airflow's task: "Reconciliation report" on the
`reconcile` task of `mediasync_reconcile` opens the report the plugin serves for that DAG run.
Computed on the API server from the task instance's key alone (no XCom, nothing on the worker)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from airflow.sdk import BaseOperatorLink

RECONCILE_DAG_ID = "mediasync_reconcile"
RECONCILE_TASK_ID = "reconcile"


class ReconciliationReportLink(BaseOperatorLink):
    name = "Reconciliation report"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        if ti_key.dag_id != RECONCILE_DAG_ID or ti_key.task_id != RECONCILE_TASK_ID:
            return ""
        return f"/mediasync/api/v1/reconciliation/dag-runs/{quote(ti_key.run_id, safe='')}/report"
