"""The Cloudinary store: the official `cloudinary` SDK behind the small `AssetStore` interface.

Credentials are passed per call (never through the SDK's global config), so two accounts — or an
account and the local emulator — can live in one process. SDK errors become the project's typed
store errors; transient ones (network, 5xx) are retried with exponential backoff and jitter;
rate limits are surfaced with their reset time, never hammered.
"""

from __future__ import annotations

import io
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, BinaryIO, TypeVar
from urllib.parse import parse_qs, unquote, urlparse

import cloudinary.api
import cloudinary.exceptions
import cloudinary.search
import cloudinary.uploader
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from mediasync.clients.cloudinary_channel import ChannelCalls
from mediasync.clients.cloudinary_errors import map_sdk_error, rate_limit_reset
from mediasync.clients.cloudinary_http import make_room_in_sdk_pools
from mediasync.clients.cloudinary_listing import ListingCalls, parse_time, search_expression, search_term
from mediasync.clients.cloudinary_restore import RestoreCalls
from mediasync.clients.cloudinary_upload import streamed_upload, upload_in_parts
from mediasync.errors import (
    ConfigError,
    StoreError,
    StorePermanentError,
    StoreTransientError,
)
from mediasync.store import (
    MAX_IDS_PER_ADMIN_DELETE,
    AdminAllowance,
    DeleteOutcome,
    StoredAsset,
)

__all__ = ["CloudinaryClient", "CloudinaryCredentials", "map_sdk_error", "rate_limit_reset", "search_expression",
           "search_term"]
log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class CloudinaryCredentials:
    cloud_name: str
    api_key: str
    api_secret: str
    api_base_url: str | None = None  # e.g. the emulator: http://127.0.0.1:9444

    @classmethod
    def from_url(cls, url: str) -> CloudinaryCredentials:
        """`cloudinary://KEY:SECRET@CLOUD?upload_prefix=http://127.0.0.1:9444`."""
        parsed = urlparse(url.strip())
        if parsed.scheme != "cloudinary" or not (parsed.hostname and parsed.username and parsed.password):
            raise ConfigError("CLOUDINARY_URL is malformed: expected cloudinary://API_KEY:API_SECRET@CLOUD_NAME")
        query = parse_qs(parsed.query)
        bases = query.get("upload_prefix") or query.get("api_base_url") or []
        base = bases[0] if bases else None
        return cls(parsed.hostname, unquote(parsed.username), unquote(parsed.password), base)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CloudinaryCredentials:
        """Like the SDK: CLOUDINARY_CLOUD_NAME/_API_KEY/_API_SECRET win over CLOUDINARY_URL."""
        env = os.environ if env is None else env
        if env.get("CLOUDINARY_CLOUD_NAME"):
            missing = [n for n in ("CLOUDINARY_API_KEY", "CLOUDINARY_API_SECRET") if not env.get(n)]
            if missing:
                raise ConfigError(f"CLOUDINARY_CLOUD_NAME is set but {' and '.join(missing)} is not")
            return cls(env["CLOUDINARY_CLOUD_NAME"], env["CLOUDINARY_API_KEY"], env["CLOUDINARY_API_SECRET"],
                       env.get("CLOUDINARY_UPLOAD_PREFIX") or None)
        if env.get("CLOUDINARY_URL"):
            return cls.from_url(env["CLOUDINARY_URL"])
        raise ConfigError("no Cloudinary account configured: set CLOUDINARY_URL (or CLOUDINARY_CLOUD_NAME, "
                          "CLOUDINARY_API_KEY, CLOUDINARY_API_SECRET, or the Airflow connection 'cloudinary_default')")

    def sdk_options(self) -> dict[str, Any]:
        options = {"cloud_name": self.cloud_name, "api_key": self.api_key, "api_secret": self.api_secret}
        if self.api_base_url:
            options["upload_prefix"] = self.api_base_url.rstrip("/")
        return options


def _rate_limit_state(response: Any) -> dict[str, Any]:
    """What the SDK read from the `X-FeatureRateLimit-*` headers, as `ListingPage` fields: calls
    left this hour and when the allowance resets (None where the response did not say)."""
    reset = getattr(response, "rate_limit_reset_at", None)  # a time tuple from email.utils.parsedate
    return {"rate_limit_remaining": getattr(response, "rate_limit_remaining", None),
            "rate_limit_reset_at": datetime(*reset[:6]).replace(tzinfo=timezone.utc) if reset else None}


class CloudinaryClient(ListingCalls, ChannelCalls, RestoreCalls):
    """The `AssetStore` (and `AssetRestorer`, from `cloudinary_restore`) over the cloudinary SDK."""

    def __init__(self, credentials: CloudinaryCredentials, *, retry_attempts: int = 4,
                 retry_initial_wait: float = 0.5, retry_max_wait: float = 10.0, timeout: float = 60.0) -> None:
        self.credentials = credentials
        self.retry_attempts = retry_attempts
        self.retry_initial_wait = retry_initial_wait
        self.retry_max_wait = retry_max_wait
        self.timeout = timeout
        self._allowance: AdminAllowance | None = None
        self._allowance_lock = threading.Lock()
        make_room_in_sdk_pools()  # calls run from several threads at once: keep their connections

    @property
    def admin_allowance(self) -> AdminAllowance | None:
        """What the last Admin API answer (a delete or a listing page) said about the hourly allowance."""
        return self._allowance

    @property
    def account(self) -> str:
        return self.credentials.cloud_name

    def assume_allowance(self, allowance: AdminAllowance) -> None:
        """Start from a figure another process saw; the first answer of this one takes over (the
        lower figure within one window)."""
        with self._allowance_lock:
            if self._allowance is None:
                self._allowance = allowance

    def _remember_allowance(self, response: Any) -> dict[str, Any]:
        state = _rate_limit_state(response)
        remaining, reset_at = state["rate_limit_remaining"], state["rate_limit_reset_at"]
        if remaining is not None:
            with self._allowance_lock:  # answers to overlapping calls arrive in any order: keep the lowest
                previous = self._allowance
                if previous is not None and previous.reset_at == reset_at and previous.remaining is not None:
                    remaining = min(remaining, previous.remaining)
                self._allowance = AdminAllowance(remaining, reset_at, getattr(response, "rate_limit_allowed", None),
                                                 datetime.now(timezone.utc))
        return state

    @classmethod
    def from_env(cls, **kwargs: Any) -> CloudinaryClient:
        return cls(CloudinaryCredentials.from_env(), **kwargs)

    def _options(self) -> dict[str, Any]:
        return {**self.credentials.sdk_options(), "timeout": self.timeout}

    def _call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call the SDK, mapping errors; transient ones are retried, everything else raised at once."""
        retrying = Retrying(stop=stop_after_attempt(self.retry_attempts),
                            wait=wait_exponential_jitter(multiplier=self.retry_initial_wait, max=self.retry_max_wait,
                                                       jitter=self.retry_initial_wait),
                            retry=retry_if_exception_type(StoreTransientError), reraise=True,
                            before_sleep=lambda state: log.warning(
                                "%s failed (%s); retry %d of %d", what,
                                state.outcome.exception() if state.outcome else None, state.attempt_number,
                                self.retry_attempts - 1))
        for attempt in retrying:
            with attempt:
                try:
                    return fn(*args, **kwargs, **self._options())
                except StoreError:
                    raise
                except Exception as exc:
                    raise map_sdk_error(exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    # --- AssetStore ----------------------------------------------------------------------

    def upload(self, file: BinaryIO | bytes, *, upload_preset: str | None = None, folder: str | None = None,
               resource_type: str = "auto", filename: str | None = None, tags: Sequence[str] = (),
               context: Mapping[str, str] | None = None, chunk_size: int | None = None) -> StoredAsset:
        """One upload, streamed from `file`; with `chunk_size`, as a chunked upload in parts of that
        size (what files over Cloudinary's 100 MB single-request limit need)."""
        stream = io.BytesIO(file) if isinstance(file, bytes) else file  # a stream: no copy of ours in memory
        options: dict[str, Any] = {"resource_type": resource_type, "use_filename": True, "unique_filename": True}
        if upload_preset:
            options["upload_preset"] = upload_preset
        if folder:
            options["folder"] = folder
        if tags:
            options["tags"] = list(tags)
        if context:
            options["context"] = dict(context)  # the SDK escapes `=` and `|` inside values
        name = filename or "upload"
        if chunk_size:
            result = upload_in_parts(self._call, stream, name, options, chunk_size)
        else:
            def send(**kw: Any) -> dict[str, Any]:
                stream.seek(0)  # every attempt sends the whole file
                return streamed_upload(stream, name, kw)

            result = self._call("upload", send, **options)
        log.info("uploaded %s (%s, %s bytes%s)", result["public_id"], result.get("resource_type"),
                 result.get("bytes"), ", in parts" if chunk_size else "")
        custom = (result.get("context") or {}).get("custom")
        return StoredAsset(
            public_id=result["public_id"], resource_type=result["resource_type"], type=result.get("type", "upload"),
            format=result.get("format"), bytes=int(result.get("bytes", 0)), width=result.get("width"),
            height=result.get("height"), version=int(result["version"]), etag=result.get("etag"),
            secure_url=result.get("secure_url") or result.get("url"),
            original_filename=result.get("original_filename"),
            folder=result.get("asset_folder") or folder, created_at=parse_time(result.get("created_at")),
            asset_id=result.get("asset_id"), asset_folder=result.get("asset_folder"),
            display_name=result.get("display_name"), context=dict(custom) if isinstance(custom, dict) else None)

    def destroy(self, public_id: str, resource_type: str = "image", type: str = "upload") -> DeleteOutcome:
        """Upload API `destroy` of one asset: not rate-limited, so the queue's fallback when the Admin
        allowance runs low."""
        result = self._call("destroy", cloudinary.uploader.destroy, public_id, resource_type=resource_type,
                            type=type, invalidate=True)
        if result.get("result") == "ok":
            return "deleted"
        if result.get("result") == "not found":
            return "not_found"
        raise StorePermanentError(f"destroy {public_id}: unexpected answer {result!r}")

    def delete_many(self, public_ids: Sequence[str], resource_type: str = "image",
                    type: str = "upload") -> dict[str, DeleteOutcome]:
        """Admin API `delete_resources`, MAX_IDS_PER_ADMIN_DELETE ids a call; `not_found` counts as deleted."""
        outcome: dict[str, DeleteOutcome] = {}
        ids = list(dict.fromkeys(public_ids))
        for start in range(0, len(ids), MAX_IDS_PER_ADMIN_DELETE):
            chunk = ids[start:start + MAX_IDS_PER_ADMIN_DELETE]
            result = self._call("delete_resources", cloudinary.api.delete_resources, chunk,
                                 resource_type=resource_type, type=type, invalidate=True)
            self._remember_allowance(result)
            for public_id, status in result.get("deleted", {}).items():
                outcome[public_id] = "deleted" if status == "deleted" else "not_found"
        log.debug("delete_many %s/%s: %d deleted, %d not found, %d Admin calls, %s left this hour", resource_type,
                  type, sum(v == "deleted" for v in outcome.values()), sum(v == "not_found" for v in outcome.values()),
                  -(-len(ids) // MAX_IDS_PER_ADMIN_DELETE), self._allowance.remaining if self._allowance else "?")
        return outcome

    def ping(self) -> None:
        """One cheap authenticated Admin call; raises a store error when it fails."""
        self._call("ping", cloudinary.api.resources, max_results=1)
