"""/api/v1/thumbnails/{id}: an asset's bytes, fetched through the plugin from the delivery URL the
*current* Cloudinary configuration gives, so recorded `secure_url`s that point at an old host (a
moved emulator, a changed CDN) don't break the page, and the browser needs no route to Cloudinary.
A deleted row or a missing asset is a 404 and an unreadable one a 502, which the page turns into
a placeholder with a badge."""

from __future__ import annotations

import httpx
from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

from mediasync.api.deps import ServicesDep
from mediasync.api.errors import ErrorBody
from mediasync.delivery import delivery_url

router = APIRouter(tags=["media"])
MAX_THUMBNAIL_BYTES = 20 * 1024 * 1024


@router.get("/thumbnails/{media_id}", summary="An asset's bytes, delivered through the plugin",
            response_class=Response,
            responses={404: {"model": ErrorBody, "description": "Deleted row, unknown id or missing asset"},
                       502: {"model": ErrorBody, "description": "Cloudinary did not deliver the asset"}})
def thumbnail(services: ServicesDep, media_id: str) -> Response:
    record = services.media.get(media_id)
    if record.status != "active":
        raise HTTPException(404, "the media is deleted")
    credentials = getattr(services.store, "credentials", None)
    if credentials is None:
        raise HTTPException(404, "this asset store has no delivery URLs")
    url = delivery_url(credentials, public_id=record.public_id, resource_type=record.resource_type,
                       type=record.type, version=record.version, format=record.format)
    try:
        with httpx.Client(timeout=15, follow_redirects=True) as client:
            answer = client.get(url)
    except httpx.HTTPError:
        raise HTTPException(502, "Cloudinary could not be reached to deliver the asset") from None
    if answer.status_code == 404:
        raise HTTPException(404, "the asset is missing in Cloudinary")
    if answer.status_code >= 400 or len(answer.content) > MAX_THUMBNAIL_BYTES:
        raise HTTPException(502, f"Cloudinary did not deliver the asset (HTTP {answer.status_code})")
    return Response(answer.content, media_type=answer.headers.get("content-type", "application/octet-stream"),
                    headers={"Cache-Control": "private, max-age=300"})
