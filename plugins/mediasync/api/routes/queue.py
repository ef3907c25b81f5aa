"""/api/v1/cleanup-queue: statistics and "process now"."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from mediasync.api.deps import ServicesDep
from mediasync.api.errors import route_errors
from mediasync.api.security import requires_edit, requires_read
from mediasync.services.queue import ProcessResult, QueueStats

router = APIRouter(tags=["cleanup queue"])


class ProcessRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")
    batch_size: int | None = Field(default=None, alias="batchSize", ge=1, le=100)
    retry_failed: bool = Field(default=False, alias="retryFailed")
    time_budget: float | None = Field(default=30.0, alias="timeBudget", gt=0, le=300)


@router.get("/cleanup-queue", summary="Cleanup-queue statistics", dependencies=[requires_read])
def queue_stats(services: ServicesDep) -> QueueStats:
    return services.processor.stats()


@router.post("/cleanup-queue/process", summary="Process the cleanup queue now", responses=route_errors(400),
             dependencies=[requires_edit])
def process_queue(services: ServicesDep, body: ProcessRequest | None = None) -> ProcessResult:
    body = body or ProcessRequest()
    return services.processor.process(batch_size=body.batch_size, retry_failed=body.retry_failed,
                                      time_budget=body.time_budget)
