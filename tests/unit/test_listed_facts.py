"""A listing answer's resource becomes the facts the snapshot keeps, each under its own name:
`listed_asset` builds them positionally (for speed), so every field is checked against a resource
whose values all differ."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import get_type_hints

from mediasync.clients.cloudinary_listing import listed_asset, parse_time
from mediasync.repository.reconciliation import ASSET_COLUMNS
from mediasync.store import ListedFacts, StoredAsset

RESOURCE = {"public_id": "main-uploads/cat", "resource_type": "video", "type": "upload", "format": "mp4",
            "bytes": 2048, "version": 1712345678, "etag": "etag-1", "status": "active",
            "secure_url": "https://res.cloudinary.com/demo/video/upload/v1712345678/main-uploads/cat.mp4",
            "width": 640, "height": 480, "created_at": "2024-04-05T12:34:56Z", "asset_id": "asset-1",
            "asset_folder": "main-uploads", "display_name": "cat", "url": "http://example.invalid/cat.mp4"}


def test_each_fact_is_the_resource_field_of_its_name():
    facts = listed_asset(RESOURCE, "image", "private")
    expected = {name: RESOURCE[name] for name in ListedFacts._fields if name not in ("created_at", "placeholder")}
    assert {k: v for k, v in facts._asdict().items() if k in expected} == expected
    assert facts.created_at == datetime(2024, 4, 5, 12, 34, 56, tzinfo=timezone.utc)
    assert facts.placeholder is False


def test_missing_fields_take_the_listing_defaults_and_a_deleted_resource_is_a_placeholder():
    facts = listed_asset({"public_id": "main-uploads/gone", "status": "deleted", "bytes": 0}, "raw", "upload")
    assert facts == ListedFacts("main-uploads/gone", "raw", "upload", None, 0, 0, None, None, None, None, None,
                                None, None, None, True)
    assert listed_asset({"public_id": "p", "placeholder": True}, "image", "upload").placeholder is True


def test_a_listed_fact_is_the_stored_asset_field_of_the_same_name_and_type():
    """Two shapes of one asset's facts: `StoredAsset` for one answer (an upload, a notification),
    `ListedFacts` for the million rows of a listing; the media row and the snapshot columns that
    hold them use the same names, so the names and types must agree."""
    stored = get_type_hints(StoredAsset)
    assert {name: stored.get(name) for name in ASSET_COLUMNS} == get_type_hints(ListedFacts)


def test_cloudinary_times_are_utc_with_or_without_the_z():
    for written in ("2024-04-05T12:34:56Z", "2024-04-05T12:34:56", "2024-04-05T12:34:56+00:00"):
        assert parse_time(written) == datetime(2024, 4, 5, 12, 34, 56, tzinfo=timezone.utc), written
    assert parse_time("2024-04-05T14:34:56+02:00") == datetime(2024, 4, 5, 12, 34, 56, tzinfo=timezone.utc)
    assert parse_time(None) is parse_time("") is parse_time("yesterday") is None
