"""CloudinaryClient as an `AssetRestorer` against the emulator with backups: restore by public_id and
by asset_id, 100 ids a call, per-id answers (restored with the asset's facts, or Cloudinary's
message), whole-call failures as store errors, and the Admin allowance the calls used."""

from __future__ import annotations

import pytest

from fixtures.media import tiny_png
from mediasync.errors import StoreRateLimited, StoreTransientError
from mediasync.store import AssetRestorer, RestoreOutcome


def backed_up_and_deleted(store, emulator, count: int, start: int = 0) -> list:
    """`count` assets uploaded into main-uploads in an account with backups, then deleted."""
    emulator.control(backups=True)
    assets = [store.upload(tiny_png(start + i), folder="main-uploads", resource_type="image",
                           filename=f"b{start + i}.png") for i in range(count)]
    deleted = store.delete_many([a.public_id for a in assets], "image", "upload")
    assert set(deleted.values()) == {"deleted"}
    return assets


def test_the_client_and_the_hook_are_restorers(cloudinary_store, cloudinary_hook):
    assert isinstance(cloudinary_store, AssetRestorer)
    assert isinstance(cloudinary_hook.get_conn(), AssetRestorer)


def test_restore_splits_more_than_100_ids_into_calls_and_reports_each(cloudinary_store, emulator):
    assets = backed_up_and_deleted(cloudinary_store, emulator, 101)
    emulator.control(reset_meter=True)
    ids = [a.public_id for a in assets] + ["main-uploads/never-was", assets[0].public_id]  # a duplicate too
    outcomes = cloudinary_store.restore(ids, "image", "upload")
    assert emulator.admin_call_log() == ["POST resources/image/upload/restore"] * 2
    assert len(outcomes) == 102
    assert outcomes["main-uploads/never-was"] == RestoreOutcome(False, "no_backup")
    for asset in assets:
        got = outcomes[asset.public_id]
        assert got.restored and got.message is None
        assert (got.public_id, got.asset_id, got.bytes, got.version, got.etag) == \
            (asset.public_id, asset.asset_id, asset.bytes, asset.version, asset.etag)
    listed = {a.public_id: a for a in cloudinary_store.iter_resources("image", "upload", None)}
    assert set(listed) == {a.public_id for a in assets} and not any(a.placeholder for a in listed.values())
    assert cloudinary_store.admin_allowance is not None and cloudinary_store.admin_allowance.remaining is not None


def test_restore_by_asset_ids_splits_and_keys_by_asset_id(cloudinary_store, emulator):
    assets = backed_up_and_deleted(cloudinary_store, emulator, 101)
    emulator.control(reset_meter=True)
    outcomes = cloudinary_store.restore_by_asset_ids([a.asset_id for a in assets] + ["f" * 32])
    assert emulator.admin_call_log() == ["POST resources/restore"] * 2
    assert outcomes["f" * 32] == RestoreOutcome(False, "no_backup")
    assert all(outcomes[a.asset_id].restored and outcomes[a.asset_id].public_id == a.public_id for a in assets)


def test_partial_answers_say_which_ids_came_back(cloudinary_store, emulator):
    emulator.control(backups=False)
    plain = cloudinary_store.upload(tiny_png(1), folder="main-uploads", resource_type="image", filename="plain.png")
    gone = backed_up_and_deleted(cloudinary_store, emulator, 1, start=5)[0]
    emulator.control(backups=False)
    live_without_backup = cloudinary_store.upload(tiny_png(9), folder="main-uploads", resource_type="image",
                                                  filename="live.png")
    cloudinary_store.delete_many([plain.public_id], "image", "upload")  # no backup: gone for good
    outcomes = cloudinary_store.restore([gone.public_id, plain.public_id, live_without_backup.public_id])
    assert outcomes[gone.public_id].restored and outcomes[gone.public_id].bytes == gone.bytes
    assert outcomes[plain.public_id] == RestoreOutcome(False, "no_backup")
    assert outcomes[live_without_backup.public_id] == RestoreOutcome(False, "no_backup")
    assert cloudinary_store.restore([]) == {} and cloudinary_store.restore_by_asset_ids([]) == {}


def test_a_rate_limited_or_failing_call_raises_a_store_error(cloudinary_store, emulator):
    gone = backed_up_and_deleted(cloudinary_store, emulator, 1)[0]
    emulator.control(rate_limit=1, reset_meter=True)
    cloudinary_store.restore([gone.public_id])
    with pytest.raises(StoreRateLimited) as limited:
        cloudinary_store.restore_by_asset_ids([gone.asset_id])
    assert limited.value.reset_at is not None
    emulator.control(rate_limit=0, fail_rate=1.0)
    with pytest.raises(StoreTransientError):
        cloudinary_store.restore([gone.public_id])
