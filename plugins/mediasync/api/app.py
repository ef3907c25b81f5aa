"""The plugin's FastAPI app, mounted by Airflow's API server at /mediasync.

Entry point only: validate the request, call a service, shape the answer — the routes live in
`routes/`, one room per resource. Every route needs an authenticated Airflow user (a Bearer token
from `/auth/token`, or the UI's session cookie; anything else is a 401), and so do the OpenAPI
document (`/openapi.json`) and its viewer (`/docs`). Before a route runs, two ASGI guards look at
the request: cookie-only state changes must come from the API's own origin (`security.py`), and
bodies are bounded while they stream in (`limits.py`). Every expected failure is JSON
`{"detail": ...}` with a 4xx/5xx code, never a traceback (`errors.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse

from mediasync.api import errors
from mediasync.api.deps import AppState
from mediasync.api.limits import BodyLimit
from mediasync.api.routes import (
    charts,
    deletions,
    delivery,
    docs,
    events,
    media,
    notifications,
    queue,
    reconciliation,
)
from mediasync.api.security import OriginGuard, airflow_user_dependency, configured_origins
from mediasync.runtime import Services

PAGE = Path(__file__).with_name("static") / "index.html"
DESCRIPTION = """Media library, Cloudinary cleanup queue and reconciliation: the mediasync API served by the
Airflow plugin.

**Authentication**: an Airflow user — `Authorization: Bearer <token>` (a token from Airflow's
`POST /auth/token`), or the Airflow UI's session cookie. Missing, malformed or expired
credentials get 401. A state-changing request authenticated by the cookie alone must come from
this server's own origin (its `Origin` header), or it gets 403.

**Errors** are JSON `{"detail": "..."}`: 400 malformed body, 401 not authenticated, 403 refused,
404 unknown id, 413 body or image too large, 415 content not allowed, 422 invalid parameter,
502 Cloudinary failed, 503 database (or Cloudinary's rate limit) unavailable — try again later."""


def create_app(services_factory: Callable[[], Services] | None = None,
               user_dependency: Callable[..., Any] | None = None,
               trusted_origins: Callable[[], Iterable[str]] = configured_origins) -> FastAPI:
    """The app. `services_factory` builds the services on first use (no work at import or
    plugin load); `user_dependency` is Airflow's `get_user` (answering 401 for every bad
    credential) unless a caller supplies another; `trusted_origins` are origins besides the
    request's own from which cookie-authenticated state changes are accepted."""
    user_dependency = user_dependency or airflow_user_dependency()
    app = FastAPI(title="mediasync", version="1", description=DESCRIPTION,
                  docs_url=None, openapi_url=None, redoc_url=None)
    state = AppState(services_factory)
    app.state.mediasync = state
    errors.install(app)
    app.add_middleware(BodyLimit, max_upload_bytes=state.max_upload_bytes)
    app.add_middleware(OriginGuard, trusted_origins=trusted_origins)  # added last: runs first

    async def signed_in(request: Request, user: Any = Depends(user_dependency)) -> Any:
        request.state.mediasync_user = user  # who decided, for deletion batches (deps.requester)
        return user

    authenticated = [Depends(signed_in)]
    api = APIRouter(prefix="/api/v1", dependencies=authenticated, responses=errors.ERROR_RESPONSES)
    for module in (media, queue, reconciliation, deletions, events, charts, delivery):
        api.include_router(module.router)
    app.include_router(api)
    # Signature-verified, not behind Airflow login; its answers are ErrorBody like every other route's.
    app.include_router(notifications.router, prefix="/api/v1",
                       responses={422: errors.ERROR_RESPONSES[422], 503: errors.ERROR_RESPONSES[503]})
    app.include_router(docs.router, dependencies=authenticated)

    @app.get("/", include_in_schema=False, dependencies=authenticated)
    async def page() -> HTMLResponse:
        return HTMLResponse(PAGE.read_text(encoding="utf-8"))

    return app
