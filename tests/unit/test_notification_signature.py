"""Notification signatures exactly as Cloudinary signs (the SDK's verify_notification_signature)."""

from __future__ import annotations

import hashlib

import cloudinary
import cloudinary.utils
import pytest

from mediasync.config import Settings
from mediasync.errors import ConfigError
from mediasync.services.notifications import RejectedNotification, SignatureVerifier, sign

BODY = b'{"notification_type":"delete","resources":[]}'
SECRET = "abcd"
NOW = 1_700_000_000


def test_the_signature_is_a_plain_hash_of_body_timestamp_and_secret():
    assert sign(BODY, NOW, SECRET) == hashlib.sha1(BODY + b"1700000000abcd").hexdigest()
    assert sign(BODY, NOW, SECRET, "sha256") == hashlib.sha256(BODY + b"1700000000abcd").hexdigest()


@pytest.mark.parametrize("algorithm", ["sha1", "sha256"])
def test_what_the_sdk_accepts_we_accept(algorithm):
    import time

    now = int(time.time())
    signature = sign(BODY, now, SECRET, algorithm)
    config = cloudinary.config()
    before = (config.api_secret, config.signature_algorithm)
    cloudinary.config(api_secret=SECRET, signature_algorithm=algorithm)
    try:
        assert cloudinary.utils.verify_notification_signature(BODY.decode(), str(now), signature)
    finally:  # the SDK's global config is shared by the whole test session
        cloudinary.config(api_secret=before[0], signature_algorithm=before[1])
    assert SignatureVerifier(SECRET, algorithm).verify(BODY, str(now), signature) == now


@pytest.mark.parametrize(("timestamp", "signature", "status"), [
    (str(NOW), sign(BODY, NOW, "other"), 401),                  # forged: wrong secret
    (str(NOW), sign(BODY, NOW, SECRET, "sha256"), 401),         # wrong algorithm
    (str(NOW - 7201), sign(BODY, NOW - 7201, SECRET), 401),     # stale (outside the 2 h window)
    (str(NOW + 3600), sign(BODY, NOW + 3600, SECRET), 401),     # from the future
    (str(NOW + 1), sign(BODY, NOW, SECRET), 401),               # timestamp swapped after signing
    ("yesterday", sign(BODY, NOW, SECRET), 400),
    (None, sign(BODY, NOW, SECRET), 400),
    (str(NOW), None, 400),
])
def test_rejections(timestamp, signature, status):
    with pytest.raises(RejectedNotification) as caught:
        SignatureVerifier(SECRET).verify(BODY, timestamp, signature, now=NOW)
    assert caught.value.status_code == status


def test_the_window_is_configurable_and_the_body_must_be_exact():
    verifier = SignatureVerifier(SECRET, max_age_seconds=60)
    assert verifier.verify(BODY, str(NOW - 59), sign(BODY, NOW - 59, SECRET), now=NOW) == NOW - 59
    with pytest.raises(RejectedNotification):
        verifier.verify(BODY, str(NOW - 61), sign(BODY, NOW - 61, SECRET), now=NOW)
    with pytest.raises(RejectedNotification):
        verifier.verify(BODY + b" ", str(NOW), sign(BODY, NOW, SECRET), now=NOW)
    assert verifier.verify(BODY, str(NOW), sign(BODY, NOW, SECRET).upper(), now=NOW) == NOW


def test_settings():
    settings = Settings.from_env({"MEDIASYNC_NOTIFICATION_SIGNATURE_ALGORITHM": "SHA-256",
                                  "MEDIASYNC_NOTIFICATION_MAX_AGE_SECONDS": "600",
                                  "MEDIASYNC_NOTIFICATION_CHANNEL": "media"})
    assert (settings.notification_signature_algorithm, settings.notification_max_age_seconds,
            settings.notification_channel) == ("sha256", 600, "media")
    assert Settings.from_env({}).notification_signature_algorithm == "sha1"
    with pytest.raises(ConfigError, match="MEDIASYNC_NOTIFICATION_SIGNATURE_ALGORITHM"):
        Settings.from_env({"MEDIASYNC_NOTIFICATION_SIGNATURE_ALGORITHM": "md5"})
