"""/api/v1/media: list, upload, read and delete media."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile

from mediasync.api.deps import ServicesDep
from mediasync.api.errors import route_errors
from mediasync.api.security import RequesterDep, requires_edit, requires_read
from mediasync.services.media_library import DeleteResult, MediaPage, MediaRecord

router = APIRouter(tags=["media"])


@router.get("/media", summary="List media, newest first", dependencies=[requires_read])
def list_media(services: ServicesDep, status: Literal["active", "deleted", "all"] = "active",
               limit: Annotated[int, Query(ge=1, le=500)] = 50, cursor: str | None = None) -> MediaPage:
    return services.media.list(None if status == "all" else status, limit, cursor)


@router.post("/media", status_code=201, summary="Upload a file to Cloudinary and record it",
             description="The file must be an image (PNG, JPEG, GIF, WebP, AVIF, HEIC), a PDF or a video (MP4, MOV, "
                         "WebM) that decodes as what it claims and carries nothing else; `folder` must lie inside "
                         "the managed folders (default: the upload folder); `alt` and `caption` are stored as the "
                         "asset's contextual metadata. Files over the chunked-upload threshold go to Cloudinary in "
                         "parts.",
             responses=route_errors(400, 409, 413, 415, 502), dependencies=[requires_edit])
def upload_media(services: ServicesDep, file: Annotated[UploadFile, File()],
                 folder: Annotated[str | None, Form()] = None,
                 tags: Annotated[str | None, Form(description="comma-separated")] = None,
                 alt: Annotated[str | None, Form(description="alt text (Cloudinary context `alt`)")] = None,
                 caption: Annotated[str | None, Form(description="caption (Cloudinary context `caption`)")] = None,
                 ) -> MediaRecord:
    # The form parser spooled the file to disk past 1 MiB; the service streams it on from there
    # (in parts when it is larger than Cloudinary takes in one request).
    tag_list = [t for t in (tags or "").split(",") if t.strip()]
    return services.media.upload(file.file, file.filename, folder=folder or None, tags=tag_list,
                                 context={"alt": alt, "caption": caption})


@router.get("/media/{media_id}", summary="One media record", responses=route_errors(404),
            dependencies=[requires_read])
def get_media(services: ServicesDep, media_id: str) -> MediaRecord:
    return services.media.get(media_id)


@router.delete("/media/{media_id}", summary="Soft delete, or hard delete with permanent=true",
               responses=route_errors(404, 502), dependencies=[requires_edit])
def delete_media(services: ServicesDep, who: RequesterDep, media_id: str, permanent: bool = False) -> DeleteResult:
    if permanent:
        return services.media.hard_delete(media_id, requested_by=who)
    return services.media.soft_delete(media_id, requested_by=who)
