"""The operator's view of mediasync: reconciliation runs with who started them and where their
reports are, requests for runs made through Airflow, and the series the page's charts draw —
all read from the database, so every API server and worker tells the same story."""

from __future__ import annotations

import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, computed_field

from mediasync.db import Database
from mediasync.drift import DRIFT_KINDS, drift_total
from mediasync.errors import NotFound
from mediasync.repository.operations import OperationsRepository
from mediasync.repository.reconciliation import ReconciliationRepository
from mediasync.results import Result
from mediasync.services.reconcile.reports import write_reports

RECONCILE_DAG_ID = "mediasync_reconcile"


class OperatorRun(Result):
    """A reconciliation as the page lists it: a recorded run, or a request Airflow has not run yet
    (`id` None, status `requested`)."""

    id: int | None
    mode: Literal["dry_run", "apply"]
    kind: Literal["full", "incremental", "auto"] = Field("full", description="full listing, or only the assets "
                                                         "uploaded since the previous complete run (incremental)")
    status: str
    counts: dict[str, Any] = Field(default_factory=dict)
    message: str | None = None
    listing_complete: bool = False
    assets_listed: int = 0
    params: dict[str, Any] = Field(default_factory=dict)
    started_at: datetime
    finished_at: datetime | None = None
    triggered_by: str | None = Field(None, description="who or what started it: a user and where, or the schedule")
    dag_id: str | None = None
    dag_run_id: str | None = None
    report_url: str | None = Field(None, description="copy in Supabase Storage (signed URL), where configured")
    report_html: str | None = Field(None, description="the HTML report, served by the plugin")
    report_csv: str | None = Field(None, description="every drift item as CSV, served by the plugin")

    @computed_field(description="items over every drift class (mediasync.drift); outcomes such as "  # type: ignore[prop-decorator]
                                "identity_filled are counted beside it, not in it")
    @property
    def drift_total(self) -> int:
        return drift_total(self.counts)


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
        self.runs_repo = ReconciliationRepository()

    # --- runs and who started them -------------------------------------------------------

    def runs(self, limit: int = 20) -> list[OperatorRun]:
        with self.db.transaction() as conn:
            return [OperatorRun.model_validate(r) for r in self.repo.runs(conn, limit)]

    def run(self, run_id: int) -> OperatorRun:
        with self.db.transaction() as conn:
            row = self.repo.run(conn, run_id)
        if row is None:
            raise NotFound(f"no reconciliation run {run_id}")
        return OperatorRun.model_validate(row)

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
        run = self.run(run_id)
        duration = (run.finished_at - run.started_at).total_seconds() if run.finished_at else 0.0
        summary = {"run_id": run_id, "mode": run.mode, "status": run.status, "message": run.message or "",
                   "assets_listed": run.assets_listed, "duration_seconds": round(duration, 3)}
        directory = Path(tempfile.mkdtemp(prefix="mediasync-report-"))
        try:
            with self.db.session() as conn, conn.transaction():
                files = write_reports(directory, summary, run.counts, self.runs_repo.report_items(conn, run_id))
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
