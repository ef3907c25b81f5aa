"""/api/v1/thumbnails/{id}: an asset's bytes, fetched through the plugin from the delivery URL the
*current* Cloudinary configuration gives, so recorded `secure_url`s that point at an old host (a
moved emulator, a changed CDN) don't break the page, and the browser needs no route to Cloudinary.
A deleted row or a missing asset is a 404 and an unreadable one a 502, which the page turns into
a placeholder with a badge.

The plugin connects only to the configured delivery host (no redirects followed), and answers
only with an image type of a fixed list, never the upstream's Content-Type, with `nosniff`: what
another host (or a public_id built to look like a path) serves can never reach the browser as
HTML or script under the plugin's origin.
"""

from __future__ import annotations

import httpx
from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

from mediasync.api.deps import ServicesDep
from mediasync.api.errors import ErrorBody
from mediasync.api.security import requires_read
from mediasync.delivery import delivery_origin, delivery_url, origin_of
from mediasync.errors import InvalidInput

router = APIRouter(tags=["media"], dependencies=[requires_read])
MAX_THUMBNAIL_BYTES = 20 * 1024 * 1024
# What the plugin serves as a thumbnail: the image kinds uploads may be (services/content.py), as the
# one canonical type each; SVG (script) and everything else is refused.
IMAGE_TYPES = {"image/png": "image/png", "image/jpeg": "image/jpeg", "image/jpg": "image/jpeg",
               "image/gif": "image/gif", "image/webp": "image/webp", "image/avif": "image/avif",
               "image/heic": "image/heic", "image/heif": "image/heif"}
SAFE_HEADERS = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'; sandbox",
                "Cache-Control": "private, max-age=300"}


@router.get("/thumbnails/{media_id}", summary="An asset's image bytes, delivered through the plugin",
            response_class=Response,
            responses={200: {"content": {t: {} for t in sorted(set(IMAGE_TYPES.values()))}},
                       404: {"model": ErrorBody, "description": "Deleted row, unknown id or missing asset"},
                       502: {"model": ErrorBody, "description": "Cloudinary did not deliver an image"}})
def thumbnail(services: ServicesDep, media_id: str) -> Response:
    record = services.media.get(media_id)
    if record.status != "active":
        raise HTTPException(404, "the media is deleted")
    credentials = getattr(services.store, "credentials", None)
    if credentials is None:
        raise HTTPException(404, "this asset store has no delivery URLs")
    try:
        url = delivery_url(credentials, public_id=record.public_id, resource_type=record.resource_type,
                           type=record.type, version=record.version, format=record.format)
    except InvalidInput as exc:
        raise HTTPException(404, f"the asset cannot be delivered: {exc}") from None
    if origin_of(url) != delivery_origin(credentials):
        raise HTTPException(404, "the asset's delivery URL is not on the configured delivery host")
    try:
        with httpx.Client(timeout=15, follow_redirects=False) as client:
            answer = client.get(url)
    except httpx.HTTPError:
        raise HTTPException(502, "Cloudinary could not be reached to deliver the asset") from None
    if answer.status_code == 404:
        raise HTTPException(404, "the asset is missing in Cloudinary")
    if answer.status_code != 200 or len(answer.content) > MAX_THUMBNAIL_BYTES:
        raise HTTPException(502, f"Cloudinary did not deliver the asset (HTTP {answer.status_code})")
    declared = answer.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if declared not in IMAGE_TYPES:
        raise HTTPException(502, "Cloudinary did not deliver an image")
    return Response(answer.content, media_type=IMAGE_TYPES[declared], headers=SAFE_HEADERS)
