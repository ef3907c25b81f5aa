"""The emulator's own control API (`/_emulator/*`): faults and settings at run time, reset, seed,
deletion counters, the notification log, and console-style actions "by someone else".

Guarded: when a control token is configured (required off loopback) every route but `health`
wants it as `Authorization: Bearer …` or `X-Emulator-Token`; POSTs must be `application/json`
(a browser's cross-origin `text/plain` form post is refused); bad input is a 4xx, never a 500."""

from __future__ import annotations

import base64
import binascii
import hmac
import io
import json
from dataclasses import asdict, dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from PIL import Image

from mediasync.emulator.errors import CloudinaryError, ControlError
from mediasync.emulator.gate import emulator_of
from mediasync.emulator.runtime import Emulator
from mediasync.emulator.shapes import upload_response

router = APIRouter()
FAULT_KEYS = {"latency_ms": int, "fail_rate": float, "rate_limit": int, "rate_limit_window_seconds": int}


async def control_guard(request: Request) -> Emulator:
    emulator = emulator_of(request)
    token = emulator.settings.control_token
    if token:
        given = request.headers.get("x-emulator-token") or ""
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise ControlError(401, "control API token required (Authorization: Bearer … or X-Emulator-Token)")
    return emulator


async def json_body(request: Request) -> dict[str, Any]:
    """The JSON object a control POST must carry (an empty body is `{}`)."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise ControlError(415, "control calls take Content-Type: application/json")
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ControlError(400, "malformed JSON body") from None
    if not isinstance(body, dict):
        raise ControlError(422, "the JSON body must be an object")
    return body


def _status(emulator: Emulator) -> dict[str, Any]:
    return {**asdict(emulator.faults), "admin_calls": emulator.meter.total,
            "admin_calls_in_window": emulator.meter.in_window, "upload_api_calls": emulator.counters.upload_api_calls,
            "notification_api_calls": emulator.counters.notification_api_calls,
            "api_requests": emulator.counters.api_requests, "first_request_at": emulator.counters.first_request_at,
            "assets": emulator.state.count(),
            "placeholders": emulator.backups.placeholders(), "backups": emulator.settings.backups,
            "folder_mode": emulator.settings.folder_mode,
            "webhook_retry_delays": list(emulator.settings.webhook_retry_delays),
            "notification_signature_algorithm": emulator.settings.notification_signature_algorithm}


@router.get("/_emulator/health")
def health(request: Request) -> dict:
    emulator = emulator_of(request)
    return {"ok": True, "cloud_name": emulator.credentials.cloud_name, "folder_mode": emulator.settings.folder_mode}


@router.get("/_emulator/control")
def settings(emulator: Emulator = Depends(control_guard)) -> dict:
    return _status(emulator)


@router.post("/_emulator/control")
async def change(request: Request, emulator: Emulator = Depends(control_guard)) -> dict:
    changes = await json_body(request)
    try:
        updates = {key: kind(changes[key]) for key, kind in FAULT_KEYS.items() if key in changes}
        delays = tuple(float(d) for d in changes["webhook_retry_delays"]) if "webhook_retry_delays" in changes \
            else None
    except (TypeError, ValueError):
        raise ControlError(422, "fault values must be numbers (webhook_retry_delays a list of seconds)") from None
    if any(v < 0 for v in updates.values()) or updates.get("fail_rate", 0) > 1 or (delays and min(delays) < 0):
        raise ControlError(422, "fault values must be ≥ 0 and fail_rate ≤ 1")
    mode = changes.get("folder_mode")
    if mode is not None and mode not in ("fixed", "dynamic"):
        raise ControlError(422, "folder_mode must be fixed or dynamic")
    algorithm = changes.get("notification_signature_algorithm")
    if algorithm is not None and algorithm not in ("sha1", "sha256"):
        raise ControlError(422, "notification_signature_algorithm must be sha1 or sha256")
    backups = changes.get("backups")
    if backups is not None and not isinstance(backups, bool):
        raise ControlError(422, "backups must be true or false")
    for key, value in updates.items():
        setattr(emulator.faults, key, value)
    if delays is not None:
        emulator.settings.webhook_retry_delays = delays
    if mode:
        emulator.settings.folder_mode = mode
    if algorithm:
        emulator.settings.notification_signature_algorithm = algorithm
    if backups is not None:
        emulator.settings.backups = backups
    if changes.get("reset_meter"):
        emulator.meter.reset()
        emulator.counters.first_request_at = None
    return _status(emulator)


@router.post("/_emulator/reset")
async def reset(request: Request, emulator: Emulator = Depends(control_guard)) -> dict:
    await json_body(request)
    emulator.reset()
    return {"reset": True}


@router.post("/_emulator/seed")
async def seed(request: Request, emulator: Emulator = Depends(control_guard)) -> dict:
    body = await json_body(request)
    try:
        count = int(body.get("count", 0))
        age_seconds = int(body.get("age_seconds", 0))
        spread_seconds = int(body.get("spread_seconds", 0))
    except (TypeError, ValueError):
        raise ControlError(422, "count, age_seconds and spread_seconds must be integers") from None
    resource_type = str(body.get("resource_type", "image"))
    if (count < 0 or count > 5_000_000 or resource_type not in ("image", "video", "raw")
            or min(age_seconds, spread_seconds) < 0):
        raise ControlError(422, "count must be 0..5000000, age_seconds and spread_seconds not negative and "
                                "resource_type image, video or raw")
    seeded = emulator.state.seed(count, str(body.get("prefix", "main-uploads/seed")), resource_type,
                                 folder_mode=emulator.settings.folder_mode, age_seconds=age_seconds,
                                 spread_seconds=spread_seconds)
    return {"seeded": seeded}


@router.get("/_emulator/deletions")
def deletions(emulator: Emulator = Depends(control_guard)) -> dict:
    return emulator.actions.deletions.report()


@router.get("/_emulator/admin-calls")
def admin_calls(emulator: Emulator = Depends(control_guard)) -> dict:
    """The Admin API calls the meter counted since the last reset (the latest 2000): method and path."""
    with emulator.meter.lock:
        return {"total": emulator.meter.total, "calls": list(emulator.meter.calls)}


@router.get("/_emulator/notifications")
def notifications(emulator: Emulator = Depends(control_guard)) -> dict:
    """The notifications emitted since the last reset (the latest 1000), with each delivery's attempts."""
    return {"notifications": list(emulator.notifier.sent), "pending_deliveries": emulator.notifier.pending_deliveries(),
            "poll_backlog": emulator.notifier.backlog()}


def _tiny_image(seed: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (2, 2), ((seed * 37) % 256, (seed * 11) % 256, (seed * 5) % 256)).save(out, "PNG")
    return out.getvalue()


def _text(body: dict[str, Any], name: str, required: bool = True) -> str:
    """A string field of a control body; '' when optional and absent."""
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise ControlError(422, f"{name} is required for this action")
        return ""
    if not isinstance(value, str):
        raise ControlError(422, f"{name} must be a string")
    return value


@router.post("/_emulator/console")
async def console(request: Request, emulator: Emulator = Depends(control_guard)) -> dict:
    """Change assets as someone else would in the Cloudinary console: the same store changes and the
    same notifications (`triggered_by.source = "ui"`) as the API calls. Actions: upload, delete,
    rename, move (an asset's asset_folder, or a whole folder with from_path/to_path), retag,
    display_name, context (the asset's whole contextual metadata: an object of strings)."""
    body = await json_body(request)
    action = body.get("action")
    if action not in _CONSOLE_ACTIONS:
        raise ControlError(422, f"action must be one of {', '.join(_CONSOLE_ACTIONS)}")
    where = _Where(str(body.get("resource_type") or "image"), str(body.get("type") or "upload"),
                   str(request.base_url))
    try:
        return {"action": action, **_CONSOLE_ACTIONS[action](emulator, body, where)}
    except CloudinaryError as exc:
        raise ControlError(exc.status if exc.status in (404, 409) else 422, exc.message) from None


@dataclass(frozen=True)
class _Where:
    resource_type: str
    type: str
    base_url: str


def _console_upload(emulator: Emulator, body: dict[str, Any], where: _Where) -> dict[str, Any]:
    data = _tiny_image(emulator.state.count() + 1)
    if body.get("file_base64"):
        try:
            data = base64.b64decode(str(body["file_base64"]), validate=True)
        except (binascii.Error, ValueError):
            raise ControlError(422, "file_base64 is not base64") from None
    settings: dict[str, Any] = {k: body[k] for k in ("public_id", "folder", "asset_folder", "display_name", "tags",
                                     "use_filename", "unique_filename", "overwrite", "context") if k in body}
    asset, overwritten, _ = emulator.actions.upload(data, _text(body, "filename", False) or "console.png",
                                                    where.resource_type if "resource_type" in body else "auto",
                                                    settings, source="ui")
    result = upload_response(emulator, where.base_url, asset, overwritten=overwritten)
    emulator.notifier.emit("upload", {k: v for k, v in result.items() if k != "signature"}, source="ui")
    return {"resource": result}


def _console_delete(emulator: Emulator, body: dict[str, Any], where: _Where) -> dict[str, Any]:
    ids = body.get("public_ids") or ([body["public_id"]] if body.get("public_id") else [])
    if not ids or not all(isinstance(i, str) for i in ids):
        raise ControlError(422, "public_id or public_ids (strings) required")
    return {"deleted": emulator.actions.delete(where.resource_type, where.type, ids, source="ui")}


def _console_rename(emulator: Emulator, body: dict[str, Any], where: _Where) -> dict[str, Any]:
    asset = emulator.actions.rename(where.resource_type, where.type, _text(body, "from_public_id"),
                                    _text(body, "to_public_id"), overwrite=bool(body.get("overwrite")), source="ui")
    return {"asset_id": asset.asset_id, "public_id": asset.public_id}


def _console_change(emulator: Emulator, body: dict[str, Any], where: _Where) -> dict[str, Any]:
    """move (one asset's asset_folder, or a whole folder with from_path/to_path), retag, display_name."""
    action = body["action"]
    if action == "move" and body.get("from_path") is not None:
        return {"moved": emulator.actions.move_folder(_text(body, "from_path"), _text(body, "to_path"), source="ui")}
    public_id = _text(body, "public_id")
    asset = emulator.state.get(where.resource_type, where.type, public_id or "")
    if asset is None:
        raise ControlError(404, f"no {where.resource_type}/{where.type} asset {public_id}")
    if action == "move":
        folder = body.get("asset_folder", body.get("to_asset_folder"))
        if not isinstance(folder, str):
            raise ControlError(422, "asset_folder (string) required")
        asset = emulator.actions.update(asset, asset_folder=folder, source="ui")
    elif action == "retag":
        tags = body.get("tags")
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise ControlError(422, "tags must be a list of strings")
        asset = emulator.actions.set_tags(asset, tags, source="ui")
    elif action == "context":
        context = body.get("context") or {}
        if not isinstance(context, dict) or not all(isinstance(k, str) and isinstance(v, str) and k
                                                    for k, v in context.items()):
            raise ControlError(422, "context must be an object of non-empty keys and string values")
        asset = emulator.actions.set_context(asset, context, source="ui")
    else:
        asset = emulator.actions.update(asset, display_name=_text(body, "display_name"), source="ui")
    return {"asset_id": asset.asset_id, "public_id": asset.public_id, "asset_folder": asset.asset_folder,
            "display_name": asset.display_name, "tags": asset.tags, "context": asset.context}


_CONSOLE_ACTIONS = {"upload": _console_upload, "delete": _console_delete, "rename": _console_rename,
                    "move": _console_change, "retag": _console_change, "display_name": _console_change,
                    "context": _console_change}
