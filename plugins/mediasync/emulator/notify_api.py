"""Notification routes as the SDK (≥ 1.46) calls them: the Admin API `triggers` endpoints
(`api.create_trigger/triggers/update_trigger/delete_trigger`, metered) and the v2 notifications
module's poll channel (`api.notifications`, `api.ack_notifications`)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Depends, Request

from mediasync.emulator.errors import CloudinaryError
from mediasync.emulator.gate import admin_gate, notifications_gate, read_params
from mediasync.emulator.notifications import trigger_list_body
from mediasync.emulator.runtime import Emulator

router = APIRouter()
MAX_ACK = 100


@router.get("/v1_1/{cloud}/triggers")
async def list_triggers(request: Request, emulator: Emulator = Depends(admin_gate)) -> dict:
    return trigger_list_body(emulator.notifier.triggers(request.query_params.get("event_type") or None))


@router.post("/v1_1/{cloud}/triggers")
async def create_trigger(request: Request, emulator: Emulator = Depends(admin_gate)) -> dict:
    params, _ = await read_params(request)
    for name in ("uri", "event_type"):
        if not params.get(name):
            raise CloudinaryError(400, f"Missing required parameter - {name}")
    return emulator.notifier.create_trigger(str(params["uri"]), str(params["event_type"]),
                                            str(params["uri_type"]) if params.get("uri_type") else None)


@router.put("/v1_1/{cloud}/triggers/{trigger_id}")
async def update_trigger(request: Request, trigger_id: str, emulator: Emulator = Depends(admin_gate)) -> dict:
    params, _ = await read_params(request)
    if not params.get("new_uri"):
        raise CloudinaryError(400, "Missing required parameter - new_uri")
    emulator.notifier.update_trigger(trigger_id, str(params["new_uri"]))
    return {"message": "ok"}


@router.delete("/v1_1/{cloud}/triggers/{trigger_id}")
async def delete_trigger(trigger_id: str, emulator: Emulator = Depends(admin_gate)) -> dict:
    emulator.notifier.delete_trigger(trigger_id)
    return {"message": "ok"}


def _bounded(params: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(params[name]) if params.get(name) not in (None, "") else default
    except (TypeError, ValueError):
        raise CloudinaryError(400, f"Invalid {name}") from None
    if not low <= value <= high:
        raise CloudinaryError(400, f"{name} must be between {low} and {high}")
    return value


@router.get("/v2/notifications/{cloud}/messages")
async def receive(request: Request, emulator: Emulator = Depends(notifications_gate)) -> dict:
    """Long-poll one channel: answers as soon as messages are claimed, or empty after wait_seconds
    (then without a `messages` key, as the SDK documents)."""
    params, _ = await read_params(request)
    channel = params.get("channel") or (f"batch:{params['batch_id']}" if params.get("batch_id") else None)
    if not channel or (params.get("channel") and params.get("batch_id")):
        raise CloudinaryError(400, "Supply exactly one of channel or batch_id")
    max_messages = _bounded(params, "max_messages", 10, 1, 100)
    wait_seconds = _bounded(params, "wait_seconds", 20, 0, 60)
    visibility = _bounded(params, "visibility_timeout", 30, 1, 600)
    deadline = time.monotonic() + wait_seconds
    while True:
        messages = emulator.notifier.receive(str(channel), max_messages, visibility)
        if messages:
            return {"messages": messages}
        if time.monotonic() >= deadline:
            return {}
        await asyncio.sleep(min(0.1, max(0.0, deadline - time.monotonic())))


@router.post("/v2/notifications/{cloud}/messages/ack")
async def ack(request: Request, emulator: Emulator = Depends(notifications_gate)) -> dict:
    params, _ = await read_params(request)
    handles = params.get("receipt_handles") or []
    handles = handles if isinstance(handles, list) else [handles]
    if not handles:
        raise CloudinaryError(400, "Missing required parameter - receipt_handles")
    if len(handles) > MAX_ACK:
        raise CloudinaryError(400, f"Too many receipt_handles: at most {MAX_ACK} per request")
    return {"acknowledged": emulator.notifier.ack([str(h) for h in handles])}
