"""Conformance of the Admin API with Cloudinary, through the official Python SDK (and what the SDKs'
own integration tests expect), in both folder modes: resource types, resources by asset id, by
public ids, by tag and by context, deletes by tag, by prefix and all (≤ 1000 a call), folder
totals, `fields`, upload presets with typed settings, usage, tags — and one allowance unit per call."""

from __future__ import annotations

import cloudinary.api
import cloudinary.uploader
import pytest
from cloudinary.exceptions import AlreadyExists, BadRequest, NotFound

from fixtures.emulator import sdk
from fixtures.media import tiny_png


def upload(emulator, n: int, **options) -> dict:
    return cloudinary.uploader.upload(tiny_png(n), **options, **sdk(emulator))


def test_resource_types_and_resource_by_asset_id(any_mode_emulator):
    emulator = any_mode_emulator
    assert cloudinary.api.resource_types(**sdk(emulator)) == {"resource_types": []}
    image = upload(emulator, 1, tags=["t"], context={"alt": "a"})
    cloudinary.uploader.upload(b"a,b\n", resource_type="raw", **sdk(emulator))
    assert cloudinary.api.resource_types(**sdk(emulator))["resource_types"] == ["image", "raw"]
    found = cloudinary.api.resource_by_asset_id(image["asset_id"], **sdk(emulator))
    assert found == cloudinary.api.resource(image["public_id"], **sdk(emulator))
    assert (found["asset_id"], found["public_id"], found["tags"], found["context"]) == (
        image["asset_id"], image["public_id"], ["t"], {"custom": {"alt": "a"}})
    with pytest.raises(NotFound, match="Resource not found - 0123456789abcdef0123456789abcdef"):
        cloudinary.api.resource_by_asset_id("0123456789abcdef0123456789abcdef", **sdk(emulator))


def test_resources_by_ids_returns_exactly_those(any_mode_emulator):
    emulator = any_mode_emulator
    ids = [upload(emulator, i, public_id=f"by-ids/{i}")["public_id"] for i in range(4)]
    answer = cloudinary.api.resources_by_ids([ids[2], "by-ids/none", ids[0]], tags=True, **sdk(emulator))
    assert [r["public_id"] for r in answer["resources"]] == [ids[2], ids[0]]
    assert all(r["tags"] == [] for r in answer["resources"]) and "next_cursor" not in answer
    with pytest.raises(BadRequest, match="at most 100"):
        cloudinary.api.resources_by_ids([f"x{i}" for i in range(101)], **sdk(emulator))


def test_resources_by_tag_and_delete_by_tag(any_mode_emulator):
    emulator = any_mode_emulator
    tagged = [upload(emulator, i, tags=["sale", f"n{i}"])["public_id"] for i in range(3)]
    other = upload(emulator, 9, tags=["other"])["public_id"]
    listed = cloudinary.api.resources_by_tag("sale", max_results=2, **sdk(emulator))
    rest = cloudinary.api.resources_by_tag("sale", max_results=2, next_cursor=listed["next_cursor"], **sdk(emulator))
    assert [r["public_id"] for r in listed["resources"] + rest["resources"]] == tagged[::-1]  # newest first
    oldest = cloudinary.api.resources_by_tag("sale", direction="asc", tags=True, **sdk(emulator))["resources"]
    assert [r["public_id"] for r in oldest] == tagged and oldest[0]["tags"] == ["n0", "sale"]
    assert cloudinary.api.resources_by_tag("none", **sdk(emulator))["resources"] == []
    deleted = cloudinary.api.delete_resources_by_tag("sale", **sdk(emulator))
    assert deleted["deleted"] == dict.fromkeys(sorted(tagged), "deleted") and deleted["partial"] is False
    assert deleted["deleted_counts"][tagged[0]] == {"original": 1, "derived": 0}
    assert [r["public_id"] for r in cloudinary.api.resources(**sdk(emulator))["resources"]] == [other]
    notified = [n for n in emulator.notifications() if n["notification_type"] == "delete"]
    assert [sorted(r["public_id"] for r in n["body"]["resources"]) for n in notified] == [sorted(tagged)]


def test_delete_by_prefix_and_all_stop_at_1000_with_a_cursor(emulator):
    emulator.seed(1200, prefix="bulk/a")
    emulator.seed(3, prefix="keep/b")
    first = cloudinary.api.delete_resources_by_prefix("bulk/", **sdk(emulator))
    assert len(first["deleted"]) == 1000 and first["partial"] is True and first["next_cursor"]
    assert set(first["deleted"].values()) == {"deleted"} and min(first["deleted"]) == "bulk/a0000000"
    second = cloudinary.api.delete_resources_by_prefix("bulk/", next_cursor=first["next_cursor"], **sdk(emulator))
    assert len(second["deleted"]) == 200 and second["partial"] is False and "next_cursor" not in second
    assert emulator.settings()["assets"] == 3
    kept = cloudinary.api.delete_resources_by_prefix("keep/", keep_original=True, **sdk(emulator))
    assert kept["deleted_counts"]["keep/b0000000"] == {"original": 0, "derived": 0}
    assert emulator.settings()["assets"] == 3  # keep_original: only derived assets go, and there are none
    everything = cloudinary.api.delete_all_resources(**sdk(emulator))
    assert sorted(everything["deleted"]) == ["keep/b0000000", "keep/b0000001", "keep/b0000002"]
    assert emulator.settings()["assets"] == 0
    with pytest.raises(BadRequest, match="Missing required parameter"):
        cloudinary.api.delete_resources([], **sdk(emulator))


def test_by_asset_folder_counts_the_folder(any_mode_emulator):
    emulator = any_mode_emulator
    for i in range(3):
        upload(emulator, i, folder="albums/summer")
    upload(emulator, 7, folder="albums")
    page = cloudinary.api.resources_by_asset_folder("albums/summer", max_results=2, **sdk(emulator))
    assert page["total_count"] == 3 and len(page["resources"]) == 2 and page["next_cursor"]
    last = cloudinary.api.resources_by_asset_folder("albums/summer", next_cursor=page["next_cursor"],
                                                    **sdk(emulator))
    assert last["total_count"] == 3 and len(last["resources"]) == 1
    assert cloudinary.api.resources_by_asset_folder("nowhere", **sdk(emulator)) == {"resources": [], "total_count": 0}


def test_fields_select_what_listings_return(any_mode_emulator):
    """cloudinary_npm's "selective response": public_id, asset_id, the folder (fixed mode) and the fields."""
    emulator = any_mode_emulator
    uploaded = upload(emulator, 1, tags=["sel"], context={"alt": "x"}, folder="main-uploads")
    expected = {"public_id", "asset_id", "tags"} | ({"folder"} if emulator.folder_mode == "fixed" else set())
    for listing in (cloudinary.api.resources(fields=["tags"], **sdk(emulator)),
                    cloudinary.api.resources_by_ids([uploaded["public_id"]], fields="tags", **sdk(emulator)),
                    cloudinary.api.resources_by_tag("sel", fields=["tags"], **sdk(emulator)),
                    cloudinary.api.resources_by_asset_ids([uploaded["asset_id"]], fields=["tags"], **sdk(emulator)),
                    cloudinary.api.resources_by_asset_folder("main-uploads", fields=["tags"], **sdk(emulator)),
                    cloudinary.api.resources_by_context("alt", fields=["tags"], **sdk(emulator))):
        assert set(listing["resources"][0]) == expected and listing["resources"][0]["tags"] == ["sel"]
    chosen = cloudinary.api.resources(fields=["bytes", "context", "format"], **sdk(emulator))["resources"][0]
    assert chosen["bytes"] == len(tiny_png(1)) and chosen["context"] == {"custom": {"alt": "x"}}
    assert chosen["format"] == "png" and "secure_url" not in chosen and "tags" not in chosen


def test_upload_presets_created_updated_deleted_with_typed_settings(any_mode_emulator):
    emulator = any_mode_emulator
    created = cloudinary.api.create_upload_preset(name="typed", unsigned=True, folder="albums", use_filename=True,
                                                  unique_filename=False, tags=["a", "b"], auto_tagging=0.6,
                                                  **sdk(emulator))
    assert created == {"message": "created", "name": "typed"}
    assert cloudinary.api.upload_preset("typed", **sdk(emulator)) == {"name": "typed", "unsigned": True, "settings": {
        "folder": "albums", "use_filename": True, "unique_filename": False, "tags": "a,b", "auto_tagging": 0.6}}
    with pytest.raises(AlreadyExists):
        cloudinary.api.create_upload_preset(name="typed", **sdk(emulator))
    unnamed = cloudinary.api.create_upload_preset(use_asset_folder_as_public_id_prefix=True, **sdk(emulator))
    assert cloudinary.api.upload_preset(unnamed["name"], **sdk(emulator))["settings"] == {
        "use_asset_folder_as_public_id_prefix": True}  # cloudinary_npm's "dynamic folders" preset test
    assert cloudinary.api.update_upload_preset("typed", unsigned=False, overwrite=True, folder="other",
                                               **sdk(emulator)) == {"message": "updated"}
    updated = cloudinary.api.upload_preset("typed", **sdk(emulator))
    assert updated["unsigned"] is False and updated["settings"]["overwrite"] is True
    assert updated["settings"]["folder"] == "other" and updated["settings"]["use_filename"] is True  # kept
    cloudinary.api.update_upload_preset("typed", unsigned=True, **sdk(emulator))
    result = cloudinary.uploader.unsigned_upload(tiny_png(3), "typed", filename="cat.png",
                                                 cloud_name=emulator.cloud_name, upload_prefix=emulator.base_url)
    assert result["tags"] == ["a", "b"] and result["asset_folder"] == "other"
    assert result["public_id"] == ("other/cat" if emulator.folder_mode == "fixed" else "cat")
    assert cloudinary.api.delete_upload_preset("typed", **sdk(emulator)) == {"message": "deleted"}
    with pytest.raises(NotFound, match="Can't find upload preset named typed"):
        cloudinary.api.upload_preset("typed", **sdk(emulator))
    with pytest.raises(NotFound):
        cloudinary.api.delete_upload_preset("typed", **sdk(emulator))
    listed = cloudinary.api.upload_presets(max_results=1, **sdk(emulator))
    assert len(listed["presets"]) == 1 and listed["next_cursor"]
    rest = cloudinary.api.upload_presets(next_cursor=listed["next_cursor"], **sdk(emulator))
    assert {p["name"] for p in listed["presets"] + rest["presets"]} == {"tap2go-uploads", unnamed["name"]}


def test_usage_and_tags(emulator):
    upload(emulator, 1, tags=["beta", "alpha"])
    upload(emulator, 2, tags=["alpha", "gamma"])
    usage = cloudinary.api.usage(**sdk(emulator))
    # exactly the keys cloudinary_npm's "should support the usage API call" expects
    assert set(usage) == {"plan", "last_updated", "transformations", "objects", "bandwidth", "storage", "requests",
                          "resources", "derived_resources", "media_limits"}
    assert usage["objects"]["usage"] == usage["resources"] == 2
    assert usage["storage"]["usage"] == len(tiny_png(1)) + len(tiny_png(2))
    assert usage["media_limits"]["image_max_px"] == 100_000_000
    dated = cloudinary.api.usage(date="01-06-2025", **sdk(emulator))
    assert dated["last_updated"] == "2025-06-01" and "limit" not in dated["bandwidth"]
    with pytest.raises(BadRequest, match="Invalid date"):
        cloudinary.api.usage(date="2025-06-01", **sdk(emulator))
    assert cloudinary.api.tags(**sdk(emulator)) == {"tags": ["alpha", "beta", "gamma"]}
    first = cloudinary.api.tags(max_results=2, **sdk(emulator))
    assert first["tags"] == ["alpha", "beta"]
    assert cloudinary.api.tags(next_cursor=first["next_cursor"], **sdk(emulator)) == {"tags": ["gamma"]}
    assert cloudinary.api.tags(prefix="g", **sdk(emulator)) == {"tags": ["gamma"]}
    assert cloudinary.api.tags(resource_type="video", **sdk(emulator)) == {"tags": []}


def test_each_admin_call_costs_one_unit_of_the_allowance(emulator):
    image = upload(emulator, 1, tags=["t"], context={"k": "v"})
    emulator.control(reset_meter=True)
    calls = [lambda: cloudinary.api.resource_types(**sdk(emulator)),
             lambda: cloudinary.api.resource_by_asset_id(image["asset_id"], **sdk(emulator)),
             lambda: cloudinary.api.resources_by_ids([image["public_id"]], **sdk(emulator)),
             lambda: cloudinary.api.resources_by_tag("t", **sdk(emulator)),
             lambda: cloudinary.api.resources_by_context("k", **sdk(emulator)),
             lambda: cloudinary.api.resources_by_asset_folder("f", **sdk(emulator)),
             lambda: cloudinary.api.tags(**sdk(emulator)), lambda: cloudinary.api.usage(**sdk(emulator)),
             lambda: cloudinary.api.create_upload_preset(name="p", **sdk(emulator)),
             lambda: cloudinary.api.update_upload_preset("p", folder="f", **sdk(emulator)),
             lambda: cloudinary.api.delete_upload_preset("p", **sdk(emulator)),
             lambda: cloudinary.api.delete_resources_by_tag("none", **sdk(emulator)),
             lambda: cloudinary.api.delete_resources_by_prefix("none/", **sdk(emulator))]
    for count, call in enumerate(calls, start=1):
        answer = call()
        assert emulator.admin_calls() == count and answer.rate_limit_remaining is not None
    cloudinary.uploader.add_context({"a": "b"}, [image["public_id"]], **sdk(emulator))  # Upload API: free
    assert emulator.admin_calls() == len(calls)
    assert emulator.admin_call_log()[:3] == ["GET resources", f"GET resources/{image['asset_id']}",
                                             "GET resources/image/upload"]
    emulator.control(rate_limit=len(calls) + 1)
    cloudinary.api.usage(**sdk(emulator))
    with pytest.raises(cloudinary.exceptions.RateLimited):
        cloudinary.api.resource_types(**sdk(emulator))
