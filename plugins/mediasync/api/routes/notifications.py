"""/api/v1/cloudinary/notifications: Cloudinary's webhook receiver.

The one route not behind Airflow login: Cloudinary cannot log in, so the signature is the
credential (`X-Cld-Signature` over the exact body + `X-Cld-Timestamp` + the API secret). The body
is read raw, up to a size limit, and the answer is 2xx only once the notification is committed;
anything else (4xx for a bad notification, 503 while the database is down) makes Cloudinary retry
or drop it, never leaves partial state.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.concurrency import run_in_threadpool

from mediasync.api.deps import ServicesDep
from mediasync.api.errors import ErrorBody
from mediasync.services.notifications import IngestResult, RejectedNotification

router = APIRouter(tags=["cloudinary notifications"])


async def _body(request: Request, limit: int) -> bytes:
    """The raw body, refused as soon as it grows past `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise RejectedNotification(f"notification body larger than {limit} bytes", 413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RejectedNotification(f"notification body larger than {limit} bytes", 413)
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/cloudinary/notifications", summary="Cloudinary webhook receiver (signature-verified, no login)",
             responses={400: {"model": ErrorBody, "description": "Malformed body or missing signature headers"},
                        401: {"model": ErrorBody, "description": "Bad signature or timestamp outside the window"},
                        413: {"model": ErrorBody, "description": "Body larger than the limit"},
                        503: {"model": ErrorBody, "description": "Database unavailable: Cloudinary retries later"}})
async def receive_notification(
    request: Request, services: ServicesDep,
    x_cld_timestamp: Annotated[str | None, Header()] = None,
    x_cld_signature: Annotated[str | None, Header()] = None,
) -> IngestResult:
    raw = await _body(request, services.settings.notification_max_body_bytes)
    return await run_in_threadpool(services.notifications.ingest, raw, x_cld_timestamp, x_cld_signature, "webhook")
