"""/api/v1/deletions: deletion batches — who deleted what and when, held or flowing — and the two
decisions an operator makes about one: release a held batch, or undo any batch."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from mediasync.api.deps import ServicesDep
from mediasync.api.errors import route_errors
from mediasync.api.security import RequesterDep, requires_edit, requires_read
from mediasync.services.deletions import DeletionBatchDetail, DeletionPage, ReleaseResult, UndoResult

router = APIRouter(tags=["deletions"])


@router.get("/deletions", summary="Deletion batches, newest first", dependencies=[requires_read])
def list_deletions(services: ServicesDep,
                   status: Literal["flowing", "held", "released", "undone"] | None = None,
                   limit: Annotated[int, Query(ge=1, le=200)] = 50, cursor: str | None = None) -> DeletionPage:
    return services.deletions.list_batches(status=status, limit=limit, cursor=cursor)


@router.get("/deletions/{batch_id}", summary="One deletion batch, with a sample of what it removed",
            responses=route_errors(404), dependencies=[requires_read])
def get_deletion(services: ServicesDep, batch_id: int) -> DeletionBatchDetail:
    return services.deletions.get(batch_id)


@router.post("/deletions/{batch_id}/release", summary="Let a held batch flow to Cloudinary",
             description="Its held queue entries become pending; the next drain deletes the assets. Releasing a "
                         "released batch again changes nothing; an undone batch cannot be released (409).",
             responses=route_errors(404, 409), dependencies=[requires_edit])
def release_deletion(services: ServicesDep, who: RequesterDep, batch_id: int) -> ReleaseResult:
    return services.deletions.release(batch_id, who)


@router.post("/deletions/{batch_id}/undo", summary="Undo a batch (held or not) within MEDIASYNC_UNDO_DAYS",
             description="Rows come back exactly as they were (every column, with their tags and usage rows), "
                         "open deletions are cancelled, and assets Cloudinary already deleted are restored from "
                         "its backups where the account keeps them; what can be neither kept nor restored is "
                         "listed in `not_restorable` and its row stays deleted. A second undo returns the first "
                         "one's result.",
             responses=route_errors(404, 409, 502), dependencies=[requires_edit])
def undo_deletion(services: ServicesDep, who: RequesterDep, batch_id: int) -> UndoResult:
    return services.deletions.undo(batch_id, who)
