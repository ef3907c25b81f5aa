"""Incremental reconciliation (real PostgreSQL, the SDK against the emulator, both folder modes):
between full listings a run lists, through the Search API, only what was uploaded since the last
complete run — a few Admin API calls — and the cadence goes back to a full listing on time or
when drift got past the notifications."""

from __future__ import annotations

import pytest

from fixtures.emulator import seeded_public_id
from fixtures.media import tiny_png
from mediasync.errors import InvalidInput

HISTORY = 40  # assets uploaded three days ago, each with its row


@pytest.fixture
def library(services, emulator, conn) -> list[str]:
    """An account with history, known to a clean full run."""
    mode = emulator.folder_mode
    emulator.seed(HISTORY, prefix="main-uploads/old", age_seconds=3 * 86400)
    ids = [seeded_public_id(mode, "main-uploads/old", i) for i in range(HISTORY)]
    conn.cursor().executemany(
        "INSERT INTO media_files (public_id, folder, asset_folder, format, bytes, created_at) "
        "VALUES (%s, 'main-uploads', 'main-uploads', 'png', 1, now() - interval '3 days')", [(p,) for p in ids])
    first = services.reconciler.run(apply=True, grace_minutes=0)  # copies Cloudinary's facts onto the rows
    assert (first.kind, first.counts["metadata_mismatch"], first.counts["updated_rows"]) == ("full", HISTORY, HISTORY)
    clean = services.reconciler.run(grace_minutes=0)
    assert (clean.status, clean.kind, clean.counts["metadata_mismatch"]) == ("completed", "full", 0)
    return ids


def test_between_full_listings_the_nightly_run_lists_only_new_uploads(services, cloudinary_store, emulator,
                                                                      library):
    kept = services.media.upload(tiny_png(1), "new.png")  # row and asset, both new
    orphan = cloudinary_store.upload(tiny_png(2), folder="main-uploads", resource_type="image",
                                     filename="by-another-tool.png").public_id  # no row, no notification
    cloudinary_store.upload(tiny_png(3), folder="other-app", resource_type="image", filename="theirs.png")
    calls = emulator.admin_calls()

    result = services.reconciler.run(kind="auto", grace_minutes=0)

    assert (result.status, result.kind, result.listing_complete) == ("completed", "incremental", True)
    assert "no drift the notifications missed" in result.kind_reason and result.listed_since is not None
    assert result.assets_listed == 2  # the two new uploads of the managed folder; the 40 old ones not listed
    assert result.counts["orphan_asset"] == 1 and result.counts["missing_asset"] == 0
    assert emulator.admin_calls() - calls == 3  # one search per resource type, not a page per 500 assets
    assert orphan != kept.public_id


def test_drift_found_by_an_incremental_run_sends_the_next_one_to_a_full_listing(services, cloudinary_store, emulator,
                                                                                 conn, library):
    gone = library[7]
    emulator.console("delete", public_ids=[gone])  # deleted in the console; the notification never arrived
    cloudinary_store.upload(tiny_png(4), folder="main-uploads", resource_type="image", filename="stray.png")

    incremental = services.reconciler.run(kind="auto", grace_minutes=0)
    assert incremental.kind == "incremental" and incremental.counts["missing_asset"] == 0  # cannot see it
    assert incremental.counts["orphan_asset"] == 1

    full = services.reconciler.run(kind="auto", grace_minutes=0)
    assert full.kind == "full" and "notifications let drift through" in full.kind_reason
    assert full.assets_listed == HISTORY - 1 + 1 and full.counts["missing_asset"] == 1
    missing = conn.execute("SELECT public_id FROM mediasync.reconciliation_items WHERE run_id = %s AND kind = "
                           "'missing_asset'", (full.run_id,)).fetchone()
    assert missing["public_id"] == gone
    kinds = conn.execute("SELECT kind, listed_since IS NOT NULL AS windowed FROM mediasync.reconciliation_runs "
                         "WHERE id IN (%s, %s) ORDER BY id", (incremental.run_id, full.run_id)).fetchall()
    assert [(r["kind"], r["windowed"]) for r in kinds] == [("incremental", True), ("full", False)]


def test_a_week_after_the_last_full_listing_the_nightly_run_is_full(services, conn, library):
    conn.execute("UPDATE mediasync.reconciliation_runs SET started_at = started_at - interval '8 days' "
                 "WHERE kind = 'full'")
    result = services.reconciler.run(kind="auto", grace_minutes=0)
    assert result.kind == "full" and "a full listing every 7.0 days" in result.kind_reason
    assert result.assets_listed == HISTORY


def test_an_incremental_run_judges_missing_assets_only_among_rows_of_its_window(services, conn, library):
    conn.execute("INSERT INTO media_files (public_id, folder, asset_folder, format, bytes, created_at) VALUES "
                 "('main-uploads/lost-today', 'main-uploads', 'main-uploads', 'png', 1, now()), "
                 "('main-uploads/judged-before', 'main-uploads', 'main-uploads', 'png', 1, now() - interval '1 day')")
    result = services.reconciler.run(kind="incremental", grace_minutes=0)
    assert result.kind == "incremental" and result.assets_listed == 0
    # the row created since the last complete run had its upload inside the window: its asset is missing;
    # the older one is the full listing's to judge (an incremental run never saw its asset's upload)
    assert result.counts["missing_asset"] == 1


def test_incremental_needs_a_complete_full_listing_first(services):
    with pytest.raises(InvalidInput, match="run kind=full"):
        services.reconciler.run(kind="incremental")
    assert services.reconciler.run(kind="auto").kind == "full"
