"""/api/v1/reconciliation: recent runs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from mediasync.api.deps import ServicesDep
from mediasync.services.reconcile import ReconciliationRun

router = APIRouter(tags=["reconciliation"])


class RunList(BaseModel):
    runs: list[ReconciliationRun]


@router.get("/reconciliation/runs", summary="Recent reconciliation runs")
def reconciliation_runs(services: ServicesDep, limit: Annotated[int, Query(ge=1, le=200)] = 20) -> RunList:
    return RunList(runs=services.reconciler.recent_runs(limit))
