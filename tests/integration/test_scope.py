"""Ownership in a shared Cloudinary account: reconciliation covers exactly the managed folders,
reports what it saw outside them, and never deletes it (real PostgreSQL, SDK against the emulator)."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import pytest

from fixtures.brake import without_delete_brake
from fixtures.emulator import seeded_public_id
from fixtures.media import tiny_png
from mediasync.errors import InvalidInput
from mediasync.services.reconcile import Reconciler


def everything(store) -> set[str]:
    return {a.public_id for rt in ("image", "video", "raw") for a in store.iter_resources(rt, "upload", None)}


def foreign_upload(store, seed: int, folder: str | None, name: str) -> str:
    """Another tool's upload: signed, no mediasync preset."""
    return store.upload(tiny_png(seed), folder=folder, resource_type="image", filename=name).public_id


@pytest.fixture
def shared_account(services, cloudinary_store) -> dict[str, str]:
    """mediasync's media, plus another app's folder, the root, a folder whose name starts like a
    managed one, and an upload into a managed folder by another tool."""
    ours = services.media.upload(tiny_png(1), "ours.png")
    return {"ours": ours.public_id,
            "other_app": foreign_upload(cloudinary_store, 2, "other-app", "theirs.png"),
            "root": foreign_upload(cloudinary_store, 3, None, "console.png"),
            "lookalike": foreign_upload(cloudinary_store, 4, "main-uploads-old", "old.png"),
            "in_managed": foreign_upload(cloudinary_store, 5, "main-uploads", "by-another-tool.png")}


def test_default_scope_deletes_nothing_foreign_and_protects_fresh_uploads(services, cloudinary_store, shared_account):
    before = everything(cloudinary_store)
    result = services.reconciler.run(apply=True)  # default grace period: the managed-folder upload is fresh

    assert result.status == "completed" and result.counts["orphan_asset"] == 0
    assert result.assets_listed == 2  # ours and the one in a managed folder: nothing else was even stored
    assert result.counts["unmanaged"] == 0  # the listing asked Cloudinary for the managed folders only
    assert everything(cloudinary_store) == before


def test_an_old_orphan_in_a_managed_folder_goes_and_nothing_else(services, cloudinary_store, conn, shared_account):
    result = services.reconciler.run(apply=True, grace_minutes=0)

    assert result.status == "completed"
    assert (result.counts["orphan_asset"], result.counts["queued_deletions"]) == (1, 1)
    assert everything(cloudinary_store) == set(shared_account.values()) - {shared_account["in_managed"]}
    queued = [r["public_id"] for r in conn.execute("SELECT public_id FROM cloudinary_cleanup_queue")]
    assert queued == [shared_account["in_managed"]]


def test_account_scope_is_an_explicit_opt_in_and_respects_the_cap(services, cloudinary_store, emulator, conn,
                                                                  shared_account):
    emulator.seed(150, prefix="other-app/bulk")
    managed = services.reconciler.run(apply=True, grace_minutes=0, process_queue=False)
    assert managed.counts["orphan_asset"] == 1  # only the managed folder's orphan

    conn.execute("DELETE FROM cloudinary_cleanup_queue")
    account = services.reconciler.run(apply=True, grace_minutes=0, scope="account")
    assert account.status == "aborted" and "safety cap of 100" in account.message
    assert account.counts["orphan_asset"] == 154 and account.counts["queued_deletions"] == 0
    assert account.counts["unmanaged"] == 153  # seen outside the managed folders: the run says how many
    assert conn.execute("SELECT count(*) AS n FROM cloudinary_cleanup_queue").fetchone()["n"] == 0
    assert len(everything(cloudinary_store)) == 155


def test_a_folder_narrows_the_scope_and_cannot_widen_it(services, cloudinary_store, shared_account):
    with pytest.raises(InvalidInput, match="outside the managed folders"):
        services.reconciler.run(apply=True, grace_minutes=0, folder="other-app")
    narrowed = services.reconciler.run(grace_minutes=0, folder="other-app", scope="account")
    assert narrowed.counts["orphan_asset"] == 1 and narrowed.assets_listed == 1
    assert everything(cloudinary_store) == set(shared_account.values())  # dry run


def test_managed_folders_setting_decides_the_scope(services, cloudinary_store, shared_account):
    services.reconciler.settings = replace(services.reconciler.settings,
                                           managed_folders=("main-uploads", "other-app"))
    result = services.reconciler.run(grace_minutes=0)
    assert result.counts["orphan_asset"] == 2 and result.assets_listed == 3


def test_assets_already_queued_are_not_counted_again_or_held_against_the_cap(services, emulator, conn,
                                                                            emulator_folder_mode):
    emulator.seed(180, prefix="main-uploads/bulk")
    without_delete_brake(conn, services)  # the cap is what this test is about: 80 of 180 assets would be held
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO cloudinary_cleanup_queue (public_id, reason) VALUES (%s, 'db_delete')",
                        [(seeded_public_id(emulator_folder_mode, "main-uploads/bulk", i),) for i in range(100)])
    result = services.reconciler.run(apply=True, grace_minutes=0, process_queue=False)
    assert result.status == "completed", result.message  # 80 new orphans, not 180 over a cap of 100
    assert result.counts["orphan_asset"] == 80 and result.counts["queued_deletions"] == 80
    assert conn.execute("SELECT count(*) AS n FROM cloudinary_cleanup_queue WHERE status = 'pending'"
                        ).fetchone()["n"] == 180


def test_a_renamed_asset_is_one_mismatch_whose_repair_moves_the_row(services, cloudinary_store, conn):
    media = services.media.upload(tiny_png(7), "renamed.png")
    # Cloudinary knows the asset (same asset_id) under another name than the row now says.
    conn.execute("UPDATE media_files SET public_id = 'main-uploads/old-name', display_name = 'old-name' "
                 "WHERE id = %s", (media.id,))
    dry = services.reconciler.run(grace_minutes=0)
    assert {k: dry.counts[k] for k in ("orphan_asset", "missing_asset", "metadata_mismatch")} == {
        "orphan_asset": 0, "missing_asset": 0, "metadata_mismatch": 1}

    applied = services.reconciler.run(apply=True, grace_minutes=0)
    assert applied.counts["updated_rows"] == 1 and applied.counts["queued_deletions"] == 0
    row = conn.execute("SELECT public_id, display_name, asset_id FROM media_files WHERE id = %s",
                       (media.id,)).fetchone()
    assert row["public_id"] == media.public_id and row["asset_id"] == media.asset_id
    assert row["display_name"] != "old-name"
    assert sum(services.reconciler.run(grace_minutes=0).counts[k] for k in (
        "orphan_asset", "missing_asset", "metadata_mismatch")) == 0


def test_existing_rows_get_their_asset_identity_filled_in(services, conn):
    media = services.media.upload(tiny_png(8), "legacy.png")
    conn.execute("UPDATE media_files SET asset_id = NULL, asset_folder = NULL, display_name = NULL WHERE id = %s",
                 (media.id,))  # a row from before migration 007
    result = services.reconciler.run(apply=True, grace_minutes=0)
    # Filling in what an old row lacks is its own outcome, not drift (test_reconciler_identity).
    assert (result.counts["identity_filled"], result.counts["metadata_mismatch"]) == (1, 0)
    assert result.counts["updated_rows"] == 1 and result.counts["found_by_reconciliation"] == 0
    row = conn.execute("SELECT asset_id, asset_folder, display_name FROM media_files WHERE id = %s",
                       (media.id,)).fetchone()
    assert row["asset_id"] == media.asset_id and row["asset_folder"] and row["display_name"]


def test_folder_mode_auto_is_decided_from_what_cloudinary_answers(db, cloudinary_store, settings,
                                                                  emulator_folder_mode):
    reconciler = Reconciler(db, cloudinary_store, replace(settings, cloudinary_folder_mode="auto"))
    assert reconciler.folder_mode() == emulator_folder_mode  # the account config says so, even with no assets
    foreign_upload(cloudinary_store, 9, "other-app", "x.png")
    assert reconciler.folder_mode() == emulator_folder_mode
    assert cloudinary_store.folder_mode() == emulator_folder_mode


def test_report_cells_are_escaped_against_formula_injection(services, cloudinary_store, conn):
    conn.execute("INSERT INTO media_files (public_id, folder, created_at) "
                 "VALUES ('main-uploads/=HYPERLINK(\"http://evil\")', 'main-uploads', now() - interval '1 hour')")
    result = services.reconciler.run(grace_minutes=0)
    with Path(result.report_csv).open() as report:
        cells = {r["public_id"] for r in csv.DictReader(report)}
    assert cells == {"main-uploads/=HYPERLINK(\"http://evil\")"}  # not at the start: left alone
    conn.execute("INSERT INTO cloudinary_cleanup_queue (public_id, reason, status, last_error) "
                 "VALUES ('=cmd|'' /C calc''!A0', 'db_delete', 'failed', '@SUM(1)')")
    services.reconciler.settings = replace(services.reconciler.settings, managed_folders=("main-uploads",))
    account = services.reconciler.run(grace_minutes=0, scope="account")
    with Path(account.report_csv).open() as report:
        rows = list(csv.DictReader(report))
    stuck = next(r for r in rows if r["kind"] == "stuck_queue")
    assert stuck["public_id"].startswith("'=") and not any(v.startswith(("=", "+", "-", "@"))
                                                            for r in rows for v in r.values() if v)


def test_a_rename_and_move_in_cloudinary_is_repaired_as_one_mismatch(services, cloudinary_store, emulator, conn,
                                                                     emulator_folder_mode):
    media = services.media.upload(tiny_png(10), "moving.png")
    new_name = "main-uploads/sub/renamed" if emulator_folder_mode == "fixed" else "renamed-by-console"
    emulator.console("rename", from_public_id=media.public_id, to_public_id=new_name)  # someone else, in the console
    if emulator_folder_mode == "dynamic":
        emulator.console("move", public_id=new_name, asset_folder="main-uploads/sub")

    result = services.reconciler.run(apply=True, grace_minutes=0)
    assert {k: result.counts[k] for k in ("orphan_asset", "missing_asset", "metadata_mismatch", "updated_rows",
                                          "queued_deletions")} == {
        "orphan_asset": 0, "missing_asset": 0, "metadata_mismatch": 1, "updated_rows": 1, "queued_deletions": 0}
    row = conn.execute("SELECT public_id, asset_id, asset_folder, folder, secure_url FROM media_files "
                       "WHERE id = %s", (media.id,)).fetchone()
    assert (row["public_id"], row["asset_id"], row["asset_folder"], row["folder"]) == (
        new_name, media.asset_id, "main-uploads/sub", "main-uploads/sub")
    assert new_name in row["secure_url"]
    assert everything(cloudinary_store) == {new_name}


def test_an_asset_moved_out_of_the_managed_folders_is_reported_never_deleted(services, cloudinary_store, emulator,
                                                                             conn, emulator_folder_mode):
    media = services.media.upload(tiny_png(11), "leaving.png")
    if emulator_folder_mode == "fixed":
        emulator.console("rename", from_public_id=media.public_id, to_public_id="other-app/taken")
    else:
        emulator.console("move", public_id=media.public_id, asset_folder="other-app")
    result = services.reconciler.run(apply=True, grace_minutes=0)
    assert (result.counts["missing_asset"], result.counts["orphan_asset"], result.counts["queued_deletions"]) == (
        1, 0, 0)
    assert len(everything(cloudinary_store)) == 1  # not ours any more: left alone
    assert conn.execute("SELECT status FROM media_files WHERE id = %s", (media.id,)).fetchone()["status"] == "active"


def test_only_rows_of_the_managed_folders_can_be_missing(services, conn, emulator_folder_mode):
    """Rows whose asset is listed nowhere: missing inside the managed folders (and below them), never
    in a folder that only starts like one, another app's folder or the root. In dynamic mode the
    row's asset_folder places it (its public_id carries no folder); in fixed mode its public_id does."""
    folders = ("main-uploads", "main-uploads/sub", "main-uploads-old", "other-app", "")
    names = {}
    for number, folder in enumerate(folders):
        name = f"gone-{number}" if emulator_folder_mode == "dynamic" else "/".join(filter(None, (folder, "gone")))
        conn.execute("INSERT INTO media_files (public_id, format, bytes, folder, asset_folder, created_at) "
                     "VALUES (%s, 'png', 10, %s, %s, now() - interval '2 hours')", (name, folder, folder))
        names[folder] = name
    result = services.reconciler.run(grace_minutes=0)
    missing = {r["public_id"] for r in conn.execute(
        "SELECT public_id FROM mediasync.reconciliation_items WHERE run_id = %s AND kind = 'missing_asset'",
        (result.run_id,))}
    assert missing == {names["main-uploads"], names["main-uploads/sub"]}
