"""Delivery URLs (`/{cloud}/{resource_type}/{type}/[transformations/]v{version}/{public_id}.{format}`)
serve the stored bytes, so pages and thumbnails work against the emulator. Files are streamed
from disk (a 300 MB video is never read whole) and counted as the usage API's bandwidth."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse

from mediasync.emulator.gate import emulator_of
from mediasync.emulator.media import mime_type

router = APIRouter()
_VERSION = re.compile(r"v\d+")


@router.api_route("/{cloud}/{resource_type}/{type}/{path:path}", methods=["GET", "HEAD"])
def deliver(request: Request, cloud: str, resource_type: str, type: str, path: str) -> Response:
    emulator = emulator_of(request)
    if cloud != emulator.credentials.cloud_name:
        return Response(status_code=404)
    segments = path.split("/")
    for i, segment in enumerate(segments):  # skip transformations up to the version segment
        if _VERSION.fullmatch(segment):
            segments = segments[i + 1:]
            break
    public_id = "/".join(segments)
    asset = emulator.state.get(resource_type, type, public_id)
    if asset is None and "." in public_id:
        asset = emulator.state.get(resource_type, type, public_id.rsplit(".", 1)[0])
    blob = emulator.state.blob_path(asset) if asset else None
    if asset is None or blob is None:
        return Response(status_code=404, headers={"X-Cld-Error": "Resource not found"})
    if request.method == "GET":
        emulator.counters.delivered_bytes += asset.bytes
    return FileResponse(blob, media_type=mime_type(asset.format),
                        headers={"ETag": f'"{asset.etag}"', "Cache-Control": "public, max-age=60"})
