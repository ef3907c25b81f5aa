"""Upload API routes (`/v1_1/{cloud}/{resource_type}/{action}`): upload, destroy, rename, explicit,
tags — signed like Cloudinary's, never rate limited, counted in `upload_api_calls`."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import httpx
from fastapi import APIRouter, Depends, Request

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
    _check_resource_type(resource_type, allow_auto=True)
    params, file = await read_params(request)
    preset, unsigned = _authorize_upload(emulator, params)
    if file is None or file == "":
        raise CloudinaryError(400, "Missing required parameter - file")
    data, filename = await _file_bytes(emulator, file)
    settings = {**(preset["settings"] if preset else {}), **{k: v for k, v in params.items() if v not in ("", None)}}
    asset, overwritten, existing = emulator.actions.upload(data, filename, resource_type, settings, unsigned=unsigned)
    body = upload_response(emulator, str(request.base_url), asset, overwritten=overwritten, existing=existing)
    if not existing:
        emulator.notifier.emit("upload", {k: v for k, v in body.items() if k != "signature"},
                               notification_url=params.get("notification_url"))
    return body


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
    new = [t for t in str(params.get("tag") or "").split(",") if t]
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
