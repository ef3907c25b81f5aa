"""The operator's view of mediasync: reconciliation runs with who started them and where their
reports are, requests for runs made through Airflow, and the series the page's charts draw —
all read from the database, so every API server and worker tells the same story."""

from __future__ import annotations

import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from mediasync.db import Database
from mediasync.drift import DRIFT_KINDS
from mediasync.errors import NotFound
from mediasync.repository.operations import OperationsRepository
from mediasync.results import Result
from mediasync.services.reconcile.reports import render_reports
from mediasync.services.reconcile.run import ReconciliationRun

RECONCILE_DAG_ID = "mediasync_reconcile"


class QueueHour(Result):
    hour: datetime
    enqueued: int
    completed: int
    failed: int
    backlog: int = Field(description="open (pending or processing) entries at the end of the hour")


class QueueChart(Result):
    hours: list[QueueHour]


class DriftPoint(Result):
    run_id: int
    mode: str
    status: str
    started_at: datetime
    drift: dict[str, int]


class DriftChart(Result):
    kinds: list[str]
    runs: list[DriftPoint]


class Operations:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.repo = OperationsRepository()

    # --- runs and who started them -------------------------------------------------------

    def runs(self, limit: int = 20) -> list[ReconciliationRun]:
        with self.db.transaction() as conn:
            return [ReconciliationRun.model_validate(r) for r in self.repo.runs(conn, limit)]

    def run(self, run_id: int) -> ReconciliationRun:
        with self.db.transaction() as conn:
            row = self.repo.run(conn, run_id)
        if row is None:
            raise NotFound(f"no reconciliation run {run_id}")
        return ReconciliationRun.model_validate(row)

    def run_of_dag_run(self, dag_id: str, dag_run_id: str) -> int:
        with self.db.transaction() as conn:
            run_id = self.repo.run_of_dag_run(conn, dag_id, dag_run_id)
        if run_id is None:
            raise NotFound(f"DAG run {dag_run_id} of {dag_id} has recorded no reconciliation (yet)")
        return run_id

    def record_request(self, *, dag_run_id: str, requested_by: str, conf: dict[str, Any],
                       dag_id: str = RECONCILE_DAG_ID) -> None:
        """Remember who asked for a DAG run; the first record wins (the page's over the task's)."""
        with self.db.transaction() as conn:
            self.repo.record_request(conn, dag_id=dag_id, dag_run_id=dag_run_id, requested_by=requested_by,
                                     conf=conf)

    def requester(self, dag_run_id: str, dag_id: str = RECONCILE_DAG_ID) -> str | None:
        with self.db.transaction() as conn:
            return self.repo.requester(conn, dag_id, dag_run_id)

    def attribute(self, run_id: int, triggered_by: str, dag_run_id: str | None = None,
                  dag_id: str | None = RECONCILE_DAG_ID) -> None:
        """Tie a finished run to who started it and, inside Airflow, to its DAG run."""
        with self.db.transaction() as conn:
            self.repo.attribute_run(conn, run_id=run_id, triggered_by=triggered_by,
                                    dag_id=dag_id if dag_run_id else None, dag_run_id=dag_run_id)

    # --- reports, rendered from the database on any node ---------------------------------

    def render_report(self, run_id: int, kind: Literal["html", "csv"]) -> Path:
        """The run's report, written afresh from its recorded items into a new temporary directory
        (the files a worker wrote are not on the API server; the database is everywhere). The
        caller removes the file's directory once it has sent it."""
        directory = Path(tempfile.mkdtemp(prefix="mediasync-report-"))
        try:
            files = render_reports(self.db, run_id, directory)
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        return files.html if kind == "html" else files.csv

    # --- charts --------------------------------------------------------------------------

    def queue_chart(self, hours: int = 24) -> QueueChart:
        with self.db.transaction() as conn:
            return QueueChart(hours=[QueueHour.model_validate(r) for r in self.repo.queue_series(conn, hours)])

    def drift_chart(self, runs: int = 30) -> DriftChart:
        with self.db.transaction() as conn:
            rows = self.repo.drift_series(conn, runs)
        points = [DriftPoint(run_id=r["id"], mode=r["mode"], status=r["status"], started_at=r["started_at"],
                             drift={k: int(r["counts"].get(k, 0)) for k in DRIFT_KINDS}) for r in rows]
        return DriftChart(kinds=list(DRIFT_KINDS), runs=points)


def trigger_source(dag_run: Any) -> str:
    """Who or what started an Airflow DAG run, for people: the schedule, an asset event, or a user."""
    kind = getattr(getattr(dag_run, "run_type", None), "value", None) or str(getattr(dag_run, "run_type", ""))
    user = getattr(dag_run, "triggering_user_name", None)
    if kind == "scheduled":
        return "schedule (Airflow)"
    if kind == "asset_triggered":
        return "asset event (Airflow)"
    if kind == "backfill":
        return f"backfill by {user}" if user else "backfill (Airflow)"
    return f"{user} (Airflow)" if user else "manual (Airflow)"


def summary_lines(result: Any, triggered_by: str) -> list[str]:
    """A reconciliation's one summary for a task log or a terminal: status, counts, where the report is."""
    counts = dict(sorted(result.counts.items()))
    width = max((len(k) for k in counts), default=0)
    lines = [f"reconciliation run {result.run_id} ({result.mode.replace('_', ' ')}, {result.kind} listing, "
             f"started by {triggered_by}): {result.status} in {result.duration_seconds:.1f}s — {result.message}"]
    if result.kind_reason:
        lines.append(f"  {result.kind} listing because {result.kind_reason}")
    lines += [f"  {k.ljust(width)}  {v:>10}" for k, v in counts.items()]
    link = f"/mediasync/api/v1/reconciliation/runs/{result.run_id}/report.html"
    lines.append(f"report: {link} (also on the task as the \"Reconciliation report\" link)")
    for label, value in (("report file (HTML)", result.report_html), ("report file (CSV)", result.report_csv),
                         ("report copy", result.report_url)):
        if value:
            lines.append(f"{label}: {value}")
    return lines
