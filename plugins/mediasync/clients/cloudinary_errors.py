"""Cloudinary's SDK errors as the project's store errors, in one place: what is worth retrying
(network, 5xx), what is a rate limit (with the reset time Cloudinary names), what is a refusal."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import cloudinary.exceptions

from mediasync.errors import StoreAuthError, StoreError, StorePermanentError, StoreRateLimited, StoreTransientError

_TRY_AGAIN = re.compile(r"Try again on (.+?)\.?$")


def rate_limit_reset(message: str) -> datetime | None:
    """The reset time Cloudinary names in a 420 message ("... Try again on <date>")."""
    match = _TRY_AGAIN.search(message)
    if not match:
        return None
    text = match.group(1).strip()
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError):
        pass
    for pattern in ("%Y-%m-%d %H:%M:%S %Z", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    return None


def map_sdk_error(exc: Exception) -> StoreError:
    """One SDK exception → one of the project's store errors."""
    message = str(exc)
    if isinstance(exc, cloudinary.exceptions.RateLimited):
        return StoreRateLimited(message, rate_limit_reset(message))
    if isinstance(exc, (cloudinary.exceptions.AuthorizationRequired, cloudinary.exceptions.NotAllowed)):
        return StoreAuthError(message)
    if isinstance(exc, cloudinary.exceptions.GeneralError):
        return StoreTransientError(message)
    if isinstance(exc, (cloudinary.exceptions.BadRequest, cloudinary.exceptions.NotFound,
                        cloudinary.exceptions.AlreadyExists)):
        if "Invalid Signature" in message or "Unknown API key" in message:
            return StoreAuthError(message)
        return StorePermanentError(message)
    if isinstance(exc, cloudinary.exceptions.Error):  # unmapped status, socket error, unparseable answer
        return StoreTransientError(message)
    if message.startswith("Must supply"):
        return StoreAuthError(f"Cloudinary credentials incomplete: {message}")
    return StoreTransientError(f"{type(exc).__name__}: {message}")
