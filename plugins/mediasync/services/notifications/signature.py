"""Cloudinary's notification signature, checked exactly as Cloudinary signs.

`X-Cld-Signature` is the hex SHA-1 (SHA-256 where the account is configured so) of the raw body
bytes + `X-Cld-Timestamp` + the API secret — a plain hash, not an HMAC (the SDK's
`utils.verify_notification_signature`). It is checked over the exact bytes received (never a
re-serialisation), in constant time, and only inside a time window (the SDK's `valid_for`,
2 h by default), so a captured notification cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

from mediasync.config import SignatureAlgorithm
from mediasync.errors import InvalidInput

_DIGESTS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256}
FUTURE_SKEW_SECONDS = 300  # clocks differ; a timestamp further ahead than this is not Cloudinary's


class RejectedNotification(InvalidInput):
    """The notification is not Cloudinary's, or not any more: nothing was stored or changed."""


def sign(body: bytes, timestamp: int | str, secret: str, algorithm: SignatureAlgorithm = "sha1") -> str:
    """The signature Cloudinary sends for `body` at `timestamp`."""
    return _DIGESTS[algorithm](body + str(timestamp).encode() + secret.encode()).hexdigest()


@dataclass(frozen=True)
class SignatureVerifier:
    secret: str
    algorithm: SignatureAlgorithm = "sha1"
    max_age_seconds: int = 7200

    def verify(self, body: bytes, timestamp: str | None, signature: str | None, now: float | None = None) -> int:
        """The signed unix time of a genuine, fresh notification; raises `RejectedNotification`."""
        if not timestamp or not signature:
            raise RejectedNotification("missing X-Cld-Timestamp or X-Cld-Signature header", 400)
        try:
            signed_at = int(timestamp.strip())
        except ValueError:
            raise RejectedNotification("X-Cld-Timestamp is not a unix timestamp", 400) from None
        expected = sign(body, timestamp.strip(), self.secret, self.algorithm)
        # compare_digest runs in time independent of where the strings differ; a wrong length (a
        # SHA-256 signature where SHA-1 is configured, or the reverse) fails the same way.
        if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode()):
            raise RejectedNotification(f"invalid notification signature (expected {self.algorithm.upper()} of "
                                       f"body + timestamp + API secret)", 401)
        now = time.time() if now is None else now
        if signed_at < now - self.max_age_seconds or signed_at > now + FUTURE_SKEW_SECONDS:
            raise RejectedNotification(f"notification timestamp {signed_at} is outside the accepted window "
                                       f"({self.max_age_seconds} s)", 401)
        return signed_at
