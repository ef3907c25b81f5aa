"""/api/v1/me: who the caller is and what Airflow's auth manager lets them do here, so the page
can hide or disable what they may not do (the API refuses it anyway)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from mediasync.api.security import ACCESS_LEVELS, Authorizer, CurrentUser, refused_check, user_name

router = APIRouter(tags=["authorization"])


class Permissions(BaseModel):
    read: bool = Field(description="read access to the mediasync DAGs: media, queue, runs, reports, events, charts")
    edit: bool = Field(description="edit access to the mediasync DAGs: upload, delete, process the queue, "
                                   "release or undo deletion batches")
    start_reconciliation: bool = Field(description="edit access and the right to trigger mediasync_reconcile")


class Me(BaseModel):
    user: str
    permissions: Permissions
    missing: dict[str, str] = Field(description="for each permission refused, the auth manager check it failed")


@router.get("/me", summary="The signed-in user and what Airflow's auth manager lets them do in mediasync")
async def me(request: Request, user: CurrentUser) -> Me:
    authorizer: Authorizer = request.app.state.authorizer
    refused = {access.name: await run_in_threadpool(refused_check, authorizer, user, access)
               for access in ACCESS_LEVELS}
    return Me(user=user_name(user), permissions=Permissions(**{name: c is None for name, c in refused.items()}),
              missing={name: c.describe() for name, c in refused.items() if c is not None})
