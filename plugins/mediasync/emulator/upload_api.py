"""Upload API routes (`/v1_1/{cloud}/{resource_type}/{action}`): upload (whole, or in chunks),
destroy, rename, explicit, tags, context — signed like Cloudinary's, never rate limited, counted in
`upload_api_calls`."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any

import httpx
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from mediasync.emulator import context as contexts
from mediasync.emulator.chunks import MAX_REQUEST_BYTES, Part, Session, too_large
from mediasync.emulator.errors import CloudinaryError
from mediasync.emulator.gate import read_params, truthy, upload_gate
from mediasync.emulator.runtime import Emulator
from mediasync.emulator.shapes import resource, upload_response
from mediasync.emulator.signing import check_signed_request

router = APIRouter()
RESOURCE_TYPES = ("image", "video", "raw")
# Sent with the tags/context calls but left out of their signature (uploader._NON_SIGNABLE_NOTIFICATION_PARAMS).
NON_SIGNABLE_NOTIFICATION_PARAMS = {"notification_url", "batch_id"}


def _check_resource_type(resource_type: str, allow_auto: bool = False) -> None:
    if resource_type not in RESOURCE_TYPES and not (allow_auto and resource_type == "auto"):
        raise CloudinaryError(400, f"Invalid resource type {resource_type}")


def _authorize_upload(emulator: Emulator, params: dict[str, Any]) -> tuple[dict | None, bool]:
    """(preset, unsigned): a signed request, or an unsigned one naming an unsigned preset."""
    preset_name = params.get("upload_preset")
    preset = emulator.state.preset(str(preset_name)) if preset_name else None
    if preset_name and preset is None:
        raise CloudinaryError(400, f"Upload preset not found: {preset_name}")
    if not params.get("signature"):
        if preset and preset["unsigned"]:
            return preset, True
        raise CloudinaryError(400, "Upload preset must be specified when using unsigned upload" if not preset
                              else "Upload preset must be whitelisted for unsigned uploads")
    check_signed_request(params, emulator.credentials.api_key, emulator.credentials.api_secret)
    return preset, False


async def _file_bytes(emulator: Emulator, file: Any) -> tuple[bytes, str | None]:
    """Multipart file, data URI, or (only with --allow-remote-fetch) an http(s) URL."""
    if hasattr(file, "read"):
        return await file.read(), getattr(file, "filename", None)
    text = str(file)
    if text.startswith("data:"):
        try:
            return base64.b64decode(text.split(",", 1)[1], validate=False), None
        except (IndexError, binascii.Error, ValueError):
            raise CloudinaryError(400, "Invalid file parameter: malformed data URI") from None
    if text.startswith(("http://", "https://", "ftp://", "s3://", "gs://")):
        if not emulator.settings.allow_remote_fetch or not text.startswith(("http://", "https://")):
            raise CloudinaryError(400, f"Error in loading {text} - remote fetch is disabled on this emulator "
                                       "(start it with --allow-remote-fetch)")
        async with httpx.AsyncClient(timeout=30, follow_redirects=True) as client:
            try:
                answer = await client.get(text)
            except httpx.HTTPError as exc:
                raise CloudinaryError(400, f"Error in loading {text} - {type(exc).__name__}") from None
        if answer.status_code != 200:
            raise CloudinaryError(400, f"Error in loading {text} - {answer.status_code} {answer.reason_phrase}")
        return answer.content, text.rsplit("/", 1)[-1]
    raise CloudinaryError(400, "Invalid file parameter: only uploads, data URIs and http(s) URLs are supported")


@router.post("/v1_1/{cloud}/{resource_type}/upload")
async def upload(request: Request, resource_type: str, emulator: Emulator = Depends(upload_gate)) -> dict:
    """One whole file (at most 100 MB), or one part of a chunked upload when the request carries
    `X-Unique-Upload-Id` and `Content-Range` (what `upload_large`/`upload_chunked_stream` send)."""
    return await _upload(request, resource_type, emulator, chunked=None)


@router.post("/v1_1/{cloud}/{resource_type}/upload_chunked")
async def upload_chunked(request: Request, resource_type: str, emulator: Emulator = Depends(upload_gate)) -> dict:
    """The chunk endpoint of Cloudinary's published API description: parts only."""
    return await _upload(request, resource_type, emulator, chunked=True)


async def _upload(request: Request, resource_type: str, emulator: Emulator, chunked: bool | None) -> dict:
    _check_resource_type(resource_type, allow_auto=True)
    params, file = await read_params(request)
    preset, unsigned = _authorize_upload(emulator, params)
    if file is None or file == "":
        raise CloudinaryError(400, "Missing required parameter - file")
    settings = {**(preset["settings"] if preset else {}), **{k: v for k, v in params.items() if v not in ("", None)}}
    data: bytes | Path
    if chunked or request.headers.get("x-unique-upload-id") or request.headers.get("content-range"):
        # parts are copied to disk, and the last one assembles the asset, off the event loop
        received = await run_in_threadpool(_receive_part, request, emulator, file, resource_type, settings, unsigned)
        if isinstance(received, dict):
            return received
        data, filename, settings, unsigned, resource_type = (received.path, received.filename, received.settings,
                                                             received.unsigned, received.resource_type)
    else:
        data, filename = await _whole_file(emulator, file)
    try:
        asset, overwritten, existing = await run_in_threadpool(emulator.actions.upload, data, filename, resource_type,
                                                               settings, unsigned=unsigned)
    finally:
        if isinstance(data, Path):
            data.unlink(missing_ok=True)  # moved into the store, unless the upload was refused
    body = upload_response(emulator, str(request.base_url), asset, overwritten=overwritten, existing=existing)
    if not existing:
        emulator.notifier.emit("upload", {k: v for k, v in body.items() if k != "signature"},
                               notification_url=settings.get("notification_url"))
    return body


def _receive_part(request: Request, emulator: Emulator, file: Any, resource_type: str, settings: dict[str, Any],
                  unsigned: bool) -> Session | dict:
    """One part of a chunked upload: the finished session after the last part, else the answer
    Cloudinary gives to a part before it (`done: false`)."""
    upload_id, content_range = request.headers.get("x-unique-upload-id"), request.headers.get("content-range")
    if not (upload_id and content_range):
        raise CloudinaryError(400, "A chunked upload needs both the X-Unique-Upload-Id and Content-Range headers")
    if not hasattr(file, "read"):
        raise CloudinaryError(400, "A chunk must be sent as a file part")
    session, done = emulator.chunks.receive(upload_id, Part.parse(content_range), file.file, int(file.size or 0),
                                            resource_type, settings, unsigned, getattr(file, "filename", None))
    if done:
        return session
    partial: dict[str, Any] = {"done": False, "bytes": session.received}
    if resource_type != "auto":
        partial["resource_type"] = resource_type
    if session.settings.get("public_id"):
        partial["public_id"] = str(session.settings["public_id"])
    return partial


async def _whole_file(emulator: Emulator, file: Any) -> tuple[bytes, str | None]:
    """A single-request upload's file: at most 100 MB, refused before it is read when larger."""
    if int(getattr(file, "size", 0) or 0) > MAX_REQUEST_BYTES:
        raise too_large(int(file.size), MAX_REQUEST_BYTES)
    data, filename = await _file_bytes(emulator, file)
    if len(data) > MAX_REQUEST_BYTES:
        raise too_large(len(data), MAX_REQUEST_BYTES)
    return data, filename


@router.post("/v1_1/{cloud}/{resource_type}/destroy")
async def destroy(request: Request, resource_type: str, emulator: Emulator = Depends(upload_gate)) -> dict:
    params, _ = await read_params(request)
    check_signed_request(params, emulator.credentials.api_key, emulator.credentials.api_secret)
    if not params.get("public_id"):
        raise CloudinaryError(400, "Missing required parameter - public_id")
    public_id = str(params["public_id"])
    outcome = emulator.actions.delete(resource_type, str(params.get("type") or "upload"), [public_id],
                                      notification_url=params.get("notification_url"))
    return {"result": "ok" if outcome[public_id] == "deleted" else "not found"}


@router.post("/v1_1/{cloud}/{resource_type}/rename")
async def rename(request: Request, resource_type: str, emulator: Emulator = Depends(upload_gate)) -> dict:
    params, _ = await read_params(request)
    check_signed_request(params, emulator.credentials.api_key, emulator.credentials.api_secret)
    _check_resource_type(resource_type)
    for name in ("from_public_id", "to_public_id"):
        if not params.get(name):
            raise CloudinaryError(400, f"Missing required parameter - {name}")
    asset = emulator.actions.rename(resource_type, str(params.get("type") or "upload"), str(params["from_public_id"]),
                                    str(params["to_public_id"]), to_type=params.get("to_type") or None,
                                    overwrite=truthy(params.get("overwrite", "0")),
                                    notification_url=params.get("notification_url"))
    return resource(emulator, str(request.base_url), asset, detail=True)


@router.post("/v1_1/{cloud}/{resource_type}/explicit")
async def explicit(request: Request, resource_type: str, emulator: Emulator = Depends(upload_gate)) -> dict:
    """The asset's upload-shaped details; `tags` replaces its tags (the other explicit actions —
    eager, moderation — have nothing to act on here)."""
    params, _ = await read_params(request)
    check_signed_request(params, emulator.credentials.api_key, emulator.credentials.api_secret)
    _check_resource_type(resource_type)
    public_id = str(params.get("public_id") or "")
    asset = emulator.state.get(resource_type, str(params.get("type") or "upload"), public_id)
    if asset is None:
        raise CloudinaryError(404, f"Resource not found - {public_id}")
    if "tags" in params:
        asset = emulator.actions.set_tags(asset, [t for t in str(params["tags"]).split(",") if t],
                                          notification_url=params.get("notification_url"))
    return upload_response(emulator, str(request.base_url), asset)


@router.post("/v1_1/{cloud}/{resource_type}/tags")
async def tags(request: Request, resource_type: str, emulator: Emulator = Depends(upload_gate)) -> dict:
    """`add_tag`/`remove_tag`/`replace_tag`/`remove_all_tags`: `{"public_ids": [changed ids]}`."""
    params, _ = await read_params(request)
    check_signed_request(params, emulator.credentials.api_key, emulator.credentials.api_secret,
                         skip=NON_SIGNABLE_NOTIFICATION_PARAMS)
    _check_resource_type(resource_type)
    command = str(params.get("command") or "")
    given = params.get("tag") or []
    new = [t for item in (given if isinstance(given, list) else [given]) for t in str(item).split(",") if t]
    if command not in ("add", "set_exclusive", "remove", "replace", "remove_all"):
        raise CloudinaryError(400, f"Invalid command {command}")
    if command != "remove_all" and not new:
        raise CloudinaryError(400, "Missing required parameter - tag")
    ids = params.get("public_ids") or []
    ids = ids if isinstance(ids, list) else [ids]
    changed = []
    for public_id in ids:
        asset = emulator.state.get(resource_type, str(params.get("type") or "upload"), str(public_id))
        if asset is None:
            continue
        result = {"add": asset.tags + new, "set_exclusive": asset.tags + new, "replace": new, "remove_all": [],
                  "remove": [t for t in asset.tags if t not in new]}[command]
        emulator.actions.set_tags(asset, result, notification_url=params.get("notification_url"))
        changed.append(asset.public_id)
    return {"public_ids": changed}


@router.post("/v1_1/{cloud}/{resource_type}/context")
async def context(request: Request, resource_type: str, emulator: Emulator = Depends(upload_gate)) -> dict:
    """`add_context` (the keys given are set, the others kept) / `remove_all_context`:
    `{"public_ids": [changed ids]}`."""
    params, _ = await read_params(request)
    check_signed_request(params, emulator.credentials.api_key, emulator.credentials.api_secret,
                         skip=NON_SIGNABLE_NOTIFICATION_PARAMS)
    _check_resource_type(resource_type)
    command = str(params.get("command") or "")
    if command not in ("add", "remove_all"):
        raise CloudinaryError(400, f"Invalid command {command}")
    given = contexts.parse(params.get("context"))
    if command == "add" and not given:
        raise CloudinaryError(400, "Missing required parameter - context")
    ids = params.get("public_ids") or []
    changed = []
    for public_id in ids if isinstance(ids, list) else [ids]:
        asset = emulator.state.get(resource_type, str(params.get("type") or "upload"), str(public_id))
        if asset is None:
            continue
        emulator.actions.set_context(asset, {**asset.context, **given} if command == "add" else {},
                                     notification_url=params.get("notification_url"))
        changed.append(asset.public_id)
    return {"public_ids": changed}
