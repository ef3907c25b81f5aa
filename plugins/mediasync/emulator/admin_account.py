"""Admin API routes about the account rather than one asset: ping, config, usage, resource types,
tags, upload presets. Each is metered by `admin_gate`, as every Admin API call is on Cloudinary."""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter, Depends, Request

from mediasync.emulator.admin_common import check_resource_type, max_results
from mediasync.emulator.errors import CloudinaryError
from mediasync.emulator.gate import admin_gate, read_params, truthy
from mediasync.emulator.listings import decode_cursor, encode_cursor
from mediasync.emulator.presets import preset_settings
from mediasync.emulator.runtime import Emulator

router = APIRouter()
_USAGE_DATE = re.compile(r"^(\d{2})-(\d{2})-(\d{4})$")  # dd-mm-yyyy, as utils.encode_date_to_usage_api_format


@router.get("/v1_1/{cloud}/ping")
async def ping(emulator: Emulator = Depends(admin_gate)) -> dict:
    return {"status": "ok"}


@router.get("/v1_1/{cloud}/config")
async def config(request: Request, cloud: str, emulator: Emulator = Depends(admin_gate)) -> dict:
    """The product environment's config (`api.config(settings=True)`): with `settings`, its folder mode."""
    body: dict[str, Any] = {"cloud_name": cloud, "created_at": emulator.created_at}
    if truthy(request.query_params.get("settings", "false")):
        body["settings"] = {"folder_mode": emulator.settings.folder_mode}
    return body


@router.get("/v1_1/{cloud}/resources")
async def resource_types(emulator: Emulator = Depends(admin_gate)) -> dict:
    """`api.resource_types`: the resource types the account holds assets of."""
    return {"resource_types": emulator.state.resource_types()}


@router.get("/v1_1/{cloud}/tags/{resource_type}")
async def tags(request: Request, resource_type: str, emulator: Emulator = Depends(admin_gate)) -> dict:
    """`api.tags`: the tags of one resource type in name order (`prefix`, `max_results`, `next_cursor`)."""
    check_resource_type(resource_type)
    q = request.query_params
    after = str(decode_cursor(q["next_cursor"], "tags")[0]) if q.get("next_cursor") else None
    names, more = emulator.state.tags(resource_type, q.get("prefix") or "", after, max_results(q.get("max_results")))
    body: dict[str, Any] = {"tags": names}
    if more and names:
        body["next_cursor"] = encode_cursor("tags", [names[-1]])
    return body


def _usage_day(date: str | None) -> datetime:
    if date is None:
        return datetime.now(timezone.utc)
    match = _USAGE_DATE.match(date)
    try:
        if not match:
            raise ValueError(date)
        return datetime(int(match[3]), int(match[2]), int(match[1]), tzinfo=timezone.utc)
    except ValueError:
        raise CloudinaryError(400, f"Invalid date {date}: expected dd-mm-yyyy") from None


@router.get("/v1_1/{cloud}/usage")
@router.get("/v1_1/{cloud}/usage/{date}")
async def usage(date: str | None = None, emulator: Emulator = Depends(admin_gate)) -> dict:
    """`api.usage([date])`: the keys Cloudinary answers (the Node SDK's test names them). Objects,
    storage and resources are the store's; bandwidth is what delivery URLs served since reset;
    requests counts the API requests since reset. No transformations are made here."""
    day = _usage_day(date)
    assets, stored = emulator.state.totals()
    limit = emulator.settings.max_asset_bytes
    return {"plan": "Emulator", "last_updated": day.strftime("%Y-%m-%d"),
            "transformations": {"usage": 0, "credits_usage": 0.0},
            "objects": {"usage": assets}, "bandwidth": {"usage": emulator.counters.delivered_bytes,
                                                        "credits_usage": 0.0},
            "storage": {"usage": stored, "credits_usage": 0.0}, "requests": emulator.counters.api_requests,
            "resources": assets, "derived_resources": 0,
            "media_limits": {"image_max_size_bytes": limit, "video_max_size_bytes": limit,
                             "raw_max_size_bytes": limit, "image_max_px": emulator.settings.max_image_pixels,
                             "asset_max_total_px": emulator.settings.max_image_pixels}}


# --- upload presets -----------------------------------------------------------------------

@router.get("/v1_1/{cloud}/upload_presets")
async def upload_presets(request: Request, emulator: Emulator = Depends(admin_gate)) -> dict:
    q = request.query_params
    after = str(decode_cursor(q["next_cursor"], "presets")[0]) if q.get("next_cursor") else None
    presets, more = emulator.state.presets(after, max_results(q.get("max_results")))
    body: dict[str, Any] = {"presets": presets}
    if more and presets:
        body["next_cursor"] = encode_cursor("presets", [presets[-1]["name"]])
    return body


@router.post("/v1_1/{cloud}/upload_presets")
async def create_upload_preset(request: Request, emulator: Emulator = Depends(admin_gate)) -> dict:
    params, _ = await read_params(request)
    name = str(params.get("name") or "").strip() or secrets.token_hex(4)
    if emulator.state.preset(name) is not None:
        raise CloudinaryError(409, f"Upload preset {name} already exists")
    emulator.state.save_preset(name, truthy(params.get("unsigned", "0")), preset_settings(params))
    return {"message": "created", "name": name}


@router.get("/v1_1/{cloud}/upload_presets/{name}")
async def upload_preset(name: str, emulator: Emulator = Depends(admin_gate)) -> dict:
    preset = emulator.state.preset(name)
    if preset is None:
        raise CloudinaryError(404, f"Can't find upload preset named {name}")
    return preset


@router.put("/v1_1/{cloud}/upload_presets/{name}")
async def update_upload_preset(request: Request, name: str, emulator: Emulator = Depends(admin_gate)) -> dict:
    """The settings given are set, the others kept; `unsigned` changes only when given."""
    params, _ = await read_params(request)
    unsigned = truthy(params["unsigned"]) if params.get("unsigned") not in (None, "") else None
    if not emulator.state.update_preset(name, unsigned, preset_settings(params)):
        raise CloudinaryError(404, f"Can't find upload preset named {name}")
    return {"message": "updated"}


@router.delete("/v1_1/{cloud}/upload_presets/{name}")
async def delete_upload_preset(name: str, emulator: Emulator = Depends(admin_gate)) -> dict:
    if not emulator.state.delete_preset(name):
        raise CloudinaryError(404, f"Can't find upload preset named {name}")
    return {"message": "deleted"}
