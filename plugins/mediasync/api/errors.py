"""Every expected failure as JSON `{"detail": "..."}` with the right status, never a traceback;
and the same answers declared in the OpenAPI document."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException

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

log = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    """What every error answer carries: one line for people."""

    detail: str


def _described(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


# The error answers every /api/v1 route may give, for the OpenAPI document; routes add their own
# (400 malformed body, 404 unknown id, 415 content, 502 Cloudinary) with `route_errors`.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _described("No valid Airflow user: missing, malformed, wrongly signed, wrong-audience or expired token"),
    403: _described("Refused: Airflow's auth manager does not grant the access this route needs (the detail "
                    "says which), or a state-changing request authenticated by the session cookie alone came "
                    "from another origin"),
    413: _described("The request body is larger than the limit (for uploads: MEDIASYNC_MAX_UPLOAD_BYTES)"),
    422: _described("A parameter or field is invalid (the detail says which and why)"),
    503: _described("The database is unreachable, busy or not set up, or Cloudinary is rate limiting; "
                    "try again later"),
}
DESCRIPTIONS = {
    400: "The body is malformed (not JSON, not a form, an empty file)",
    404: "No record with this id",
    409: "The change conflicts with existing data",
    413: "The file, or its pixel count, is over the limit",
    415: "The content is not an allowed image, video or PDF, or it is one with something else inside",
    502: "Cloudinary failed or refused the credentials",
}


def route_errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` of a route's own error answers."""
    return {code: _described(DESCRIPTIONS[code]) for code in codes}


def status_for(exc: MediasyncError) -> tuple[int, dict[str, str]]:
    """The HTTP status (and headers) an error answers with."""
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


def _validation_detail(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path"))
        parts.append(f"{where or 'request'}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "the request is malformed"


def install(app: FastAPI, prefix_of_page: str = "/") -> None:
    """Register the handlers that turn errors into `ErrorBody` answers."""

    @app.exception_handler(MediasyncError)
    async def mediasync_error(request: Request, exc: MediasyncError) -> JSONResponse:
        status, headers = status_for(exc)
        if status >= 500:
            log.warning("%s %s failed: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_detail(exc)}, status_code=422)

    # Starlette's HTTPException, FastAPI's subclass included: FastAPI raises the former for a body it
    # cannot decode (not UTF-8), which would otherwise bypass this handler.
    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        """A browser opening the page without a session goes to Airflow's login instead of a 401 (a 403
        — signed in, but without read access — stays a 403: logging in again would not help)."""
        is_page = request.url.path == f"{request.scope.get('root_path', '')}{prefix_of_page}"
        if exc.status_code == 401 and is_page and "text/html" in request.headers.get("accept", ""):
            return RedirectResponse(f"/auth/login/?next={request.url.path}", status_code=303)
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 400 and detail == "There was an error parsing the body":
            detail = "the request body is malformed: expected JSON (or a multipart form for uploads)"
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        """A bug, not a user error: JSON with no internals (the traceback goes to the server log)."""
        log.error("%s %s failed unexpectedly", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"detail": "internal error; the server log has the details"}, status_code=500)
