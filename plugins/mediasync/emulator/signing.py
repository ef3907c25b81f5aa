"""Cloudinary's signature rules, in one place: request signatures (Upload API), the response
signature of an upload, and notification signatures. All are plain SHA-1/SHA-256 hex digests of
a string plus the API secret — not HMACs — exactly as the SDK computes them."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from mediasync.emulator.errors import CloudinaryError

# Sent but never signed (cloudinary/utils.py sign_request, uploader._NON_SIGNABLE_NOTIFICATION_PARAMS
# for the tags/context calls; the docs list file, cloud_name, resource_type and api_key).
NOT_SIGNED = {"file", "api_key", "signature", "resource_type", "cloud_name", "signature_algorithm"}
STALE_AFTER_SECONDS = 3600
ALGORITHMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256}


def string_to_sign(params: Mapping[str, Any], escape_ampersand: bool, skip: set[str] | None = None) -> str:
    """Sorted `k=v` pairs joined with `&`; lists joined with commas; empty values dropped.
    Signature version 2 (the SDK's default) escapes `&` inside values as `%26`."""
    parts = []
    for key, value in params.items():
        if key in NOT_SIGNED or (skip and key in skip) or value in (None, "", []):
            continue
        text = ",".join(str(v) for v in value) if isinstance(value, list) else str(value)
        part = f"{key}={text}"
        parts.append(part.replace("&", "%26") if escape_ampersand else part)
    return "&".join(sorted(parts))


def digest(text: str | bytes, algorithm: str = "sha1") -> str:
    data = text.encode() if isinstance(text, str) else text
    return ALGORITHMS[algorithm](data).hexdigest()


def signature_matches(params: Mapping[str, Any], signature: str, secret: str,
                      skip: set[str] | None = None) -> tuple[bool, str]:
    """Cloudinary accepts SHA-1 (40 hex) or SHA-256 (64 hex); it tells them apart by length.
    Both signature versions (with and without `&` escaping) are accepted."""
    algorithm = "sha256" if len(signature) == 64 else "sha1"
    candidates = [string_to_sign(params, True, skip), string_to_sign(params, False, skip)]
    for candidate in candidates:
        if hmac.compare_digest(digest(candidate + secret, algorithm), signature):
            return True, candidate
    return False, candidates[0]


def check_signed_request(params: Mapping[str, Any], api_key: str, secret: str,
                         skip: set[str] | None = None) -> None:
    """Raise Cloudinary's error for an unsigned, wrongly signed or stale Upload API request."""
    signature = str(params.get("signature") or "")
    if not signature:
        raise CloudinaryError(400, "Missing required parameter - signature")
    if params.get("api_key") != api_key:
        raise CloudinaryError(401, f"Unknown API key {params.get('api_key', '')}")
    ok, signed = signature_matches(params, signature, secret, skip)
    if not ok:
        raise CloudinaryError(401, f"Invalid Signature {signature}. String to sign - '{signed}'.")
    try:
        stamp = int(str(params.get("timestamp", "")))
    except ValueError:
        raise CloudinaryError(400, "Missing required parameter - timestamp") from None
    if time.time() - stamp > STALE_AFTER_SECONDS:
        reported = datetime.fromtimestamp(stamp, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        raise CloudinaryError(400, f"Stale request - reported time is {reported} which is more than 1 hour ago")


def response_signature(public_id: str, version: int, secret: str, algorithm: str = "sha1") -> str:
    """The `signature` of an upload response: `public_id=…&version=…` + secret, signature version 1
    (no `&` escaping) — what `cloudinary.utils.verify_api_response_signature` recomputes."""
    return digest(f"public_id={public_id}&version={version}{secret}", algorithm)


def notification_signature(body: bytes, timestamp: int | str, secret: str, algorithm: str = "sha1") -> str:
    """`X-Cld-Signature`: hex digest of raw body + `X-Cld-Timestamp` + API secret
    (`cloudinary.utils.verify_notification_signature`)."""
    return digest(body + str(timestamp).encode() + secret.encode(), algorithm)
