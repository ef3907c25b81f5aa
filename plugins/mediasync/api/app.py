"""The plugin's FastAPI app, mounted by Airflow's API server at /mediasync.

Entry point only: validate the request, call a service, shape the answer — the routes live in
`routes/`, one room per resource. Every route needs an authenticated Airflow user (a Bearer token
from `/auth/token`, or the UI's session cookie), and every expected failure is JSON
`{"detail": ...}` with a 4xx/5xx code, never a traceback (`errors.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import HTMLResponse

from mediasync.api import errors
from mediasync.api.deps import AppState
from mediasync.api.routes import charts, delivery, docs, events, media, notifications, queue, reconciliation
from mediasync.runtime import Services

PAGE = Path(__file__).with_name("static") / "index.html"


def create_app(services_factory: Callable[[], Services] | None = None,
               user_dependency: Callable[..., Any] | None = None) -> FastAPI:
    """The app. `services_factory` builds the services on first use (no work at import or
    plugin load); `user_dependency` is Airflow's `get_user` unless a caller supplies another."""
    if user_dependency is None:
        from airflow.api_fastapi.core_api.security import get_user as user_dependency
    app = FastAPI(title="mediasync", version="1", description="Media library, Cloudinary cleanup queue and "
                  "reconciliation: the mediasync API served by the Airflow plugin.",
                  docs_url=None, openapi_url=None, redoc_url=None)  # docs.py: offline, behind login
    app.state.mediasync = AppState(services_factory)
    errors.install(app)

    api = APIRouter(prefix="/api/v1", dependencies=[Depends(user_dependency)], responses=errors.ERROR_RESPONSES)
    for module in (media, queue, reconciliation, events, charts, delivery):
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(notifications.router, prefix="/api/v1")  # signature-verified, not behind Airflow login
    app.include_router(docs.router, dependencies=[Depends(user_dependency)])

    @app.get("/", include_in_schema=False, dependencies=[Depends(user_dependency)])
    async def page() -> HTMLResponse:
        return HTMLResponse(PAGE.read_text(encoding="utf-8"))

    return app
