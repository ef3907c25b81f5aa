"""Admin API routes: every one depends on `admin_gate` (Basic auth + the hourly meter + rate-limit
headers). Listings follow Cloudinary's order: creation time, newest first, without a prefix; by
public_id with one."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from mediasync.emulator.errors import CloudinaryError
from mediasync.emulator.gate import admin_gate, listing_answer, read_params, truthy
from mediasync.emulator.runtime import Emulator
from mediasync.emulator.shapes import resource
from mediasync.emulator.state import Page

router = APIRouter()
MAX_LISTING = 500
MAX_DELETE_IDS = 100
RESOURCE_TYPES = ("image", "video", "raw")


def _max_results(value: Any, default: int = 10) -> int:
    try:
        count = int(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        raise CloudinaryError(400, "Invalid max_results") from None
    if not 1 <= count <= MAX_LISTING:
        raise CloudinaryError(400, f"max_results must be between 1 and {MAX_LISTING}")
    return count


def _newest_first(direction: Any) -> bool:
    return str(direction or "desc").lower() not in ("asc", "1")


def _listing(emulator: Emulator, request: Request, page: Page, gate_response: Response) -> JSONResponse:
    # like Cloudinary's: listings carry no etag or tags
    base_url = str(request.base_url)
    body: dict[str, Any] = {"resources": [resource(emulator, base_url, a) for a in page.assets]}
    if page.next_cursor:
        body["next_cursor"] = page.next_cursor
    return listing_answer(body, gate_response)


def _required_ids(params: dict[str, Any], name: str) -> list[str]:
    """The `name` list of a request, refused as Cloudinary refuses it when missing or too long."""
    ids = _ids(params.get(name))
    if not ids:
        raise CloudinaryError(400, f"Missing required parameter - {name}")
    if len(ids) > MAX_DELETE_IDS:
        raise CloudinaryError(400, f"Too many {name}: at most {MAX_DELETE_IDS} per request")
    return ids


def _ids(value: Any) -> list[str]:
    if value in (None, "", []):
        return []
    return [str(v) for v in value] if isinstance(value, list) else [s for s in str(value).split(",") if s]


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


@router.get("/v1_1/{cloud}/resources/by_asset_folder")
async def by_asset_folder(request: Request, response: Response,
                          emulator: Emulator = Depends(admin_gate)) -> JSONResponse:
    q = request.query_params
    if not q.get("asset_folder") and "asset_folder" not in q:
        raise CloudinaryError(400, "Missing required parameter - asset_folder")
    page = emulator.state.list_by_asset_folder(str(q.get("asset_folder", "")).strip("/"), q.get("next_cursor"),
                                               _max_results(q.get("max_results")), _newest_first(q.get("direction")))
    return _listing(emulator, request, page, response)


@router.get("/v1_1/{cloud}/resources/by_asset_ids")
async def by_asset_ids(request: Request, emulator: Emulator = Depends(admin_gate)) -> dict:
    params, _ = await read_params(request)
    ids = _required_ids(params, "asset_ids")
    assets = emulator.state.by_asset_ids(ids)
    return {"resources": [resource(emulator, str(request.base_url), a, detail=truthy(params.get("tags", "0")))
                          for a in assets]}


@router.delete("/v1_1/{cloud}/resources")
async def delete_by_asset_ids(request: Request, emulator: Emulator = Depends(admin_gate)) -> dict:
    params, _ = await read_params(request)
    ids = _required_ids(params, "asset_ids")
    outcome = emulator.actions.delete_by_asset_ids(ids, notification_url=params.get("notification_url"))
    counts = {aid: {"original": int(r == "deleted"), "derived": 0} for aid, r in outcome.items()}
    return {"deleted": outcome, "deleted_counts": counts, "partial": False}


@router.get("/v1_1/{cloud}/resources/{resource_type}")
async def list_all_types(request: Request, response: Response, resource_type: str,
                         emulator: Emulator = Depends(admin_gate)) -> JSONResponse:
    return _list(emulator, request, response, resource_type, None)


@router.get("/v1_1/{cloud}/resources/{resource_type}/{type}")
async def list_one_type(request: Request, response: Response, resource_type: str, type: str,
                        emulator: Emulator = Depends(admin_gate)) -> JSONResponse:
    return _list(emulator, request, response, resource_type, type)


def _list(emulator: Emulator, request: Request, gate_response: Response, resource_type: str,
          type: str | None) -> JSONResponse:
    q = request.query_params
    if resource_type not in RESOURCE_TYPES:
        raise CloudinaryError(400, f"Invalid resource type {resource_type}")
    limit, cursor = _max_results(q.get("max_results")), q.get("next_cursor") or None
    if q.get("prefix"):
        page = emulator.state.list_by_public_id(resource_type, type, q["prefix"], cursor, limit,
                                                descending=str(q.get("direction", "")).lower() in ("desc", "-1"))
    else:
        page = emulator.state.list_by_creation(resource_type, type, cursor, limit, _newest_first(q.get("direction")))
    return _listing(emulator, request, page, gate_response)


@router.get("/v1_1/{cloud}/resources/{resource_type}/{type}/{public_id:path}")
async def get_resource(request: Request, resource_type: str, type: str, public_id: str,
                       emulator: Emulator = Depends(admin_gate)) -> dict:
    asset = emulator.state.get(resource_type, type, public_id, placeholders=True)  # a deleted, backed-up one too
    if asset is None:
        raise CloudinaryError(404, f"Resource not found - {public_id}")
    return resource(emulator, str(request.base_url), asset, detail=True)


@router.post("/v1_1/{cloud}/resources/{resource_type}/{type}/{public_id:path}")
async def update_resource(request: Request, resource_type: str, type: str, public_id: str,
                          emulator: Emulator = Depends(admin_gate)) -> dict:
    """`api.update`: asset_folder (a move), display_name, tags (comma-separated)."""
    params, _ = await read_params(request)
    asset = emulator.state.get(resource_type, type, public_id)
    if asset is None:
        raise CloudinaryError(404, f"Resource not found - {public_id}")
    tags = [t for t in str(params["tags"]).split(",") if t] if "tags" in params else None
    asset = emulator.actions.update(asset, asset_folder=params.get("asset_folder"),
                                    display_name=params.get("display_name"), tags=tags,
                                    notification_url=params.get("notification_url"))
    return resource(emulator, str(request.base_url), asset, detail=True)


@router.delete("/v1_1/{cloud}/resources/{resource_type}/{type}")
async def delete_resources(request: Request, resource_type: str, type: str,
                           emulator: Emulator = Depends(admin_gate)) -> dict:
    params, _ = await read_params(request)
    ids = _required_ids(params, "public_ids")
    outcome = emulator.actions.delete(resource_type, type, ids, notification_url=params.get("notification_url"))
    counts = {pid: {"original": int(result == "deleted"), "derived": 0} for pid, result in outcome.items()}
    return {"deleted": outcome, "deleted_counts": counts, "partial": False}


@router.get("/v1_1/{cloud}/upload_presets")
async def upload_presets(emulator: Emulator = Depends(admin_gate)) -> dict:
    return {"presets": emulator.state.presets()}


@router.post("/v1_1/{cloud}/upload_presets")
async def create_upload_preset(request: Request, emulator: Emulator = Depends(admin_gate)) -> dict:
    params, _ = await read_params(request)
    name = str(params.pop("name", "") or "").strip()
    if not name:
        import secrets

        name = secrets.token_hex(4)
    unsigned = truthy(params.pop("unsigned", "0"))
    emulator.state.save_preset(name, unsigned, {k: v for k, v in params.items() if v not in (None, "")})
    return {"message": "created", "name": name}


@router.get("/v1_1/{cloud}/upload_presets/{name}")
async def upload_preset(name: str, emulator: Emulator = Depends(admin_gate)) -> dict:
    preset = emulator.state.preset(name)
    if preset is None:
        raise CloudinaryError(404, f"Can't find upload preset named {name}")
    return preset
