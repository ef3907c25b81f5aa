"""A row that only lacks Cloudinary's identity columns (asset_id, asset_folder, display_name) is
no drift: the first reconciliation of a library written before mediasync recorded them reports
`identity_filled` beside zero drift, and an applied run fills them in."""

from __future__ import annotations

from fixtures.media import tiny_png
from mediasync.drift import DRIFT_KINDS, drift_total

IDENTITY = ("asset_id", "asset_folder", "display_name")


def identities(conn) -> dict[str, tuple]:
    rows = conn.execute("SELECT public_id, asset_id, asset_folder, display_name FROM media_files ORDER BY public_id")
    return {r["public_id"]: tuple(r[c] for c in IDENTITY) for r in rows}


def test_a_first_run_over_rows_without_identity_reports_identity_filled_and_no_drift(services, conn):
    for i in range(3):
        services.media.upload(tiny_png(300 + i), f"old{i}.png")
    known = identities(conn)
    assert all(v[0] for v in known.values())  # Cloudinary gave every asset an asset_id
    conn.execute("UPDATE media_files SET asset_id = NULL, asset_folder = NULL, display_name = NULL")

    dry = services.reconciler.run(grace_minutes=0)
    assert dry.status == "completed" and dry.counts["identity_filled"] == 3
    assert {k: dry.counts[k] for k in DRIFT_KINDS} == dict.fromkeys(DRIFT_KINDS, 0)
    assert drift_total(dry.counts) == 0 and dry.message == "dry run: 0 drift items found, nothing changed"
    filled = conn.execute("SELECT details FROM mediasync.reconciliation_items WHERE run_id = %s",
                          (dry.run_id,)).fetchall()
    assert sorted(d["details"]["filled"]["asset_id"] for d in filled) == sorted(v[0] for v in known.values())

    applied = services.reconciler.run(apply=True, grace_minutes=0, kind="full")
    assert (applied.counts["identity_filled"], applied.counts["updated_rows"], drift_total(applied.counts)) == (3, 3, 0)
    assert identities(conn) == known
    assert services.reconciler.run(grace_minutes=0, kind="full").counts["identity_filled"] == 0


def test_a_row_that_lacks_identity_and_differs_is_one_mismatch(services, conn):
    media = services.media.upload(tiny_png(310), "changed.png")
    conn.execute("UPDATE media_files SET asset_id = NULL, display_name = NULL, bytes = bytes + 1 WHERE id = %s",
                 (media.id,))
    result = services.reconciler.run(grace_minutes=0)
    assert (result.counts["metadata_mismatch"], result.counts["identity_filled"]) == (1, 0)


def test_another_asset_id_than_the_row_holds_is_still_drift(services, conn):
    media = services.media.upload(tiny_png(320), "other-id.png")
    conn.execute("UPDATE media_files SET asset_id = 'not-what-cloudinary-says' WHERE id = %s", (media.id,))
    result = services.reconciler.run(grace_minutes=0)
    assert (result.counts["metadata_mismatch"], result.counts["identity_filled"]) == (1, 0)


def test_a_name_the_row_holds_for_another_listed_asset_pairs_it_with_that_asset_only(services, cloudinary_store,
                                                                                    conn):
    # The asset was renamed in Cloudinary and a newcomer took its old name: the row (its old name,
    # its asset_id) is the renamed asset's, never the newcomer's, and the newcomer no row's yet.
    renamed = services.media.upload(tiny_png(330), "renamed.png")
    newcomer = cloudinary_store.upload(tiny_png(331), folder="main-uploads", resource_type="image",
                                       filename="newcomer.png")
    conn.execute("UPDATE media_files SET public_id = %s WHERE id = %s", (newcomer.public_id, renamed.id))
    dry = services.reconciler.run(grace_minutes=0, kind="full")
    assert {k: dry.counts[k] for k in ("metadata_mismatch", "orphan_asset", "missing_asset")} == {
        "metadata_mismatch": 1, "orphan_asset": 0, "missing_asset": 0}
    item = conn.execute("SELECT public_id, media_file_id FROM mediasync.reconciliation_items "
                        "WHERE run_id = %s AND kind = 'metadata_mismatch'", (dry.run_id,)).fetchone()
    assert (item["public_id"], str(item["media_file_id"])) == (renamed.public_id, str(renamed.id))

    services.reconciler.run(apply=True, grace_minutes=0, kind="full")  # the row takes its asset's name back
    after = services.reconciler.run(grace_minutes=0, kind="full")
    assert (after.counts["orphan_asset"], after.counts["metadata_mismatch"]) == (1, 0)  # now the newcomer shows
