"""/api/v1/media: list, upload, read and delete media."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile

from mediasync.api.deps import ServicesDep
from mediasync.api.errors import ErrorBody
from mediasync.services.media_library import DeleteResult, MediaPage, MediaRecord

router = APIRouter(tags=["media"])
Responses = dict[int | str, dict[str, Any]]
NOT_FOUND: Responses = {404: {"model": ErrorBody, "description": "No media with this id"}}
CLOUDINARY_FAILED: Responses = {502: {"model": ErrorBody,
                                      "description": "Cloudinary failed or refused the credentials"}}


@router.get("/media", summary="List media, newest first")
def list_media(services: ServicesDep, status: Literal["active", "deleted", "all"] = "active",
               limit: Annotated[int, Query(ge=1, le=500)] = 50, cursor: str | None = None) -> MediaPage:
    return services.media.list(None if status == "all" else status, limit, cursor)


@router.post("/media", status_code=201, summary="Upload a file to Cloudinary and record it",
             responses={400: {"model": ErrorBody, "description": "Empty file or bad form"},
                        413: {"model": ErrorBody, "description": "File larger than MEDIASYNC_MAX_UPLOAD_BYTES"},
                        415: {"model": ErrorBody, "description": "Not an allowed image or video"},
                        **CLOUDINARY_FAILED})
def upload_media(services: ServicesDep, file: Annotated[UploadFile, File()],
                 folder: Annotated[str | None, Form()] = None,
                 tags: Annotated[str | None, Form(description="comma-separated")] = None) -> MediaRecord:
    data = file.file.read(services.settings.max_upload_bytes + 1)
    tag_list = [t for t in (tags or "").split(",") if t.strip()]
    return services.media.upload(data, file.filename, folder=folder or None, tags=tag_list)


@router.get("/media/{media_id}", summary="One media record", responses=NOT_FOUND)
def get_media(services: ServicesDep, media_id: str) -> MediaRecord:
    return services.media.get(media_id)


@router.delete("/media/{media_id}", summary="Soft delete, or hard delete with permanent=true",
               responses={**NOT_FOUND, **CLOUDINARY_FAILED})
def delete_media(services: ServicesDep, media_id: str, permanent: bool = False) -> DeleteResult:
    return services.media.hard_delete(media_id) if permanent else services.media.soft_delete(media_id)
