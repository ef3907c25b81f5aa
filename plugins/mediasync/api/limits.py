"""Request bodies bounded while they stream in.

A body is refused with 413 as soon as it passes its limit — at once when `Content-Length`
announces more, otherwise the moment the bytes read so far exceed it — so a 1 GiB body costs
about the limit's worth of reading, never the whole gigabyte. Multipart uploads may carry one
file of `Settings.max_upload_bytes` plus the form's overhead; every other body is small JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FORM_OVERHEAD = 64 * 1024  # multipart boundaries, part headers, the folder and tags fields
SMALL_BODY = 1024 * 1024  # JSON bodies and webhooks


class BodyTooLarge(HTTPException):
    """Raised from `receive`: an HTTPException, so FastAPI's body parsing passes it through to the
    app's JSON error handler instead of calling it a malformed body (400)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the limit of {limit} bytes",
                         headers={"Connection": "close"})  # the rest of the body is never read
        self.limit = limit


class BodyLimit:
    """ASGI middleware: 413 JSON `{"detail": ...}` for a body over its limit, read no further."""

    def __init__(self, app: ASGIApp, max_upload_bytes: Callable[[], int]) -> None:
        self.app = app
        self._max_upload_bytes = max_upload_bytes

    def limit_for(self, scope: Scope) -> int:
        content_type = dict(scope["headers"]).get(b"content-type", b"").lower()
        if content_type.startswith(b"multipart/form-data"):
            return self._max_upload_bytes() + FORM_OVERHEAD
        return SMALL_BODY

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send, BodyTooLarge(limit))
            return
        received = 0
        started = False

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, bounded_receive, tracking_send)
        except BodyTooLarge as exc:
            if started:
                raise
            await _too_large(send, exc)


async def _too_large(send: Send, exc: BodyTooLarge) -> None:
    body = json.dumps({"detail": exc.detail}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
