"""Pure logic, no I/O: upload validation, retry policy, settings."""

from __future__ import annotations

import random

import pytest

from fixtures.media import tiny_png
from mediasync.config import Settings
from mediasync.errors import ConfigError, InvalidInput
from mediasync.services.content import clean_tags, require_media, safe_filename, safe_folder, sniff
from mediasync.services.retry import RetryPolicy

# An EBML header whose DocType is "webm", as every WebM file starts.
WEBM_HEAD = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x84webm"


@pytest.mark.parametrize(("head", "mime", "resource_type"), [
    (tiny_png(1), "image/png", "image"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg", "image"),
    (b"GIF89a\x01\x00", "image/gif", "image"),
    (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp", "image"),
    (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + b"\x00" * 16, "video/mp4", "video"),
    (b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  " + b"\x00" * 24, "video/quicktime", "video"),
    (WEBM_HEAD, "video/webm", "video"),
    (b"%PDF-1.7\n", "application/pdf", "image"),
])
def test_sniff_recognises_media_by_content(head, mime, resource_type):
    kind = sniff(head)
    assert kind is not None and (kind.mime, kind.resource_type) == (mime, resource_type)


@pytest.mark.parametrize("head", [b"<html><script>", b"MZ\x90\x00", b"#!/bin/sh\n", b"PK\x03\x04",
                                  b"\x00\x00\x00\x14ftypXXXX" + b"\x00" * 24,  # an ftyp box is not an MP4 by itself
                                  b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska"])
def test_sniff_refuses_everything_else(head):
    assert sniff(head) is None
    with pytest.raises(InvalidInput) as refused:
        require_media(head, len(head), 100)
    assert refused.value.status_code == 415


def test_size_limits():
    with pytest.raises(InvalidInput) as empty:
        require_media(b"", 0, 10)
    with pytest.raises(InvalidInput) as big:
        require_media(tiny_png(1), 11, 10)
    assert (empty.value.status_code, big.value.status_code) == (400, 413)


@pytest.mark.parametrize(("name", "ext", "expected"), [
    ("../../etc/passwd", "png", "passwd.png"),
    ("C:\\Users\\me\\Holiday Photo!.JPG", "jpg", "Holiday-Photo.jpg"),
    ("café menu.png", "png", "cafe-menu.png"),
    ("evil.php.png", "png", "evil.php.png"),
    ("script.exe", "png", "script.png"),
    ("", "gif", "upload.gif"),
    (None, "mp4", "upload.mp4"),
    ("....", "png", "upload.png"),
    ("x" * 300 + ".png", "png", "x" * 90 + ".png"),
])
def test_safe_filename(name, ext, expected):
    assert safe_filename(name, ext) == expected


@pytest.mark.parametrize("folder", ["../etc", "a b", "main-uploads/../../x", "/", "a//b", "ü"])
def test_unsafe_folders_are_refused(folder):
    with pytest.raises(InvalidInput):
        safe_folder(folder)


def test_safe_folder_and_tags():
    assert safe_folder("/main-uploads/menus/") == "main-uploads/menus"
    assert clean_tags([" hero ", "hero", "", "menu"]) == ["hero", "menu"]
    with pytest.raises(InvalidInput):
        clean_tags(["a,b"])


def test_retry_policy_grows_exponentially_with_bounded_jitter():
    policy = RetryPolicy(base_seconds=10, factor=2, max_seconds=100, jitter=0.2, rng=random.Random(7))
    for attempt, raw in [(1, 10), (2, 20), (3, 40), (4, 80), (5, 100), (9, 100)]:
        delays = [policy.delay(attempt) for _ in range(200)]
        assert all(raw * 0.8 <= d <= raw * 1.2 for d in delays)
        assert len({round(d, 6) for d in delays}) > 100  # actually jittered
    assert RetryPolicy(base_seconds=0).delay(3) == 0


def test_settings_defaults_and_validation():
    assert Settings.from_env({}) == Settings()
    s = Settings.from_env({"MEDIASYNC_CLEANUP_BATCH_SIZE": "50", "MEDIASYNC_MAX_ATTEMPTS": "5",
                           "NEXT_PUBLIC_SUPABASE_URL": "https://x.supabase.co"})
    assert (s.cleanup_batch_size, s.max_attempts, s.supabase_url) == (50, 5, "https://x.supabase.co")
    with pytest.raises(ConfigError, match="MEDIASYNC_CLEANUP_BATCH_SIZE='500' is out of range"):
        Settings.from_env({"MEDIASYNC_CLEANUP_BATCH_SIZE": "500"})
    with pytest.raises(ConfigError, match="MEDIASYNC_RECONCILE_MAX_DELETE_FRACTION='lots' is malformed"):
        Settings.from_env({"MEDIASYNC_RECONCILE_MAX_DELETE_FRACTION": "lots"})
    assert Settings.from_env({"MEDIASYNC_RECONCILE_ADMIN_API_RESERVE": "0"}).reconcile_admin_api_reserve == 0
    with pytest.raises(ConfigError, match="MEDIASYNC_RECONCILE_ADMIN_API_RESERVE='-1' is out of range"):
        Settings.from_env({"MEDIASYNC_RECONCILE_ADMIN_API_RESERVE": "-1"})


def test_airflow_postgres_connections_become_libpq_uris():
    from types import SimpleNamespace

    from mediasync.db.dsn import dsn_from_airflow_connection as _dsn_from_connection

    def conn(**fields):
        base = {"login": "app", "password": "p@ss", "host": None, "port": None, "schema": "media", "extra_dejson": {}}
        return SimpleNamespace(**{**base, **fields})

    assert _dsn_from_connection(conn(host="db.example.com", port=6543, extra_dejson={"sslmode": "require"})) == \
        "postgresql://app:p%40ss@db.example.com:6543/media?sslmode=require"
    assert _dsn_from_connection(conn(host="/run/pg", port=5433)) == "postgresql://app:p%40ss@/media?host=/run/pg&port=5433"
    # `postgresql://app@/media?host=/run/pg&port=5433` as Airflow parses it: socket and port in the extras
    assert _dsn_from_connection(conn(password=None, extra_dejson={"host": "/run/pg", "port": "5433"})) == \
        "postgresql://app@/media?host=/run/pg&port=5433"
