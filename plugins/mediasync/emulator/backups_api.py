"""Admin API restore routes (`api.restore`, `api.restore_by_asset_ids`): metered like every Admin
call, ≤ 100 ids a request, answered per id — the restored resource, or `{"error": "no_backup"}`
for an id with nothing to restore (unknown, or never backed up).

Registered before the Admin API router: `POST resources/{rt}/{type}/restore` would otherwise be
taken for `api.update` of an asset named "restore". A restore sends no notification: Cloudinary's
trigger events name none for it (`restore_asset_version` is the Media Library's restoring of an
earlier version of an asset).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from mediasync.emulator.backups import NO_BACKUP
from mediasync.emulator.errors import CloudinaryError
from mediasync.emulator.gate import admin_gate, read_params
from mediasync.emulator.runtime import Emulator
from mediasync.emulator.shapes import resource
from mediasync.emulator.state import Asset

router = APIRouter()
MAX_RESTORE_IDS = 100
RESOURCE_TYPES = ("image", "video", "raw")


def _as_list(value: Any) -> list[str]:
    if value in (None, "", []):
        return []
    return [str(v) for v in value] if isinstance(value, list) else [s for s in str(value).split(",") if s]


def _ids_and_versions(params: dict[str, Any], name: str) -> list[tuple[str, str | None]]:
    """The ids to restore (each once, in order) with the version asked for each, refused as
    Cloudinary refuses them: missing, more than 100, or versions that do not pair with them."""
    ids = _as_list(params.get(name))
    if not ids:
        raise CloudinaryError(400, f"Missing required parameter - {name}")
    if len(ids) > MAX_RESTORE_IDS:
        raise CloudinaryError(400, f"Too many {name}: at most {MAX_RESTORE_IDS} per request")
    versions: list[str | None] = list(_as_list(params.get("versions")))
    if versions and len(versions) != len(ids):
        raise CloudinaryError(400, f"versions must list one version per entry of {name}")
    wanted: dict[str, str | None] = {}
    for asset, version in zip(ids, versions or [None] * len(ids), strict=True):
        wanted.setdefault(asset, version)
    return list(wanted.items())


def _restore(emulator: Emulator, base_url: str, asset: Asset | None, version: str | None) -> dict[str, Any]:
    restored = emulator.backups.restore(asset, version) if asset is not None else None
    if restored is None:
        return {"error": NO_BACKUP}
    return resource(emulator, base_url, restored, detail=True)


@router.post("/v1_1/{cloud}/resources/restore")
async def restore_by_asset_ids(request: Request, emulator: Emulator = Depends(admin_gate)) -> dict:
    params, _ = await read_params(request)
    wanted = _ids_and_versions(params, "asset_ids")
    base_url = str(request.base_url)
    with emulator.state.lock:
        found = {a.asset_id: a for a in emulator.state.by_asset_ids([i for i, _ in wanted], placeholders=True)}
        return {asset_id: _restore(emulator, base_url, found.get(asset_id), version) for asset_id, version in wanted}


@router.post("/v1_1/{cloud}/resources/{resource_type}/{type}/restore")
async def restore(request: Request, resource_type: str, type: str, emulator: Emulator = Depends(admin_gate)) -> dict:
    if resource_type not in RESOURCE_TYPES:
        raise CloudinaryError(400, f"Invalid resource type {resource_type}")
    params, _ = await read_params(request)
    wanted = _ids_and_versions(params, "public_ids")
    base_url = str(request.base_url)
    with emulator.state.lock:
        return {public_id: _restore(emulator, base_url,
                                    emulator.state.get(resource_type, type, public_id, placeholders=True), version)
                for public_id, version in wanted}
