"""Backups, placeholders and restore, driven by the official SDK as Cloudinary's own `test_restore`
drives them: an upload with `backup=True` (or an account with automatic backup), `delete_resources`,
`api.resource` answering `bytes` 0 / `placeholder: true`, `api.restore` bringing the bytes back —
in both folder modes, and without backups the behaviour of an account that keeps none."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import cloudinary.api
import cloudinary.search
import cloudinary.uploader
import httpx
import pytest
from cloudinary.exceptions import BadRequest, NotFound, RateLimited

from fixtures.emulator import sdk
from fixtures.media import tiny_png
from support.emulator import RunningEmulator, free_port


def upload(emulator, seed: int, name: str, **options) -> dict:
    """An upload into main-uploads: `main-uploads/<name>` (fixed) or `<name>` in asset folder main-uploads."""
    if emulator.folder_mode == "fixed":
        return cloudinary.uploader.upload(tiny_png(seed), public_id=f"main-uploads/{name}", **options,
                                          **sdk(emulator))
    return cloudinary.uploader.upload(tiny_png(seed), public_id=name, asset_folder="main-uploads", **options,
                                      **sdk(emulator))


def folder_listing(emulator) -> list[dict]:
    """The managed folder's listing the way each mode lists it (prefix / asset folder)."""
    if emulator.folder_mode == "fixed":
        return cloudinary.api.resources(type="upload", prefix="main-uploads/", max_results=500,
                                        **sdk(emulator))["resources"]
    return cloudinary.api.resources_by_asset_folder("main-uploads", max_results=500, **sdk(emulator))["resources"]


def delivered(emulator, resource: dict) -> httpx.Response:
    return httpx.get(resource["secure_url"], timeout=10)


def test_a_backed_up_asset_leaves_a_placeholder_that_restore_brings_back(any_mode_emulator):
    emulator = any_mode_emulator
    made = upload(emulator, 1, "kept", backup=True)
    pid = made["public_id"]
    assert cloudinary.api.resource(pid, **sdk(emulator))["bytes"] == made["bytes"]

    assert cloudinary.api.delete_resources([pid], **sdk(emulator))["deleted"] == {pid: "deleted"}
    placeholder = cloudinary.api.resource(pid, **sdk(emulator))
    assert (placeholder["bytes"], placeholder["placeholder"]) == (0, True)
    assert placeholder["asset_id"] == made["asset_id"]
    assert delivered(emulator, made).status_code == 404
    assert emulator.settings()["assets"] == 0 and emulator.settings()["placeholders"] == 1

    restored = cloudinary.api.restore([pid], **sdk(emulator))
    info = restored[pid]
    assert (info["bytes"], info["placeholder"], info["asset_id"]) == (made["bytes"], False, made["asset_id"])
    assert (info["version"], info["etag"]) == (made["version"], made["etag"])
    again = cloudinary.api.resource(pid, **sdk(emulator))
    assert (again["bytes"], again["placeholder"]) == (made["bytes"], False)
    assert delivered(emulator, made).content == tiny_png(1)
    assert emulator.settings()["assets"] == 1 and emulator.settings()["placeholders"] == 0


def test_placeholders_in_listings_search_and_lookups(any_mode_emulator):
    """Listed (marked) where Cloudinary's docs are silent; hidden where they say deleted assets are
    not returned even when backed up (`resources_by_asset_ids`); gone for every change."""
    emulator = any_mode_emulator
    live = upload(emulator, 1, "live")
    gone = upload(emulator, 2, "gone", backup=True)
    cloudinary.uploader.destroy(gone["public_id"], invalidate=True, **sdk(emulator))

    listed = {r["public_id"]: r for r in folder_listing(emulator)}
    assert set(listed) == {live["public_id"], gone["public_id"]}
    assert (listed[gone["public_id"]]["placeholder"], listed[gone["public_id"]]["bytes"]) == (True, 0)
    assert "placeholder" not in listed[live["public_id"]]
    everything = cloudinary.api.resources(max_results=500, **sdk(emulator))["resources"]
    assert {r["public_id"]: r.get("placeholder", False) for r in everything} == \
        {live["public_id"]: False, gone["public_id"]: True}
    found = cloudinary.search.Search().expression("asset_folder=main-uploads").execute(**sdk(emulator))
    assert found["total_count"] == 2
    assert {r["public_id"]: (r.get("placeholder", False), r["bytes"]) for r in found["resources"]} == \
        {live["public_id"]: (False, live["bytes"]), gone["public_id"]: (True, 0)}
    picked = cloudinary.search.Search().expression("asset_folder=main-uploads").fields("bytes").execute(**sdk(emulator))
    assert {r["public_id"]: (r.get("placeholder", False), r["bytes"]) for r in picked["resources"]} == \
        {live["public_id"]: (False, live["bytes"]), gone["public_id"]: (True, 0)}  # still marked with `fields`
    by_id = cloudinary.api.resources_by_asset_ids([live["asset_id"], gone["asset_id"]], **sdk(emulator))
    assert [r["public_id"] for r in by_id["resources"]] == [live["public_id"]]

    assert cloudinary.uploader.destroy(gone["public_id"], **sdk(emulator))["result"] == "not found"
    assert cloudinary.api.delete_resources([gone["public_id"]], **sdk(emulator))["deleted"] == \
        {gone["public_id"]: "not_found"}
    assert cloudinary.api.delete_resources_by_asset_ids([gone["asset_id"]], **sdk(emulator))["deleted"] == \
        {gone["asset_id"]: "not_found"}
    with pytest.raises(NotFound):
        cloudinary.uploader.rename(gone["public_id"], "elsewhere", **sdk(emulator))
    with pytest.raises(NotFound):
        cloudinary.api.update(gone["public_id"], display_name="x", **sdk(emulator))
    assert cloudinary.uploader.add_tag("t", [gone["public_id"]], **sdk(emulator))["public_ids"] == []


def test_without_backups_deleted_assets_vanish_and_restore_says_no_backup(any_mode_emulator):
    emulator = any_mode_emulator
    assert emulator.settings()["backups"] is False
    made = upload(emulator, 1, "plain")
    cloudinary.api.delete_resources([made["public_id"]], **sdk(emulator))
    with pytest.raises(NotFound):
        cloudinary.api.resource(made["public_id"], **sdk(emulator))
    assert folder_listing(emulator) == []
    assert cloudinary.api.restore([made["public_id"], "never-was"], **sdk(emulator)) == \
        {made["public_id"]: {"error": "no_backup"}, "never-was": {"error": "no_backup"}}
    assert cloudinary.api.restore_by_asset_ids([made["asset_id"]], **sdk(emulator)) == \
        {made["asset_id"]: {"error": "no_backup"}}
    live = upload(emulator, 2, "live-no-backup")
    assert cloudinary.api.restore([live["public_id"]], **sdk(emulator)) == {live["public_id"]: {"error": "no_backup"}}


def test_account_backups_and_the_upload_parameter_that_overrides_them(any_mode_emulator):
    emulator = any_mode_emulator
    emulator.control(backups=True)
    backed = upload(emulator, 1, "auto")
    skipped = upload(emulator, 2, "skip", backup=False)
    cloudinary.api.delete_resources([backed["public_id"], skipped["public_id"]], **sdk(emulator))
    assert cloudinary.api.resource(backed["public_id"], **sdk(emulator))["placeholder"] is True
    with pytest.raises(NotFound):
        cloudinary.api.resource(skipped["public_id"], **sdk(emulator))
    emulator.reset()
    assert emulator.settings()["backups"] is False  # reset brings back the setting it started with


def test_restore_by_asset_ids_and_of_live_assets(any_mode_emulator):
    emulator = any_mode_emulator
    first = upload(emulator, 1, "one", backup=True)
    second = upload(emulator, 2, "two", backup=True)
    cloudinary.api.delete_resources([first["public_id"]], **sdk(emulator))
    answer = cloudinary.api.restore_by_asset_ids([first["asset_id"], second["asset_id"], "0" * 32],
                                                 **sdk(emulator))
    assert set(answer) == {first["asset_id"], second["asset_id"], "0" * 32}
    assert (answer[first["asset_id"]]["public_id"], answer[first["asset_id"]]["bytes"]) == \
        (first["public_id"], first["bytes"])
    assert answer[second["asset_id"]]["bytes"] == second["bytes"]  # live with a backup: its latest backed-up version
    assert answer["0" * 32] == {"error": "no_backup"}

    replaced = upload(emulator, 3, "two", backup=False, overwrite=True)  # a new version, not backed up
    assert replaced["bytes"] != second["bytes"] or replaced["etag"] != second["etag"]
    reverted = cloudinary.api.restore([second["public_id"]], **sdk(emulator))[second["public_id"]]
    assert (reverted["etag"], reverted["version"]) == (second["etag"], second["version"])


def test_an_upload_onto_a_placeholder_is_a_new_upload_of_that_asset(any_mode_emulator):
    emulator = any_mode_emulator
    made = upload(emulator, 1, "again", backup=True)
    cloudinary.api.delete_resources([made["public_id"]], **sdk(emulator))
    again = upload(emulator, 2, "again", overwrite=False)
    assert again["asset_id"] == made["asset_id"] and "existing" not in again and "overwritten" not in again
    assert cloudinary.api.resource(made["public_id"], **sdk(emulator))["placeholder"] is False
    cloudinary.api.delete_resources([made["public_id"]], **sdk(emulator))  # the earlier backup still stands
    assert cloudinary.api.restore([made["public_id"]], **sdk(emulator))[made["public_id"]]["etag"] == made["etag"]


def test_restore_input_errors_and_admin_metering(emulator):
    made = upload(emulator, 1, "m", backup=True)
    cloudinary.api.delete_resources([made["public_id"]], **sdk(emulator))
    with pytest.raises(BadRequest, match="Missing required parameter - public_ids"):
        cloudinary.api.restore([], **sdk(emulator))
    with pytest.raises(BadRequest, match="at most 100"):
        cloudinary.api.restore([f"p{i}" for i in range(101)], **sdk(emulator))
    with pytest.raises(BadRequest, match="Missing required parameter - asset_ids"):
        cloudinary.api.restore_by_asset_ids([], **sdk(emulator))
    with pytest.raises(BadRequest, match="versions"):
        cloudinary.api.restore([made["public_id"]], versions=["a", "b"], **sdk(emulator))
    with pytest.raises(BadRequest, match="Invalid resource type"):
        cloudinary.api.restore(["x"], resource_type="sound", **sdk(emulator))
    assert cloudinary.api.restore([made["public_id"]], versions=["not-this-one"], **sdk(emulator)) == \
        {made["public_id"]: {"error": "no_backup"}}
    answer = cloudinary.api.restore([made["public_id"]], versions=[made["version_id"]], **sdk(emulator))
    assert answer.rate_limit_allowed and answer[made["public_id"]]["bytes"] == made["bytes"]

    emulator.control(reset_meter=True)
    cloudinary.api.restore([made["public_id"]], **sdk(emulator))
    cloudinary.api.restore_by_asset_ids([made["asset_id"]], **sdk(emulator))
    assert emulator.admin_call_log() == ["POST resources/image/upload/restore", "POST resources/restore"]
    emulator.control(rate_limit=2)
    with pytest.raises(RateLimited):
        cloudinary.api.restore([made["public_id"]], **sdk(emulator))


def test_restore_sends_no_notification_and_delete_still_does(emulator):
    made = upload(emulator, 1, "n", backup=True)
    cloudinary.api.delete_resources([made["public_id"]], **sdk(emulator))
    before = [n["notification_type"] for n in emulator.notifications()]
    assert before == ["upload", "delete"]
    cloudinary.api.restore([made["public_id"]], **sdk(emulator))
    assert [n["notification_type"] for n in emulator.notifications()] == before


def test_backups_and_placeholders_survive_a_restart(tmp_path):
    with RunningEmulator(tmp_path, backups=True) as first:
        made = cloudinary.uploader.upload(tiny_png(1), public_id="main-uploads/p", **sdk(first))
        cloudinary.api.delete_resources(["main-uploads/p"], **sdk(first))
    with RunningEmulator(tmp_path) as second:
        assert cloudinary.api.resource("main-uploads/p", **sdk(second))["placeholder"] is True
        assert cloudinary.api.restore(["main-uploads/p"], **sdk(second))["main-uploads/p"]["bytes"] == made["bytes"]
        assert httpx.get(made["secure_url"].replace(str(first.port), str(second.port)), timeout=10).content == \
            tiny_png(1)


def test_control_backups_setting_is_validated(emulator):
    response = httpx.post(f"{emulator.base_url}/_emulator/control", json={"backups": "yes"}, timeout=10)
    assert response.status_code == 422 and "backups" in response.json()["detail"]
    assert emulator.control(backups=True)["backups"] is True


def test_the_command_line_starts_an_account_with_backups(tmp_path):
    port = free_port()
    process = subprocess.Popen([str(Path(sys.executable).parent / "mediasync"), "emulator", "--port", str(port),
                                "--data-dir", str(tmp_path), "--backups"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/_emulator/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and process.poll() is None, "the emulator did not start"
            time.sleep(0.1)
        assert httpx.get(f"http://127.0.0.1:{port}/_emulator/control", timeout=5).json()["backups"] is True
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=15)
    assert "with backups" in output
