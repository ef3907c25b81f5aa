"""A local server speaking the slice of Cloudinary's REST API that mediasync and the official SDK
use — so the product runs and is tested with no Cloudinary account (as LocalStack does for AWS).

Upload API: `POST /v1_1/{cloud}/{resource_type}/upload|destroy` (signatures checked like Cloudinary).
Admin API (Basic auth, rate limited with X-FeatureRateLimit-* headers and HTTP 420):
`GET/DELETE /v1_1/{cloud}/resources/{resource_type}/{type}`, `GET .../{public_id}`, upload presets.
Delivery: `GET /{cloud}/{resource_type}/{type}/v{version}/{public_id}.{format}` serves the bytes.
Control: `GET/POST /_emulator/control`, `POST /_emulator/reset`, `POST /_emulator/seed`, `GET /_emulator/health`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import logging
import random
import re
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from mediasync.emulator.state import Asset, EmulatorState, decode_cursor
from mediasync.services.content import sniff

log = logging.getLogger(__name__)

RESOURCE_TYPES = ("image", "video", "raw")
MAX_LISTING = 500
MAX_DELETE_IDS = 100
STALE_AFTER = timedelta(hours=1)
NOT_SIGNED = {"file", "api_key", "signature", "resource_type", "cloud_name", "signature_algorithm"}


@dataclass
class Credentials:
    cloud_name: str = "demo"
    api_key: str = "mediasync-key"
    api_secret: str = "mediasync-secret"


@dataclass
class Faults:
    """Changeable at run time through the control endpoint."""

    latency_ms: int = 0
    fail_rate: float = 0.0
    rate_limit: int = 0  # Admin API calls per window; 0 = unlimited
    rate_limit_window_seconds: int = 3600  # Cloudinary's is an hour; tests shorten it


UNLIMITED_ALLOWANCE = 5000  # what the headers report while no rate limit is set: it never runs down


@dataclass
class AdminMeter:
    """Counts Admin API calls in windows (an hour, as Cloudinary's rate limit does)."""

    window_start: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    in_window: int = 0
    total: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def take(self, limit: int, window_seconds: int = 3600) -> tuple[bool, int, datetime]:
        """(allowed, remaining, reset_at) for one more call."""
        with self.lock:
            now = datetime.now(timezone.utc)
            window = timedelta(seconds=window_seconds)
            if now - self.window_start >= window:
                self.window_start, self.in_window = now, 0
            reset_at = self.window_start + window
            allowed = limit <= 0 or self.in_window < limit
            if allowed:
                self.in_window += 1
                self.total += 1
            return allowed, max(0, limit - self.in_window) if limit > 0 else UNLIMITED_ALLOWANCE, reset_at

    def reset(self) -> None:
        with self.lock:
            self.window_start, self.in_window, self.total = datetime.now(timezone.utc), 0, 0


def cloudinary_error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message}}, status_code=status, headers=headers)


def string_to_sign(params: dict[str, Any], escape_ampersand: bool) -> str:
    parts = []
    for key, value in params.items():
        if key in NOT_SIGNED or value in (None, "", []):
            continue
        text = ",".join(value) if isinstance(value, list) else str(value)
        part = f"{key}={text}"
        parts.append(part.replace("&", "%26") if escape_ampersand else part)
    return "&".join(sorted(parts))


def signature_matches(params: dict[str, Any], signature: str, secret: str) -> tuple[bool, str]:
    """Cloudinary accepts SHA-1 (40 hex) or SHA-256 (64 hex) over the sorted params + secret."""
    algorithm = hashlib.sha256 if len(signature) == 64 else hashlib.sha1
    candidates = [string_to_sign(params, True), string_to_sign(params, False)]
    for candidate in candidates:
        if hmac.compare_digest(algorithm((candidate + secret).encode()).hexdigest(), signature):
            return True, candidate
    return False, candidates[0]


def image_size(data: bytes) -> tuple[int | None, int | None]:
    """Width and height from PNG/GIF/JPEG/WebP headers, without decoding the image."""
    try:
        if data.startswith(b"\x89PNG"):
            return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        if data[:6] in (b"GIF87a", b"GIF89a"):
            return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
        if data[:4] == b"RIFF" and data[12:16] == b"VP8X":
            return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
        if data[:4] == b"RIFF" and data[12:16] == b"VP8 ":
            return int.from_bytes(data[26:28], "little") & 0x3FFF, int.from_bytes(data[28:30], "little") & 0x3FFF
        if data.startswith(b"\xff\xd8"):
            i = 2
            while i + 9 < len(data):
                if data[i] != 0xFF:
                    i += 1
                    continue
                marker, length = data[i + 1], int.from_bytes(data[i + 2:i + 4], "big")
                if marker in (0xC0, 0xC1, 0xC2):
                    return int.from_bytes(data[i + 7:i + 9], "big"), int.from_bytes(data[i + 5:i + 7], "big")
                i += 2 + length
    except (IndexError, ValueError):
        pass
    return None, None


_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_\-/.]+")


def _truthy(value: Any) -> bool:
    return str(value).lower() in ("1", "true", "yes")


class Emulator:
    """The app plus its state; one per data dir."""

    def __init__(self, data_dir: Path, credentials: Credentials | None = None, faults: Faults | None = None,
                 public_url: str | None = None) -> None:
        self.state = EmulatorState(data_dir)
        self.public_url = public_url.rstrip("/") if public_url else None  # delivery host browsers can reach
        self.credentials = credentials or Credentials()
        self.faults = faults or Faults()
        self.meter = AdminMeter()
        self.api_requests = 0  # every Upload/Admin API request, faulted ones included
        self.app = self._build_app()

    # --- plumbing ------------------------------------------------------------------------

    async def _delay_and_maybe_fail(self) -> JSONResponse | None:
        self.api_requests += 1
        if self.faults.latency_ms:
            await asyncio.sleep(self.faults.latency_ms / 1000)
        if self.faults.fail_rate and random.random() < self.faults.fail_rate:
            return cloudinary_error(500, "General Error (emulated fault)")
        return None

    def _check_cloud(self, cloud: str) -> JSONResponse | None:
        if cloud != self.credentials.cloud_name:
            return cloudinary_error(401, f"Invalid cloud_name {cloud}")
        return None

    def _admin_gate(self, request: Request, cloud: str) -> tuple[JSONResponse | None, dict]:
        """Basic auth, then the hourly rate limit; returns (error, rate-limit headers)."""
        wrong_cloud = self._check_cloud(cloud)
        if wrong_cloud:
            return wrong_cloud, {}
        auth = request.headers.get("authorization", "")
        try:
            key, _, secret = base64.b64decode(auth.removeprefix("Basic ")).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            key, secret = "", ""
        if not auth.startswith("Basic ") or key != self.credentials.api_key:
            return cloudinary_error(401, f"Unknown API key {key}"), {}
        if not hmac.compare_digest(secret, self.credentials.api_secret):
            return cloudinary_error(401, "Invalid API secret"), {}
        allowed, remaining, reset_at = self.meter.take(self.faults.rate_limit, self.faults.rate_limit_window_seconds)
        reset = format_datetime(reset_at, usegmt=True)
        headers = {"X-FeatureRateLimit-Limit": str(self.faults.rate_limit or UNLIMITED_ALLOWANCE),
                   "X-FeatureRateLimit-Remaining": str(remaining), "X-FeatureRateLimit-Reset": reset}
        if not allowed:
            return cloudinary_error(420, f"Rate Limit Exceeded. Limit of {self.faults.rate_limit} api operations "
                                         f"reached. Try again on {reset}", headers), headers
        return None, headers

    @staticmethod
    async def _params(request: Request) -> tuple[dict[str, Any], Any]:
        """Form or JSON params, with `k[]` fields gathered into lists; returns (params, file)."""
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("application/json"):
            body = await request.json() if (await request.body()) else {}
            params: dict[str, Any] = dict(body)
            params.update({k: v for k, v in request.query_params.items()})
            return params, params.pop("file", None)
        form = await request.form()
        params = {}
        for key in set(form.keys()) | set(request.query_params.keys()):
            values = form.getlist(key) or request.query_params.getlist(key)
            if key.endswith("[]"):
                params[key[:-2]] = [str(v) for v in values]
            else:
                params[key] = values[-1]
        return params, params.pop("file", None)

    def _url(self, request: Request, asset: Asset) -> str:
        base = self.public_url or str(request.base_url).rstrip("/")
        suffix = f".{asset.format}" if asset.format and asset.resource_type != "raw" else ""
        return f"{base}/{self.credentials.cloud_name}/{asset.resource_type}/{asset.type}/v{asset.version}/" \
               f"{asset.public_id}{suffix}"

    def _resource(self, request: Request, asset: Asset) -> dict:
        url = self._url(request, asset)
        return {"asset_id": asset.asset_id, "public_id": asset.public_id, "format": asset.format,
                "version": asset.version, "resource_type": asset.resource_type, "type": asset.type,
                "created_at": asset.created_at, "bytes": asset.bytes, "width": asset.width, "height": asset.height,
                "asset_folder": asset.asset_folder or "", "display_name": asset.public_id.rsplit("/", 1)[-1],
                "url": url, "secure_url": url, "etag": asset.etag, "tags": asset.tags}

    # --- Upload API ----------------------------------------------------------------------

    async def upload(self, request: Request, cloud: str, resource_type: str) -> Response:
        if (fault := await self._delay_and_maybe_fail()) or (fault := self._check_cloud(cloud)):
            return fault
        if resource_type not in (*RESOURCE_TYPES, "auto"):
            return cloudinary_error(400, f"Invalid resource type {resource_type}")
        params, file = await self._params(request)
        preset, refusal = self._authorize_upload(params)
        if refusal:
            return refusal
        if file is None or file == "":
            return cloudinary_error(400, "Missing required parameter - file")
        data, filename = await self._file_bytes(file)
        if data is None:
            return cloudinary_error(400, "Invalid file parameter: only uploads, data URIs and http(s) URLs are supported")
        kind = sniff(data[:64])
        actual_type = kind.resource_type if kind else "raw"
        if resource_type == "auto":
            resource_type = actual_type
        elif resource_type in ("image", "video") and actual_type != resource_type:
            return cloudinary_error(400, f"Invalid {resource_type} file")
        settings = {**(preset["settings"] if preset else {}), **{k: v for k, v in params.items() if v not in ("", None)}}
        public_id = self._public_id(settings, filename, kind.extension if kind else None, resource_type)
        width, height = image_size(data) if resource_type == "image" else (None, None)
        tags = settings.get("tags") or []
        tags = tags if isinstance(tags, list) else [t for t in str(tags).split(",") if t]
        asset = self.state.put(resource_type=resource_type, type=str(settings.get("type", "upload")),
                               public_id=public_id, data=data,
                               format=kind.extension if kind and resource_type != "raw" else None,
                               width=width, height=height, asset_folder=str(settings.get("folder", "")).strip("/"),
                               original_filename=(filename or "file").rsplit(".", 1)[0], tags=tags)
        body = self._resource(request, asset)
        body.update({"version_id": asset.version_id, "signature": secrets.token_hex(20), "pages": 1,
                     "placeholder": False, "original_filename": asset.original_filename,
                     "api_key": self.credentials.api_key})
        return JSONResponse(body)

    def _authorize_upload(self, params: dict[str, Any]) -> tuple[dict | None, JSONResponse | None]:
        preset_name = params.get("upload_preset")
        preset = self.state.preset(str(preset_name)) if preset_name else None
        if preset_name and preset is None:
            return None, cloudinary_error(400, f"Upload preset not found: {preset_name}")
        signature = params.get("signature")
        if not signature:
            if preset and preset["unsigned"]:
                return preset, None
            return None, cloudinary_error(400, "Upload preset must be specified when using unsigned upload" if not preset
                                          else "Upload preset must be whitelisted for unsigned uploads")
        return preset, self._check_signature(params, str(signature))

    def _check_signature(self, params: dict[str, Any], signature: str) -> JSONResponse | None:
        if params.get("api_key") != self.credentials.api_key:
            return cloudinary_error(401, f"Unknown API key {params.get('api_key', '')}")
        ok, signed = signature_matches(params, signature, self.credentials.api_secret)
        if not ok:
            return cloudinary_error(401, f"Invalid Signature {signature}. String to sign - '{signed}'.")
        try:
            stamp = int(params.get("timestamp", ""))
        except ValueError:
            return cloudinary_error(400, "Missing required parameter - timestamp")
        if time.time() - stamp > STALE_AFTER.total_seconds():
            reported = datetime.fromtimestamp(stamp, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
            return cloudinary_error(400, f"Stale request - reported time is {reported} which is more than 1 hour ago")
        return None

    @staticmethod
    async def _file_bytes(file: Any) -> tuple[bytes | None, str | None]:
        if hasattr(file, "read"):
            return await file.read(), getattr(file, "filename", None)
        text = str(file)
        if text.startswith("data:"):
            try:
                return base64.b64decode(text.split(",", 1)[1]), None
            except (IndexError, binascii.Error):
                return None, None
        if text.startswith(("http://", "https://")):
            import httpx

            async with httpx.AsyncClient(timeout=30) as client:
                response = await client.get(text)
            return (response.content, text.rsplit("/", 1)[-1]) if response.status_code == 200 else (None, None)
        return None, None

    @staticmethod
    def _public_id(settings: dict[str, Any], filename: str | None, extension: str | None, resource_type: str) -> str:
        folder = str(settings.get("folder", "")).strip("/")
        if settings.get("public_id"):
            name = str(settings["public_id"])
        elif _truthy(settings.get("use_filename", "0")) and filename:
            stem = _UNSAFE_ID.sub("_", filename.rsplit(".", 1)[0]) or "file"
            unique = settings.get("unique_filename", "1")
            name = stem if not _truthy(unique) else f"{stem}_{secrets.token_hex(3)}"
        else:
            name = "".join(random.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=20))
        if resource_type == "raw" and extension and not name.endswith(f".{extension}"):
            name = f"{name}.{extension}"
        return f"{folder}/{name}" if folder and not name.startswith(f"{folder}/") else name

    async def destroy(self, request: Request, cloud: str, resource_type: str) -> Response:
        if (fault := await self._delay_and_maybe_fail()) or (fault := self._check_cloud(cloud)):
            return fault
        params, _ = await self._params(request)
        if not params.get("signature"):
            return cloudinary_error(401, "Missing required parameter - signature")
        if refusal := self._check_signature(params, str(params["signature"])):
            return refusal
        if not params.get("public_id"):
            return cloudinary_error(400, "Missing required parameter - public_id")
        outcome = self.state.delete(resource_type, str(params.get("type", "upload")), [str(params["public_id"])])
        return JSONResponse({"result": "ok" if outcome[str(params["public_id"])] == "deleted" else "not found"})

    # --- Admin API -----------------------------------------------------------------------

    async def list_resources(self, request: Request, cloud: str, resource_type: str, type: str | None) -> Response:
        if fault := await self._delay_and_maybe_fail():
            return fault
        refusal, headers = self._admin_gate(request, cloud)
        if refusal:
            return refusal
        q = request.query_params
        try:
            max_results = int(q.get("max_results", "10"))
            after = decode_cursor(q["next_cursor"]) if q.get("next_cursor") else None
        except ValueError as exc:
            return cloudinary_error(400, str(exc) if "cursor" in str(exc) else "Invalid max_results", headers)
        if not 1 <= max_results <= MAX_LISTING:
            return cloudinary_error(400, f"max_results must be between 1 and {MAX_LISTING}", headers)
        assets, next_cursor = self.state.list(resource_type, type, q.get("prefix"), after, max_results,
                                              descending=q.get("direction") in ("desc", "-1"))
        listed = [{k: v for k, v in self._resource(request, a).items() if k not in ("etag", "tags")} for a in assets]
        body: dict[str, Any] = {"resources": listed}  # like Cloudinary: listings carry no etag or tags
        if next_cursor:
            body["next_cursor"] = next_cursor
        return JSONResponse(body, headers=headers)

    async def get_resource(self, request: Request, cloud: str, resource_type: str, type: str,
                           public_id: str) -> Response:
        if fault := await self._delay_and_maybe_fail():
            return fault
        refusal, headers = self._admin_gate(request, cloud)
        if refusal:
            return refusal
        asset = self.state.get(resource_type, type, public_id)
        if asset is None:
            return cloudinary_error(404, f"Resource not found - {public_id}", headers)
        return JSONResponse(self._resource(request, asset), headers=headers)

    async def delete_resources(self, request: Request, cloud: str, resource_type: str, type: str) -> Response:
        if fault := await self._delay_and_maybe_fail():
            return fault
        refusal, headers = self._admin_gate(request, cloud)
        if refusal:
            return refusal
        params, _ = await self._params(request)
        ids = params.get("public_ids") or []
        ids = ids if isinstance(ids, list) else [ids]
        if not ids:
            return cloudinary_error(400, "Missing required parameter - public_ids", headers)
        if len(ids) > MAX_DELETE_IDS:
            return cloudinary_error(400, f"Too many public_ids: at most {MAX_DELETE_IDS} per request", headers)
        outcome = self.state.delete(resource_type, type, [str(i) for i in ids])
        counts = {pid: {"original": int(result == "deleted"), "derived": 0} for pid, result in outcome.items()}
        return JSONResponse({"deleted": outcome, "deleted_counts": counts, "partial": False}, headers=headers)

    async def upload_presets(self, request: Request, cloud: str, name: str | None = None) -> Response:
        refusal, headers = self._admin_gate(request, cloud)
        if refusal:
            return refusal
        if request.method == "POST":
            params, _ = await self._params(request)
            preset_name = str(params.pop("name", "") or secrets.token_hex(4))
            unsigned = _truthy(params.pop("unsigned", "0"))
            self.state.save_preset(preset_name, unsigned, params)
            return JSONResponse({"message": "created", "name": preset_name}, headers=headers)
        if name is None:
            return JSONResponse({"presets": self.state.presets()}, headers=headers)
        preset = self.state.preset(name)
        if preset is None:
            return cloudinary_error(404, f"Can't find upload preset named {name}", headers)
        return JSONResponse(preset, headers=headers)

    # --- delivery ------------------------------------------------------------------------

    def deliver(self, cloud: str, resource_type: str, type: str, path: str) -> Response:
        if cloud != self.credentials.cloud_name:
            return Response(status_code=404)
        segments = path.split("/")
        for i, segment in enumerate(segments):  # skip transformations up to the version segment
            if re.fullmatch(r"v\d+", segment):
                segments = segments[i + 1:]
                break
        public_id = "/".join(segments)
        asset = self.state.get(resource_type, type, public_id)
        if asset is None and "." in public_id:
            asset = self.state.get(resource_type, type, public_id.rsplit(".", 1)[0])
        data = self.state.read_bytes(asset) if asset else None
        if data is None:
            return Response(status_code=404, headers={"X-Cld-Error": "Resource not found"})
        kind = sniff(data[:64])
        return Response(data, media_type=kind.mime if kind else "application/octet-stream",
                        headers={"ETag": f'"{asset.etag}"', "Cache-Control": "public, max-age=60"})

    # --- control -------------------------------------------------------------------------

    async def control(self, request: Request) -> Response:
        if request.method == "POST":
            changes = await request.json()
            for key in ("latency_ms", "fail_rate", "rate_limit", "rate_limit_window_seconds"):
                if key in changes:
                    setattr(self.faults, key, type(getattr(self.faults, key))(changes[key]))
            if changes.get("reset_meter"):
                self.meter.reset()
        return JSONResponse({**asdict(self.faults), "admin_calls": self.meter.total, "api_requests": self.api_requests,
                             "admin_calls_in_window": self.meter.in_window, "assets": self.state.count()})

    def reset(self) -> Response:
        self.state.reset()
        self.meter.reset()
        self.api_requests = 0
        self.faults.latency_ms, self.faults.fail_rate, self.faults.rate_limit = 0, 0.0, 0
        self.faults.rate_limit_window_seconds = 3600
        return JSONResponse({"reset": True})

    async def seed(self, request: Request) -> Response:
        body = await request.json()
        count = self.state.seed(int(body.get("count", 0)), str(body.get("prefix", "main-uploads/seed")),
                                str(body.get("resource_type", "image")))
        return JSONResponse({"seeded": count})

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="mediasync Cloudinary emulator", docs_url=None, redoc_url=None)
        app.add_api_route("/_emulator/health", lambda: {"ok": True, "cloud_name": self.credentials.cloud_name},
                          methods=["GET"])
        app.add_api_route("/_emulator/control", self.control, methods=["GET", "POST"])
        app.add_api_route("/_emulator/reset", self.reset, methods=["POST"])
        app.add_api_route("/_emulator/seed", self.seed, methods=["POST"])
        app.add_api_route("/v1_1/{cloud}/upload_presets", self.upload_presets, methods=["GET", "POST"])
        app.add_api_route("/v1_1/{cloud}/upload_presets/{name}", self.upload_presets, methods=["GET"])
        app.add_api_route("/v1_1/{cloud}/resources/{resource_type}", self._list_all_types, methods=["GET"])
        app.add_api_route("/v1_1/{cloud}/resources/{resource_type}/{type}", self._list_one_type, methods=["GET"])
        app.add_api_route("/v1_1/{cloud}/resources/{resource_type}/{type}", self.delete_resources,
                          methods=["DELETE"])
        app.add_api_route("/v1_1/{cloud}/resources/{resource_type}/{type}/{public_id:path}", self.get_resource,
                          methods=["GET"])
        app.add_api_route("/v1_1/{cloud}/{resource_type}/upload", self.upload, methods=["POST"])
        app.add_api_route("/v1_1/{cloud}/{resource_type}/destroy", self.destroy, methods=["POST"])
        app.add_api_route("/{cloud}/{resource_type}/{type}/{path:path}", self.deliver, methods=["GET", "HEAD"])
        return app

    async def _list_all_types(self, request: Request, cloud: str, resource_type: str) -> Response:
        return await self.list_resources(request, cloud, resource_type, None)

    async def _list_one_type(self, request: Request, cloud: str, resource_type: str, type: str) -> Response:
        return await self.list_resources(request, cloud, resource_type, type)


def credentials_from_env() -> Credentials:
    import os

    return Credentials(cloud_name=os.environ.get("MEDIASYNC_EMULATOR_CLOUD", "demo"),
                       api_key=os.environ.get("MEDIASYNC_EMULATOR_API_KEY", "mediasync-key"),
                       api_secret=os.environ.get("MEDIASYNC_EMULATOR_API_SECRET", "mediasync-secret"))


def serve(host: str = "127.0.0.1", port: int = 9444, data_dir: Path = Path(".mediasync/emulator"),
          latency_ms: int = 0, fail_rate: float = 0.0, rate_limit: int = 0) -> None:
    """Run the emulator in the foreground until interrupted."""
    import os

    import uvicorn

    credentials = credentials_from_env()
    emulator = Emulator(Path(data_dir), credentials, Faults(latency_ms, fail_rate, rate_limit),
                        public_url=os.environ.get("MEDIASYNC_EMULATOR_PUBLIC_URL") or None)
    print(f"mediasync emulator on http://{host}:{port} (data in {data_dir})\n"
          f"CLOUDINARY_URL=cloudinary://{credentials.api_key}:{credentials.api_secret}@{credentials.cloud_name}"
          f"?upload_prefix=http://{host}:{port}", flush=True)
    uvicorn.run(emulator.app, host=host, port=port, log_level="warning")
