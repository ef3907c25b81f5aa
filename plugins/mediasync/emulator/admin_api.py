"""Admin API resource routes: every one depends on `admin_gate` (Basic auth + the hourly meter +
rate-limit headers), so each SDK call counts once against the allowance, as on Cloudinary.

Listings follow Cloudinary's order: creation time, newest first, without a prefix; by public_id
with one. Route order matters: fixed segments (`by_asset_folder`, `tags/{tag}`, `context`) come
before the `{type}` and `{public_id}` patterns they would otherwise match."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from mediasync.emulator import context as contexts
from mediasync.emulator.admin_common import (
    MAX_BULK_DELETE,
    RESOURCE_TYPES,
    check_resource_type,
    deleted_answer,
    known_delivery_type,
    listing_options,
    max_results,
    newest_first,
    render,
    required_ids,
)
from mediasync.emulator.errors import CloudinaryError
from mediasync.emulator.gate import admin_gate, listing_answer, read_params, truthy
from mediasync.emulator.listings import decode_cursor, encode_cursor
from mediasync.emulator.runtime import Emulator
from mediasync.emulator.shapes import listed, resource

router = APIRouter()
TYPED = [Depends(known_delivery_type)]  # routes with a `{type}` segment


@router.get("/v1_1/{cloud}/resources/by_asset_folder")
async def by_asset_folder(request: Request, response: Response,
                          emulator: Emulator = Depends(admin_gate)) -> JSONResponse:
    q = request.query_params
    if "asset_folder" not in q:
        raise CloudinaryError(400, "Missing required parameter - asset_folder")
    page = emulator.state.list_by_asset_folder(str(q["asset_folder"]).strip("/"), q.get("next_cursor"),
                                               max_results(q.get("max_results")), newest_first(q.get("direction")))
    return render(emulator, request, page, response, listing_options(q))


@router.get("/v1_1/{cloud}/resources/by_asset_ids")
async def by_asset_ids(request: Request, response: Response, emulator: Emulator = Depends(admin_gate)) -> JSONResponse:
    params, _ = await read_params(request)
    assets = emulator.state.by_asset_ids(required_ids(params, "asset_ids"))
    base_url, options = str(request.base_url), listing_options(params)
    return listing_answer({"resources": [listed(emulator, base_url, a, options) for a in assets]}, response)


@router.delete("/v1_1/{cloud}/resources")
async def delete_by_asset_ids(request: Request, emulator: Emulator = Depends(admin_gate)) -> dict:
    params, _ = await read_params(request)
    ids = required_ids(params, "asset_ids")
    if truthy(params.get("keep_original", "false")):
        return deleted_answer(dict.fromkeys(ids, "deleted"), originals_kept=True)
    return deleted_answer(emulator.actions.delete_by_asset_ids(ids, notification_url=params.get("notification_url")))


@router.get("/v1_1/{cloud}/resources/{resource_type}/tags/{tag:path}")
async def by_tag(request: Request, response: Response, resource_type: str, tag: str,
                 emulator: Emulator = Depends(admin_gate)) -> JSONResponse:
    check_resource_type(resource_type)
    q = request.query_params
    page = emulator.state.list_by_tag(resource_type, tag, q.get("type") or None, q.get("next_cursor") or None,
                                      max_results(q.get("max_results")), newest_first(q.get("direction")))
    return render(emulator, request, page, response, listing_options(q))


@router.delete("/v1_1/{cloud}/resources/{resource_type}/tags/{tag:path}")
async def delete_by_tag(request: Request, resource_type: str, tag: str,
                        emulator: Emulator = Depends(admin_gate)) -> dict:
    check_resource_type(resource_type)
    params, _ = await read_params(request)
    return _bulk_delete(emulator, params, resource_type, None, tag=tag)


@router.get("/v1_1/{cloud}/resources/{resource_type}/context")
async def by_context(request: Request, response: Response, resource_type: str,
                     emulator: Emulator = Depends(admin_gate)) -> JSONResponse:
    check_resource_type(resource_type)
    q = request.query_params
    if not q.get("key"):
        raise CloudinaryError(400, "Missing required parameter - key")
    page = emulator.state.list_by_context(resource_type, q["key"], q.get("value"), q.get("type") or None,
                                          q.get("next_cursor") or None, max_results(q.get("max_results")),
                                          newest_first(q.get("direction")))
    return render(emulator, request, page, response, listing_options(q))


@router.get("/v1_1/{cloud}/resources/{resource_type_or_asset_id}")
async def list_all_types_or_by_asset_id(request: Request, response: Response, resource_type_or_asset_id: str,
                                        emulator: Emulator = Depends(admin_gate)) -> Any:
    """`resources/{resource_type}` lists every delivery type; any other segment is an asset id
    (`api.resource_by_asset_id`)."""
    if resource_type_or_asset_id in RESOURCE_TYPES:
        return _list(emulator, request, response, resource_type_or_asset_id, None)
    found = emulator.state.by_asset_ids([resource_type_or_asset_id])
    if not found:
        raise CloudinaryError(404, f"Resource not found - {resource_type_or_asset_id}")
    return resource(emulator, str(request.base_url), found[0], detail=True)


@router.get("/v1_1/{cloud}/resources/{resource_type}/{type}", dependencies=TYPED)
async def list_one_type(request: Request, response: Response, resource_type: str, type: str,
                        emulator: Emulator = Depends(admin_gate)) -> JSONResponse:
    """A listing, or with `public_ids` exactly those assets (`api.resources_by_ids`)."""
    params, _ = await read_params(request)
    if "public_ids" in params:
        check_resource_type(resource_type)
        assets = emulator.state.by_public_ids(resource_type, type, required_ids(params, "public_ids"))
        base_url, options = str(request.base_url), listing_options(params)
        return listing_answer({"resources": [listed(emulator, base_url, a, options) for a in assets]}, response)
    return _list(emulator, request, response, resource_type, type)


def _list(emulator: Emulator, request: Request, gate_response: Response, resource_type: str,
          type: str | None) -> JSONResponse:
    q = request.query_params
    check_resource_type(resource_type)
    limit, cursor = max_results(q.get("max_results")), q.get("next_cursor") or None
    if q.get("prefix"):
        page = emulator.state.list_by_public_id(resource_type, type, q["prefix"], cursor, limit,
                                                descending=str(q.get("direction", "")).lower() in ("desc", "-1"))
    else:
        page = emulator.state.list_by_creation(resource_type, type, cursor, limit, newest_first(q.get("direction")))
    return render(emulator, request, page, gate_response, listing_options(q))


@router.get("/v1_1/{cloud}/resources/{resource_type}/{type}/{public_id:path}", dependencies=TYPED)
async def get_resource(request: Request, resource_type: str, type: str, public_id: str,
                       emulator: Emulator = Depends(admin_gate)) -> dict:
    asset = emulator.state.get(resource_type, type, public_id, placeholders=True)  # a deleted, backed-up one too
    if asset is None:
        raise CloudinaryError(404, f"Resource not found - {public_id}")
    return resource(emulator, str(request.base_url), asset, detail=True)


@router.post("/v1_1/{cloud}/resources/{resource_type}/{type}/{public_id:path}", dependencies=TYPED)
async def update_resource(request: Request, resource_type: str, type: str, public_id: str,
                          emulator: Emulator = Depends(admin_gate)) -> dict:
    """`api.update`: asset_folder (a move), display_name, tags (comma-separated), context (added)."""
    params, _ = await read_params(request)
    asset = emulator.state.get(resource_type, type, public_id)
    if asset is None:
        raise CloudinaryError(404, f"Resource not found - {public_id}")
    tags = [t for t in str(params["tags"]).split(",") if t] if "tags" in params else None
    asset = emulator.actions.update(asset, asset_folder=params.get("asset_folder"),
                                    display_name=params.get("display_name"), tags=tags,
                                    context=contexts.parse(params.get("context")),
                                    notification_url=params.get("notification_url"))
    return resource(emulator, str(request.base_url), asset, detail=True)


@router.delete("/v1_1/{cloud}/resources/{resource_type}/{type}", dependencies=TYPED)
async def delete_resources(request: Request, resource_type: str, type: str,
                           emulator: Emulator = Depends(admin_gate)) -> dict:
    """`delete_resources` (≤ 100 public_ids), `delete_resources_by_prefix`, `delete_all_resources`
    (≤ 1000 a call: `partial` with a `next_cursor` until done)."""
    check_resource_type(resource_type)
    params, _ = await read_params(request)
    if "public_ids" in params:
        ids = required_ids(params, "public_ids")
        if truthy(params.get("keep_original", "false")):
            return deleted_answer(dict.fromkeys(ids, "deleted"), originals_kept=True)
        return deleted_answer(emulator.actions.delete(resource_type, type, ids,
                                                      notification_url=params.get("notification_url")))
    if params.get("prefix"):
        return _bulk_delete(emulator, params, resource_type, type, prefix=str(params["prefix"]))
    if truthy(params.get("all", "false")):
        return _bulk_delete(emulator, params, resource_type, type)
    raise CloudinaryError(400, "Missing required parameter - public_ids, prefix or all")


def _bulk_delete(emulator: Emulator, params: dict[str, Any], resource_type: str, type: str | None, *,
                 prefix: str | None = None, tag: str | None = None) -> dict:
    after = str(decode_cursor(str(params["next_cursor"]), "bulk")[0]) if params.get("next_cursor") else None
    if truthy(params.get("keep_original", "false")):
        kept = emulator.state.matching(resource_type, type, prefix=prefix, tag=tag, after=after,
                                       limit=MAX_BULK_DELETE)
        return deleted_answer({a.public_id: "deleted" for a in kept}, originals_kept=True)
    outcome, last = emulator.actions.delete_matching(resource_type, type, prefix=prefix, tag=tag, after=after,
                                                     limit=MAX_BULK_DELETE,
                                                     notification_url=params.get("notification_url"))
    return deleted_answer(outcome, encode_cursor("bulk", [last]) if last else None)
