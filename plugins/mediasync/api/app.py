"""The plugin's FastAPI app, mounted by Airflow's API server at /mediasync.

Entry point only: validate the request, call a service, shape the answer. Every route needs an
authenticated Airflow user — a Bearer token from `/auth/token`, or the UI's session cookie —
and every expected failure is JSON `{"detail": ...}` with a 4xx/5xx code, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from mediasync.errors import (
    ConfigError,
    Conflict,
    DatabaseBusy,
    DatabaseUnavailable,
    InvalidInput,
    MediasyncError,
    NotFound,
    SchemaNotReady,
    StoreError,
    StoreRateLimited,
)
from mediasync.services.cleanup_queue import ProcessResult, QueueStats
from mediasync.services.media_library import DeleteResult, MediaPage, MediaRecord
from mediasync.services.reconcile import ReconciliationRun

if TYPE_CHECKING:
    from mediasync.runtime import Services
    from mediasync.services.live import MediaChangeBroadcaster

log = logging.getLogger(__name__)

PAGE = Path(__file__).with_name("static") / "index.html"
HEARTBEAT_SECONDS = 15.0


class RunList(BaseModel):
    runs: list[ReconciliationRun]


class ProcessRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")
    batch_size: int | None = Field(default=None, alias="batchSize", ge=1, le=100)
    retry_failed: bool = Field(default=False, alias="retryFailed")
    time_budget: float | None = Field(default=30.0, alias="timeBudget", gt=0, le=300)


def _error_status(exc: MediasyncError) -> tuple[int, dict[str, str]]:
    if isinstance(exc, InvalidInput):
        return exc.status_code, {}
    if isinstance(exc, NotFound):
        return 404, {}
    if isinstance(exc, Conflict):
        return 409, {}
    if isinstance(exc, DatabaseBusy):
        return 503, {"Retry-After": "2"}
    if isinstance(exc, StoreRateLimited):
        if exc.reset_at is None:
            return 503, {}
        wait = int((exc.reset_at - datetime.now(timezone.utc)).total_seconds())
        return 503, {"Retry-After": str(max(1, wait))}
    if isinstance(exc, StoreError):  # Cloudinary failed or refused our credentials: a bad gateway
        return 502, {}
    if isinstance(exc, DatabaseUnavailable | SchemaNotReady | ConfigError):
        return 503, {}
    return 500, {}


def create_app(services_factory: Callable[[], Any] | None = None,
               user_dependency: Callable[..., Any] | None = None) -> FastAPI:
    """The app. `services_factory` builds the services on first use (no work at import or
    plugin load); `user_dependency` is Airflow's `get_user` unless a caller supplies another."""
    if user_dependency is None:
        from airflow.api_fastapi.core_api.security import get_user as user_dependency
    state: dict[str, Any] = {}

    def services() -> Services:
        if "services" not in state:
            from mediasync.runtime import services_from_airflow

            state["services"] = services_factory() if services_factory else services_from_airflow(pooled=True)
        return state["services"]

    def broadcaster() -> MediaChangeBroadcaster:
        if "live" not in state:
            from mediasync.services.live import MediaChangeBroadcaster

            state["live"] = MediaChangeBroadcaster(services().db)
        return state["live"]

    app = FastAPI(title="mediasync", version="1", description="Media library, Cloudinary cleanup queue and "
                  "reconciliation: the mediasync API served by the Airflow plugin.",
                  docs_url="/docs", openapi_url="/openapi.json", redoc_url=None)

    @app.exception_handler(MediasyncError)
    async def mediasync_error(request: Request, exc: MediasyncError) -> JSONResponse:
        status, headers = _error_status(exc)
        if status >= 500:
            log.warning("%s %s failed: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)

    api = APIRouter(prefix="/api/v1", dependencies=[Depends(user_dependency)])

    @api.get("/media", summary="List media, newest first")
    def list_media(status: Literal["active", "deleted", "all"] = "active",
                   limit: Annotated[int, Query(ge=1, le=500)] = 50, cursor: str | None = None) -> MediaPage:
        return services().media.list(None if status == "all" else status, limit, cursor)

    @api.post("/media", status_code=201, summary="Upload a file to Cloudinary and record it")
    def upload_media(file: Annotated[UploadFile, File()], folder: Annotated[str | None, Form()] = None,
                     tags: Annotated[str | None, Form(description="comma-separated")] = None) -> MediaRecord:
        limit = services().settings.max_upload_bytes
        data = file.file.read(limit + 1)
        tag_list = [t for t in (tags or "").split(",") if t.strip()]
        return services().media.upload(data, file.filename, folder=folder or None, tags=tag_list)

    @api.get("/media/{media_id}", summary="One media record")
    def get_media(media_id: str) -> MediaRecord:
        return services().media.get(media_id)

    @api.delete("/media/{media_id}", summary="Soft delete, or hard delete with permanent=true")
    def delete_media(media_id: str, permanent: bool = False) -> DeleteResult:
        media = services().media
        return media.hard_delete(media_id) if permanent else media.soft_delete(media_id)

    @api.get("/cleanup-queue", summary="Cleanup-queue statistics")
    def queue_stats() -> QueueStats:
        return services().processor.stats()

    @api.post("/cleanup-queue/process", summary="Process the cleanup queue now")
    def process_queue(body: ProcessRequest | None = None) -> ProcessResult:
        body = body or ProcessRequest()
        return services().processor.process(batch_size=body.batch_size, retry_failed=body.retry_failed,
                                            time_budget=body.time_budget)

    @api.get("/reconciliation/runs", summary="Recent reconciliation runs")
    def reconciliation_runs(limit: Annotated[int, Query(ge=1, le=200)] = 20) -> RunList:
        return RunList(runs=services().reconciler.recent_runs(limit))

    @api.get("/events", summary="Server-Sent Events: media INSERT/UPDATE/DELETE",
             response_class=StreamingResponse)
    async def events(request: Request) -> StreamingResponse:
        live = broadcaster()
        return StreamingResponse(_sse(request, live), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    app.include_router(api)

    @app.get("/", include_in_schema=False, dependencies=[Depends(user_dependency)])
    async def page() -> HTMLResponse:
        return HTMLResponse(PAGE.read_text())

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Any:
        """A browser opening the page without a session goes to Airflow's login instead of a 401."""
        is_page = request.url.path == f"{request.scope.get('root_path', '')}/"
        if exc.status_code in (401, 403) and is_page and "text/html" in request.headers.get("accept", ""):
            return RedirectResponse(f"/auth/login/?next={request.url.path}", status_code=303)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    return app


async def _sse(request: Request, live: MediaChangeBroadcaster) -> AsyncIterator[bytes]:
    """`event: media` per change; a comment line as heartbeat so proxies keep the stream open.
    ": connected" is sent once the database LISTEN is in place, so a client that saw it misses
    nothing written afterwards. A client going away ends the stream quietly."""
    yield b"retry: 2000\n"
    stream = live.subscribe().__aiter__()
    pending = asyncio.ensure_future(stream.__anext__())
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(live.connected.wait(), timeout=HEARTBEAT_SECONDS)
        yield b": connected\n\n"
        while not await request.is_disconnected():
            done, _ = await asyncio.wait({pending}, timeout=HEARTBEAT_SECONDS)
            if not done:
                yield b": heartbeat\n\n"
                continue
            event = pending.result()
            pending = asyncio.ensure_future(stream.__anext__())
            yield f"event: media\ndata: {json.dumps(event)}\n\n".encode()
    finally:
        pending.cancel()
        with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
            await pending  # the generator must be idle before it can be closed
        await stream.aclose()
