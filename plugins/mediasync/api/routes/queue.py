"""/api/v1/cleanup-queue: statistics and "process now"."""

from __future__ import annotations

from fastapi import APIRouter

from mediasync.api.deps import ServicesDep
from mediasync.api.errors import route_errors
from mediasync.api.security import CurrentUser, requires_edit, requires_read, user_name
from mediasync.services.maintenance_requests import API_TIME_BUDGET_SECONDS, ProcessQueueRequest
from mediasync.services.queue import ProcessResult, QueueStats

router = APIRouter(tags=["cleanup queue"])


@router.get("/cleanup-queue", summary="Cleanup-queue statistics", dependencies=[requires_read])
def queue_stats(services: ServicesDep) -> QueueStats:
    return services.processor.stats()


@router.post("/cleanup-queue/process", summary="Process the cleanup queue now", responses=route_errors(400),
             dependencies=[requires_edit])
def process_queue(services: ServicesDep, user: CurrentUser, body: ProcessQueueRequest | None = None) -> ProcessResult:
    """The body is `mediasync queue process`'s options (`ProcessQueueRequest`), in camelCase."""
    asked = body or ProcessQueueRequest.model_validate({})
    if asked.time_budget is None:  # an HTTP answer must not wait for a whole backlog
        asked = asked.model_copy(update={"time_budget": API_TIME_BUDGET_SECONDS})
    return services.processor.process(asked, requested_by=f"{user_name(user)} (API)")
