"""/api/v1/reconciliation: runs listed with times, who started them and their report links;
starting a run as a normal `mediasync_reconcile` DAG run (created in this process by Airflow's own
trigger, for the signed-in user: `clients.airflow`); the reports, rendered from the database."""

from __future__ import annotations

import shutil
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from mediasync.api.deps import ServicesDep
from mediasync.api.errors import ErrorBody, route_errors
from mediasync.api.security import (
    SESSION_COOKIE,
    CurrentUser,
    requires_read,
    requires_start_reconciliation,
    user_name,
)
from mediasync.clients.airflow import AirflowApiError, InProcessDagRuns
from mediasync.services.operations import RECONCILE_DAG_ID, Operations
from mediasync.services.reconcile.request import ReconcileRequest
from mediasync.services.reconcile.run import ReconciliationRun

router = APIRouter(tags=["reconciliation"])
dag_runs = InProcessDagRuns()
NO_RUN: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody, "description": "No such run"}}
REPORT_TYPES = {"html": "text/html; charset=utf-8", "csv": "text/csv; charset=utf-8"}


class RunList(BaseModel):
    runs: list[ReconciliationRun]


class StartedRun(BaseModel):
    dag_id: str
    dag_run_id: str
    state: str | None
    conf: dict
    triggered_by: str
    airflow_url: str = Field(description="the run in the Airflow UI (a path on Airflow's own server)")


def _with_links(request: Request, run: ReconciliationRun) -> ReconciliationRun:
    if run.id is not None:
        base = f"{request.scope.get('root_path', '')}/api/v1/reconciliation/runs/{run.id}"
        run.report_html, run.report_csv = f"{base}/report.html", f"{base}/report.csv"
    return run


@router.get("/reconciliation/runs", summary="Recent reconciliation runs: times, who started them, report links",
            dependencies=[requires_read])
def reconciliation_runs(request: Request, services: ServicesDep,
                        limit: Annotated[int, Query(ge=1, le=200)] = 20) -> RunList:
    return RunList(runs=[_with_links(request, r) for r in Operations(services.db).runs(limit)])


@router.get("/reconciliation/runs/{run_id}", summary="One reconciliation run", responses=NO_RUN,
            dependencies=[requires_read])
def reconciliation_run(request: Request, services: ServicesDep, run_id: int) -> ReconciliationRun:
    return _with_links(request, Operations(services.db).run(run_id))


@router.post("/reconciliation/runs", status_code=201, summary="Start a reconciliation as a mediasync_reconcile DAG run",
             responses={**route_errors(400), 404: {"model": ErrorBody, "description": "Airflow does not know the DAG"},
                        409: {"model": ErrorBody, "description": "The DAG has import errors"},
                        502: {"model": ErrorBody, "description": "Airflow did not create the run"}},
             dependencies=[requires_start_reconciliation])
def start_run(request: Request, services: ServicesDep, user: CurrentUser,
              body: ReconcileRequest | None = None) -> StartedRun:
    """The body is the DAG's Params (`ReconcileRequest`); what it leaves out keeps the DAG's defaults,
    except the switches (apply, force): a run's conf always says whether it may change anything."""
    asked = body or ReconcileRequest.model_validate({})
    conf = {**{k: v for k, v in asked.model_dump().items() if isinstance(v, bool)},
            **asked.model_dump(exclude_unset=True)}
    name = user_name(user)
    from_ui = SESSION_COOKIE in request.cookies and "authorization" not in request.headers
    try:
        run = dag_runs.trigger(RECONCILE_DAG_ID, conf, user_name=name, note="started from the media library page",
                               from_ui=from_ui)
    except AirflowApiError as exc:
        raise HTTPException(exc.status_code, str(exc)) from None
    who = f"{run.triggering_user_name or name} (media library page)"
    Operations(services.db).record_request(dag_run_id=run.dag_run_id, requested_by=who, conf=conf)
    return StartedRun(dag_id=RECONCILE_DAG_ID, dag_run_id=run.dag_run_id, state=run.state, conf=run.conf or conf,
                      triggered_by=who, airflow_url=f"/dags/{RECONCILE_DAG_ID}/runs/{quote(run.dag_run_id, safe='')}")


@router.get("/reconciliation/runs/{run_id}/report.{kind}", summary="A run's report (HTML summary or CSV of every item)",
            response_class=Response, responses={**NO_RUN, 200: {"content": {t: {} for t in REPORT_TYPES.values()}}},
            dependencies=[requires_read])
def report(services: ServicesDep, run_id: int, kind: Literal["html", "csv"]) -> Response:
    """Streamed from a file rendered for this request (flat memory for big runs), removed once sent."""
    path = Operations(services.db).render_report(run_id, kind)
    disposition = "inline" if kind == "html" else f'attachment; filename="reconciliation-{run_id}.csv"'
    return FileResponse(path, media_type=REPORT_TYPES[kind], headers={"Content-Disposition": disposition},
                        background=BackgroundTask(shutil.rmtree, path.parent, ignore_errors=True))


@router.get("/reconciliation/dag-runs/{dag_run_id}/report", summary="The report of a DAG run's reconciliation",
            response_class=RedirectResponse, status_code=307,
            responses={404: {"model": ErrorBody, "description": "That DAG run recorded no reconciliation"}},
            dependencies=[requires_read])
def report_of_dag_run(request: Request, services: ServicesDep, dag_run_id: str,
                      kind: Literal["html", "csv"] = "html") -> RedirectResponse:
    """Where Airflow's task link points: the DAG run id is all it knows."""
    run_id = Operations(services.db).run_of_dag_run(RECONCILE_DAG_ID, dag_run_id)
    root = request.scope.get("root_path", "")
    return RedirectResponse(f"{root}/api/v1/reconciliation/runs/{run_id}/report.{kind}", status_code=307)
