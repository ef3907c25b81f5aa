"""/api/v1/charts: the series the page draws — queue throughput and backlog per hour, drift per
class per run — read from the database on every call, so they follow what workers do."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from mediasync.api.deps import ServicesDep
from mediasync.api.security import requires_read
from mediasync.services.operations import DriftChart, Operations, QueueChart

router = APIRouter(tags=["charts"], dependencies=[requires_read])


@router.get("/charts/queue", summary="Cleanup queue per hour: enqueued, completed, failed, backlog")
def queue_chart(services: ServicesDep, hours: Annotated[int, Query(ge=1, le=168)] = 24) -> QueueChart:
    return Operations(services.db).queue_chart(hours)


@router.get("/charts/drift", summary="Drift per class over the last runs whose listing completed")
def drift_chart(services: ServicesDep, runs: Annotated[int, Query(ge=1, le=200)] = 30) -> DriftChart:
    return Operations(services.db).drift_chart(runs)
