"""Asset-changing calls other tools make, through the SDK: rename (and its conflicts), Admin API
update (move, display name, tags), explicit/tags, destroy — their effect on listings, asset_id
unchanged; and the counters: Admin-only rate limiting, Upload API calls, deletions."""

from __future__ import annotations

import cloudinary.api
import cloudinary.uploader
import httpx
import pytest
from cloudinary.exceptions import AlreadyExists, NotFound, RateLimited

from fixtures.emulator import sdk
from fixtures.media import tiny_png


def test_rename_keeps_asset_id_and_moves_the_listing(any_mode_emulator):
    emulator = any_mode_emulator
    first = cloudinary.uploader.upload(tiny_png(1), public_id="main-uploads/a", **sdk(emulator))
    other = cloudinary.uploader.upload(tiny_png(2), public_id="main-uploads/b", **sdk(emulator))
    renamed = cloudinary.uploader.rename("main-uploads/a", "archive/a", **sdk(emulator))
    assert renamed["public_id"] == "archive/a" and renamed["asset_id"] == first["asset_id"]
    assert cloudinary.api.resource("archive/a", **sdk(emulator))["asset_id"] == first["asset_id"]
    with pytest.raises(NotFound):
        cloudinary.api.resource("main-uploads/a", **sdk(emulator))
    listed = cloudinary.api.resources(prefix="main-uploads/", **sdk(emulator))
    assert [r["public_id"] for r in listed["resources"]] == ["main-uploads/b"]
    if emulator.folder_mode == "fixed":
        assert renamed["asset_folder"] == "archive"  # the folder is the path
    else:
        assert renamed["asset_folder"] == ""  # a rename changes nothing else
    with pytest.raises(AlreadyExists, match="already exists"):
        cloudinary.uploader.rename("archive/a", "main-uploads/b", **sdk(emulator))
    with pytest.raises(NotFound, match="Resource not found - nope"):
        cloudinary.uploader.rename("nope", "x", **sdk(emulator))
    replaced = cloudinary.uploader.rename("archive/a", "main-uploads/b", overwrite=True, invalidate=True,
                                          **sdk(emulator))
    assert replaced["asset_id"] == first["asset_id"] and replaced["asset_id"] != other["asset_id"]
    assert emulator.settings()["assets"] == 1


def test_update_moves_renames_for_display_and_retags(dynamic_emulator):
    emulator = dynamic_emulator
    made = cloudinary.uploader.upload(tiny_png(1), folder="inbox", public_id="p1", **sdk(emulator))
    updated = cloudinary.api.update("p1", asset_folder="done", display_name="Front page", tags=["x", "y"],
                                    **sdk(emulator))
    assert (updated["public_id"], updated["asset_id"]) == ("p1", made["asset_id"])
    assert (updated["asset_folder"], updated["display_name"], updated["tags"]) == ("done", "Front page", ["x", "y"])
    assert cloudinary.api.resources_by_asset_folder("inbox", **sdk(emulator))["resources"] == []
    assert [r["public_id"] for r in cloudinary.api.resources_by_asset_folder("done", **sdk(emulator))["resources"]] \
        == ["p1"]


def test_update_asset_folder_in_fixed_mode_is_a_rename(emulator):
    made = cloudinary.uploader.upload(tiny_png(1), folder="inbox", public_id="p1", **sdk(emulator))
    moved = cloudinary.api.update("inbox/p1", asset_folder="done", **sdk(emulator))
    assert (moved["public_id"], moved["asset_folder"], moved["asset_id"]) == ("done/p1", "done", made["asset_id"])


def test_explicit_and_tag_calls(emulator):
    cloudinary.uploader.upload(tiny_png(1), public_id="t1", tags=["a"], **sdk(emulator))
    cloudinary.uploader.upload(tiny_png(2), public_id="t2", **sdk(emulator))
    assert cloudinary.uploader.add_tag("b", ["t1", "t2", "missing"], **sdk(emulator))["public_ids"] == ["t1", "t2"]
    cloudinary.uploader.remove_tag("a", ["t1"], **sdk(emulator))
    assert cloudinary.api.resource("t1", **sdk(emulator))["tags"] == ["b"]
    cloudinary.uploader.replace_tag("c", ["t2"], **sdk(emulator))
    explicit = cloudinary.uploader.explicit("t2", type="upload", **sdk(emulator))
    assert explicit["tags"] == ["c"] and explicit["public_id"] == "t2"
    retagged = cloudinary.uploader.explicit("t2", type="upload", tags=["d", "e"], **sdk(emulator))
    assert retagged["tags"] == ["d", "e"]
    cloudinary.uploader.remove_all_tags(["t2"], **sdk(emulator))
    assert "tags" not in cloudinary.api.resource("t2", **sdk(emulator))  # as pycloudinary's test_remove_all_tags
    with pytest.raises(NotFound):
        cloudinary.uploader.explicit("missing", type="upload", **sdk(emulator))


def test_rate_limit_is_for_admin_calls_only_and_counters_say_so(emulator):
    emulator.control(rate_limit=2)
    cloudinary.api.resources(**sdk(emulator))
    cloudinary.api.ping(**sdk(emulator))
    with pytest.raises(RateLimited):
        cloudinary.api.resources_by_asset_folder("x", **sdk(emulator))
    with pytest.raises(RateLimited):
        cloudinary.Search().expression("").execute(**sdk(emulator))
    for n in range(5):  # the Upload API goes on
        result = cloudinary.uploader.upload(tiny_png(n), public_id=f"u{n}", **sdk(emulator))
    cloudinary.uploader.rename(result["public_id"], "renamed", **sdk(emulator))
    assert cloudinary.uploader.destroy("renamed", **sdk(emulator))["result"] == "ok"
    settings = emulator.settings()
    assert (settings["admin_calls"], settings["admin_calls_in_window"], settings["upload_api_calls"]) == (2, 2, 7)
    assert settings["api_requests"] == 2 + 2 + 7  # refused calls are requests too


def test_deletion_counters_show_no_asset_was_deleted_twice(emulator):
    emulator.seed(4, prefix="main-uploads/d")
    cloudinary.api.delete_resources(["main-uploads/d0000000", "main-uploads/d0000001", "nope"], **sdk(emulator))
    cloudinary.uploader.destroy("main-uploads/d0000002", **sdk(emulator))
    assert emulator.deletions() == {"ids": 4, "requests": 4, "deleted": 3, "not_found": 1, "max_per_id": 1}
    cloudinary.uploader.destroy("main-uploads/d0000002", **sdk(emulator))
    assert emulator.deletions() == {"ids": 4, "requests": 5, "deleted": 3, "not_found": 2, "max_per_id": 2}
    emulator.reset()
    assert emulator.deletions() == {"ids": 0, "requests": 0, "deleted": 0, "not_found": 0, "max_per_id": 0}


def test_admin_routes_all_pass_the_gate(emulator):
    """Every Admin API route refuses a wrong secret and is metered."""
    bad = (emulator.api_key, "wrong")
    base = f"{emulator.base_url}/v1_1/demo"
    for method, path in (("GET", "/ping"), ("GET", "/resources/image"), ("GET", "/resources/image/upload"),
                         ("GET", "/resources/image/upload/x"), ("POST", "/resources/image/upload/x"),
                         ("DELETE", "/resources/image/upload"), ("GET", "/resources/by_asset_folder"),
                         ("GET", "/resources/by_asset_ids"), ("DELETE", "/resources"), ("POST", "/resources/search"),
                         ("GET", "/triggers"), ("POST", "/triggers"), ("PUT", "/triggers/x"),
                         ("DELETE", "/triggers/x"), ("GET", "/upload_presets")):
        answer = httpx.request(method, base + path, auth=bad)
        assert answer.status_code == 401 and answer.json() == {"error": {"message": "Invalid API secret"}}, path
    assert emulator.admin_calls() == 0
