"""Placeholders (deleted assets an account with backups keeps) are no live assets for mediasync: a
full reconciliation after deletions with backups reports no orphan and no undeleted asset for them,
an active row whose asset is a placeholder is missing (and restorable), the safety cap's base
counts live assets only, and notifications neither adopt nor follow a placeholder. Real PostgreSQL,
the official SDK against the emulator with backups, both folder modes."""

from __future__ import annotations

import cloudinary.api

from fixtures import notifications as cld
from fixtures.emulator import sdk
from fixtures.media import tiny_png

FOLDER = "main-uploads"


def items(conn, run_id: int) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for row in conn.execute("SELECT kind, public_id FROM mediasync.reconciliation_items WHERE run_id = %s", (run_id,)):
        found.setdefault(row["kind"], set()).add(row["public_id"])
    return found


def test_full_reconciliation_after_deletions_with_backups(services, cloudinary_store, emulator, conn):
    emulator.control(backups=True)
    healthy = services.media.upload(tiny_png(1), "healthy.png")
    soft = services.media.upload(tiny_png(2), "soft.png")
    hard = services.media.upload(tiny_png(3), "hard.png")
    vanished = services.media.upload(tiny_png(4), "vanished.png")  # its asset deleted behind mediasync's back
    stray = cloudinary_store.upload(tiny_png(5), folder=FOLDER, resource_type="image", filename="stray.png")
    assert services.media.soft_delete(soft.id).cloudinary == "deleted"
    assert services.media.hard_delete(hard.id).cloudinary == "deleted"
    cloudinary_store.delete_many([vanished.public_id, stray.public_id], "image", "upload")
    placeholders = [soft.public_id, hard.public_id, vanished.public_id, stray.public_id]
    assert all(cloudinary.api.resource(p, **sdk(emulator))["placeholder"] for p in placeholders)

    dry = services.reconciler.run(grace_minutes=0)
    assert (dry.status, dry.listing_complete) == ("completed", True)
    assert items(conn, dry.run_id) == {"missing_asset": {vanished.public_id}}
    assert (dry.counts["orphan_asset"], dry.counts["undeleted_asset"], dry.counts["metadata_mismatch"]) == (0, 0, 0)
    assert (dry.assets_listed, dry.counts["placeholders"]) == (1, 4)  # the cap's base: live assets only
    missing = conn.execute("SELECT details FROM mediasync.reconciliation_items WHERE run_id = %s",
                           (dry.run_id,)).fetchone()["details"]
    assert missing["restorable"] is True

    applied = services.reconciler.run(apply=True, grace_minutes=0)
    assert applied.status == "completed" and applied.counts["queued_deletions"] == 0
    assert conn.execute("SELECT count(*) AS n FROM cloudinary_cleanup_queue WHERE status = 'pending'"
                        ).fetchone()["n"] == 0
    assert healthy.public_id in {a.public_id for a in cloudinary_store.iter_resources() if not a.placeholder}

    restored = cloudinary_store.restore([vanished.public_id])
    assert restored[vanished.public_id].restored
    after = services.reconciler.run(grace_minutes=0)
    assert items(conn, after.run_id) == {} and after.counts["placeholders"] == 3


def test_a_row_whose_asset_was_never_backed_up_is_missing_but_not_restorable(services, cloudinary_store, emulator,
                                                                          conn):
    gone = services.media.upload(tiny_png(6), "gone.png")
    cloudinary_store.delete_many([gone.public_id], "image", "upload")  # no backups: gone for good
    run = services.reconciler.run(grace_minutes=0)
    assert items(conn, run.run_id) == {"missing_asset": {gone.public_id}} and run.counts["placeholders"] == 0
    details = conn.execute("SELECT details FROM mediasync.reconciliation_items WHERE run_id = %s",
                           (run.run_id,)).fetchone()["details"]
    assert details["restorable"] is False


def test_notifications_treat_a_placeholder_as_no_live_asset(services, emulator, conn):
    emulator.control(backups=True)
    services.notifications.setup("poll", "mediasync-placeholders")
    record = services.media.upload(tiny_png(7), "console-deleted.png")
    services.notifications.drain("mediasync-placeholders")  # the app's own upload: recognised, not echoed
    emulator.console("delete", public_id=record.public_id)  # backed up: a placeholder stays behind
    assert cloudinary.api.resource(record.public_id, **sdk(emulator))["placeholder"] is True
    assert services.notifications.drain("mediasync-placeholders").applied == 1
    row = conn.execute("SELECT status, deleted_by FROM media_files WHERE id = %s", (record.id,)).fetchone()
    assert (row["status"], row["deleted_by"]) == ("deleted", "cloudinary")
    assert services.reconciler.run(grace_minutes=0).counts["undeleted_asset"] == 0

    body = {**cld.upload(f"{FOLDER}/left-behind"), "placeholder": True, "bytes": 0}
    signed = cld.sign(cld.encode(body), emulator.api_secret)
    result = services.notifications.ingest(signed.raw, signed.timestamp, signed.signature)
    assert result.outcome == "ignored" and "placeholder" in (result.detail or "")
    assert conn.execute("SELECT count(*) AS n FROM media_files WHERE public_id = %s",
                        (f"{FOLDER}/left-behind",)).fetchone()["n"] == 0
