"""Builds the FastAPI app from the routers, and runs it (`serve`) — the emulator's entry point.

Route order matters: fixed paths (`resources/search`, `resources/by_asset_folder`) come before the
`resources/{resource_type}` patterns; a call under `/v1_1/` or `/v2/` that no route takes gets
Cloudinary's JSON error (404), never a redirect or an empty body; delivery's catch-all comes last.
Every API answer carries an `X-Request-Id`, as Cloudinary's do (the SDKs report it)."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mediasync.emulator import admin_account, admin_api, backups_api, control, delivery, notify_api, search, upload_api
from mediasync.emulator.admin_common import unsupported
from mediasync.emulator.config import Credentials, Faults, Settings, is_loopback
from mediasync.emulator.errors import CloudinaryError, ControlError, handle_cloudinary_error, handle_control_error
from mediasync.emulator.gate import request_id
from mediasync.emulator.runtime import Emulator

log = logging.getLogger(__name__)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    if request.url.path.startswith("/_emulator/"):
        return JSONResponse({"detail": "invalid request"}, status_code=422)
    return JSONResponse({"error": {"message": "Invalid request parameters"}}, status_code=400)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("emulator error on %s", request.url.path)
    if request.url.path.startswith("/_emulator/"):
        return JSONResponse({"detail": "internal error"}, status_code=500)
    return JSONResponse({"error": {"message": "General Error"}}, status_code=500)


API_PREFIXES = ("/v1_1", "/v2")
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
unknown = APIRouter()


@unknown.api_route("/v1_1", methods=METHODS)
@unknown.api_route("/v1_1/{path:path}", methods=METHODS)
@unknown.api_route("/v2", methods=METHODS)
@unknown.api_route("/v2/{path:path}", methods=METHODS)
async def unknown_call(request: Request) -> JSONResponse:
    raise unsupported(request)


class RequestIds:
    """ASGI middleware: an `X-Request-Id` on every API answer, errors included (the Python SDK puts
    it in an upload's result as `request_id` and exposes it on Admin answers as `.request_id`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(API_PREFIXES):
            await self.app(scope, receive, send)
            return

        async def with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id().encode())]
            await send(message)

        await self.app(scope, receive, with_id)


def build_app(emulator: Emulator) -> FastAPI:
    app = FastAPI(title="mediasync Cloudinary emulator", docs_url=None, redoc_url=None, openapi_url=None,
                  redirect_slashes=False)
    app.state.emulator = emulator
    app.add_exception_handler(CloudinaryError, handle_cloudinary_error)
    app.add_exception_handler(ControlError, handle_control_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
    app.add_middleware(RequestIds)

    for router in (control.router, search.router, notify_api.router, admin_account.router, backups_api.router,
                   admin_api.router, upload_api.router, unknown, delivery.router):
        app.include_router(router)
    return app


def serve(host: str = "127.0.0.1", port: int = 9444, data_dir: Path = Path(".mediasync/emulator"),
          latency_ms: int = 0, fail_rate: float = 0.0, rate_limit: int = 0, *, credentials: Credentials | None = None,
          folder_mode: str = "fixed", allow_remote_fetch: bool = False, control_token: str | None = None,
          public_url: str | None = None, backups: bool = False) -> None:
    """Run the emulator in the foreground until interrupted. Off loopback the control API needs a
    token: refuse to start without one."""
    import os

    import uvicorn

    from mediasync.emulator.config import credentials_from_env

    if not is_loopback(host) and not control_token:
        raise ValueError(f"the emulator listens on {host}, beyond this machine: give it a control token "
                         "(--control-token or MEDIASYNC_EMULATOR_CONTROL_TOKEN)")
    credentials = credentials or credentials_from_env()
    settings = Settings(folder_mode=folder_mode, allow_remote_fetch=allow_remote_fetch, control_token=control_token,
                        public_url=public_url or os.environ.get("MEDIASYNC_EMULATOR_PUBLIC_URL") or None,
                        backups=backups)
    emulator = Emulator(Path(data_dir), credentials, Faults(latency_ms, fail_rate, rate_limit), settings=settings)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 - only names what to print
    print(f"mediasync emulator on http://{host}:{port} ({folder_mode} folders, {'with' if backups else 'no'} "
          f"backups, data in {data_dir})\n"
          f"CLOUDINARY_URL=cloudinary://{credentials.api_key}:{credentials.api_secret}@{credentials.cloud_name}"
          f"?upload_prefix=http://{shown}:{port}", flush=True)
    try:
        uvicorn.run(emulator.app, host=host, port=port, log_level="warning")
    finally:
        emulator.close()
