"""The plugin's FastAPI app, mounted by Airflow's API server at /mediasync.

Entry point only: validate the request, call a service, shape the answer — the routes live in
`routes/`, one room per resource. Every route needs an authenticated Airflow user (a Bearer token
from `/auth/token`, or the UI's session cookie; anything else is a 401), and so do the OpenAPI
document (`/openapi.json`) and its viewer (`/docs`); each route then asks Airflow's auth manager for
the access it declares (`security.requires_read` / `requires_edit` / `requires_start_reconciliation`;
403 otherwise). The one exception is Cloudinary's webhook, verified by its signature. Before a
route runs, two ASGI guards look at
the request: cookie-only state changes must come from the API's own origin (`security.py`), and
bodies are bounded while they stream in (`limits.py`). Every expected failure is JSON
`{"detail": ...}` with a 4xx/5xx code, never a traceback (`errors.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.responses import HTMLResponse, Response

from mediasync.api import errors
from mediasync.api.deps import AppState
from mediasync.api.limits import BodyLimit
from mediasync.api.routes import (
    charts,
    deletions,
    delivery,
    docs,
    events,
    me,
    media,
    notifications,
    queue,
    reconciliation,
)
from mediasync.api.security import (
    AirflowAuthorizer,
    Authorizer,
    OriginGuard,
    configured_origins,
    current_user,
    requires_read,
)
from mediasync.runtime import Services

STATIC = Path(__file__).with_name("static")
PAGE = STATIC / "index.html"
PAGE_ASSETS = {"page.js": "text/javascript", "page.css": "text/css"}  # what index.html loads, by name
DESCRIPTION = """Media library, Cloudinary cleanup queue and reconciliation: the mediasync API served by the
Airflow plugin.

**Authentication**: an Airflow user — `Authorization: Bearer <token>` (a token from Airflow's
`POST /auth/token`), or the Airflow UI's session cookie. Missing, malformed or expired
credentials get 401. A state-changing request authenticated by the cookie alone must come from
this server's own origin (its `Origin` header), or it gets 403.

**Authorization**: Airflow's auth manager decides. Reading needs read access to the mediasync
DAGs; uploading, deleting, processing the queue (and every other change) edit access to them;
starting a reconciliation also the right to trigger `mediasync_reconcile`. With the simple auth
manager: `viewer` reads, `user`, `op` and `admin` also change. Otherwise 403, saying what is
missing; `GET /api/v1/me` tells a caller what they may do.

**Errors** are JSON `{"detail": "..."}`: 400 malformed body, 401 not authenticated, 403 refused,
404 unknown id, 413 body or image too large, 415 content not allowed, 422 invalid parameter,
502 Cloudinary failed, 503 database (or Cloudinary's rate limit) unavailable — try again later."""


def create_app(services_factory: Callable[[], Services] | None = None,
               user_dependency: Callable[..., Any] | None = None,
               trusted_origins: Callable[[], Iterable[str]] = configured_origins,
               authorizer: Authorizer | None = None) -> FastAPI:
    """The app. `services_factory` builds the services on first use (no work at import or
    plugin load); `user_dependency` replaces Airflow's `get_user` (answering 401 for every bad
    credential) and `authorizer` Airflow's auth manager, where a caller (a test, a benchmark) runs
    the app outside Airflow; `trusted_origins` are origins besides the request's own from which
    cookie-authenticated state changes are accepted."""
    app = FastAPI(title="mediasync", version="1", description=DESCRIPTION,
                  docs_url=None, openapi_url=None, redoc_url=None)
    state = AppState(services_factory)
    app.state.mediasync = state
    app.state.authorizer = authorizer or AirflowAuthorizer()
    if user_dependency is not None:
        app.dependency_overrides[current_user] = user_dependency
    errors.install(app)
    app.add_middleware(BodyLimit, max_upload_bytes=state.max_upload_bytes)
    app.add_middleware(OriginGuard, trusted_origins=trusted_origins)  # added last: runs first

    # Each router's routes declare the access they need (security.requires_*); a test checks none is missing.
    api = APIRouter(prefix="/api/v1", responses=errors.ERROR_RESPONSES)
    for module in (media, queue, reconciliation, deletions, events, charts, delivery, me):
        api.include_router(module.router)
    app.include_router(api)
    # Signature-verified, not behind Airflow login; its answers are ErrorBody like every other route's.
    app.include_router(notifications.router, prefix="/api/v1",
                       responses={422: errors.ERROR_RESPONSES[422], 503: errors.ERROR_RESPONSES[503]})
    app.include_router(docs.router, dependencies=[requires_read])

    @app.get("/", include_in_schema=False, dependencies=[requires_read])
    async def page() -> HTMLResponse:
        return HTMLResponse(PAGE.read_text(encoding="utf-8"))

    @app.get("/assets/{name}", include_in_schema=False, dependencies=[requires_read])
    async def page_asset(name: str) -> Response:
        """The page's script and style sheet, by name only (no path is built from the request)."""
        if name not in PAGE_ASSETS:
            raise HTTPException(404, "no such file")
        return Response((STATIC / name).read_bytes(), media_type=PAGE_ASSETS[name],
                        headers={"Cache-Control": "no-cache"})

    return app
