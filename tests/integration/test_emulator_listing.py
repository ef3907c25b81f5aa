"""Listings as Cloudinary orders them, through the SDK: `resources` newest first (by public_id with a
prefix), cursors that neither skip nor repeat while assets come and go, `by_asset_folder`,
`by_asset_ids`, `delete_resources_by_asset_ids` and the Search API subset — each metered."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import cloudinary.api
import cloudinary.uploader
import pytest
from cloudinary import Search
from cloudinary.exceptions import BadRequest

from fixtures.emulator import sdk
from fixtures.media import tiny_png
from mediasync.store import search_instant


def upload(emulator, n: int, **options) -> dict:
    return cloudinary.uploader.upload(tiny_png(n), **options, **sdk(emulator))


def walk(fetch, **params) -> list[str]:
    seen, cursor = [], None
    while True:
        page = fetch(next_cursor=cursor, **params)
        seen += [r["public_id"] for r in page["resources"]]
        cursor = page.get("next_cursor")
        if not cursor:
            return seen


def test_resources_newest_first_and_by_public_id_with_a_prefix(emulator):
    ids = [upload(emulator, i, public_id=f"main-uploads/{name}")["public_id"] for i, name in enumerate("cab")]
    listed = cloudinary.api.resources(type="upload", **sdk(emulator))
    assert [r["public_id"] for r in listed["resources"]] == ids[::-1]  # newest first
    oldest = cloudinary.api.resources(direction="asc", **sdk(emulator))
    assert [r["public_id"] for r in oldest["resources"]] == ids
    prefixed = cloudinary.api.resources(prefix="main-uploads/", **sdk(emulator))
    assert [r["public_id"] for r in prefixed["resources"]] == sorted(ids)
    assert set(prefixed["resources"][0]) >= {"asset_id", "public_id", "format", "version", "resource_type", "type",
                                             "created_at", "bytes", "width", "height", "asset_folder",
                                             "display_name", "url", "secure_url"}


def test_cursor_stays_correct_while_assets_are_added_and_deleted(emulator):
    emulator.seed(50, prefix="main-uploads/s")
    everyone = set(walk(lambda **p: cloudinary.api.resources(max_results=50, **p, **sdk(emulator))))
    first = cloudinary.api.resources(max_results=10, **sdk(emulator))
    seen = [r["public_id"] for r in first["resources"]]
    cursor = first["next_cursor"]
    upload(emulator, 1, public_id="main-uploads/arrived-late")  # newer: belongs before the cursor
    cloudinary.api.delete_resources([seen[0], "main-uploads/s0000049"], **sdk(emulator))  # behind and ahead
    while cursor:
        page = cloudinary.api.resources(max_results=10, next_cursor=cursor, **sdk(emulator))
        seen += [r["public_id"] for r in page["resources"]]
        cursor = page.get("next_cursor")
        if len(seen) in (20, 30):
            upload(emulator, len(seen), public_id=f"main-uploads/new{len(seen)}")
            cloudinary.api.delete_resources([seen[-1]], **sdk(emulator))
    assert len(seen) == len(set(seen))  # no repeats
    assert everyone - {"main-uploads/s0000049"} <= set(seen)  # no skips of assets that stayed
    assert "main-uploads/arrived-late" not in seen


def test_prefix_cursor_is_stable_too(emulator):
    emulator.seed(30, prefix="main-uploads/p")
    first = cloudinary.api.resources(prefix="main-uploads/", max_results=10, **sdk(emulator))
    cloudinary.api.delete_resources(["main-uploads/p0000000", "main-uploads/p0000015"], **sdk(emulator))
    cursor, rest = first["next_cursor"], []
    while cursor:
        page = cloudinary.api.resources(prefix="main-uploads/", max_results=10, next_cursor=cursor, **sdk(emulator))
        rest += [r["public_id"] for r in page["resources"]]
        cursor = page.get("next_cursor")
    assert rest == [f"main-uploads/p{i:07d}" for i in range(10, 30) if i != 15]
    with pytest.raises(BadRequest, match="Invalid next_cursor"):
        cloudinary.api.resources(next_cursor="not-a-cursor", **sdk(emulator))


def test_by_asset_folder_pages_and_asset_ids(any_mode_emulator):
    emulator = any_mode_emulator
    made = [upload(emulator, i, folder="albums/summer") for i in range(7)]
    upload(emulator, 99, folder="albums")
    before = emulator.admin_calls()
    seen = walk(lambda **p: cloudinary.api.resources_by_asset_folder("albums/summer", max_results=3, **p,
                                                                     **sdk(emulator)))
    assert seen == [m["public_id"] for m in made][::-1]  # newest first, paged
    assert emulator.admin_calls() - before == 3
    ids = [made[1]["asset_id"], made[4]["asset_id"], "0" * 32]
    found = cloudinary.api.resources_by_asset_ids(ids, **sdk(emulator))
    assert {r["asset_id"] for r in found["resources"]} == set(ids[:2])
    gone = cloudinary.api.delete_resources_by_asset_ids(ids, **sdk(emulator))
    assert gone["deleted"] == {ids[0]: "deleted", ids[1]: "deleted", ids[2]: "not_found"}
    left = cloudinary.api.resources_by_asset_folder("albums/summer", max_results=10, **sdk(emulator))
    assert len(left["resources"]) == 5


def test_search_expression_subset_with_pagination(any_mode_emulator):
    emulator = any_mode_emulator
    made = [upload(emulator, i, folder="main-uploads", public_id=f"shot{i}") for i in range(5)]
    upload(emulator, 10, folder="elsewhere", public_id="shot-elsewhere")
    cloudinary.uploader.upload(b"plain text", resource_type="raw", folder="main-uploads", **sdk(emulator))
    before = emulator.admin_calls()
    for expression in ('asset_folder="main-uploads"', "asset_folder:main-uploads", 'folder="main-uploads"'):
        result = Search().expression(f"{expression} AND resource_type:image").max_results(2).execute(**sdk(emulator))
        assert result["total_count"] == 5 and len(result["resources"]) == 2
        assert [r["public_id"] for r in result["resources"]] == [made[4]["public_id"], made[3]["public_id"]]
    everything, cursor = [], None
    while True:
        search = Search().expression('asset_folder="main-uploads" AND type:upload').sort_by("public_id", "asc")
        page = search.max_results(2).next_cursor(cursor).execute(**sdk(emulator)) if cursor else \
            search.max_results(2).execute(**sdk(emulator))
        everything += [r["public_id"] for r in page["resources"]]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    assert len(everything) == 6 and everything == sorted(everything)  # by public_id, ascending
    assert {m["public_id"] for m in made} <= set(everything)
    prefix = "main-uploads/shot" if emulator.folder_mode == "fixed" else "shot"
    by_prefix = Search().expression(f"public_id:{prefix}*").max_results(50).execute(**sdk(emulator))
    assert by_prefix["total_count"] == (5 if emulator.folder_mode == "fixed" else 6)  # + shot-elsewhere
    recent = Search().expression("uploaded_at>1d AND resource_type:image").execute(**sdk(emulator))
    assert recent["total_count"] == 6
    old = Search().expression("created_at<2000-01-01").execute(**sdk(emulator))
    assert old["total_count"] == 0 and "next_cursor" not in old
    newer = Search().expression("created_at>=2000-01-01T00:00:00Z").with_field("tags").execute(**sdk(emulator))
    assert newer["total_count"] == 7 and "tags" in newer["resources"][0]
    assert emulator.admin_calls() - before == 3 + 3 + 4  # every search call is an Admin API call
    quoted = Search().expression('uploaded_at>"2000-01-01T00:00:00Z"').execute(**sdk(emulator))
    assert quoted["total_count"] == 7  # a quoted UTC moment, as mediasync's incremental listing writes it
    with pytest.raises(BadRequest, match="write UTC with Z"):  # Cloudinary does not read an offset
        Search().expression('uploaded_at>"2000-01-01T00:00:00+00:00"').execute(**sdk(emulator))
    with pytest.raises(BadRequest, match="Invalid search expression"):
        Search().expression("colors:red OR tags:x").execute(**sdk(emulator))
    with pytest.raises(BadRequest, match="max_results"):
        Search().expression("").max_results(501).execute(**sdk(emulator))


def test_search_by_upload_time_in_public_id_order_walks_exactly_the_range(any_mode_emulator):
    """A range of a partitioned listing: uploaded_at bounds, public_id order, both directions, across
    pages, while an asset not yet reached is deleted — the pages hold exactly the range's assets,
    even where public_id order and upload order disagree (two series uploaded interleaved)."""
    emulator = any_mode_emulator
    emulator.seed(30, prefix="main-uploads/b", spread_seconds=30 * 86400)
    emulator.seed(30, prefix="main-uploads/a", age_seconds=15 * 86400, spread_seconds=30 * 86400)
    emulator.seed(5, prefix="main-uploads/c", age_seconds=100 * 86400)
    now = datetime.now(timezone.utc)
    start, end = (search_instant(now - timedelta(days=days)) for days in (35, 10))
    everything = cloudinary.api.resources_by_asset_folder("main-uploads", max_results=500, **sdk(emulator))
    in_range = sorted(r["public_id"] for r in everything["resources"] if start <= r["created_at"] < end)
    assert 20 < len(in_range) < 60 and {p.rpartition("/")[2][0] for p in in_range} == {"a", "b"}
    expression = f'asset_folder:main-uploads/* AND uploaded_at>="{start}" AND uploaded_at<"{end}"'
    for direction in ("asc", "desc"):
        expected, seen, cursor, gone = in_range if direction == "asc" else in_range[::-1], [], None, None
        while True:
            search = Search().expression(expression).sort_by("public_id", direction).max_results(7)
            page = (search.next_cursor(cursor) if cursor else search).execute(**sdk(emulator))
            assert page["total_count"] == len(expected) - (gone is not None)
            seen += [r["public_id"] for r in page["resources"]]
            cursor = page.get("next_cursor")
            if gone is None:  # an asset the walk has not reached yet goes away
                gone = expected[-3]
                cloudinary.api.delete_resources([gone], **sdk(emulator))
            if not cursor:
                break
        assert seen == [p for p in expected if p != gone]
        in_range.remove(gone)


def test_search_entries_carry_what_each_asset_has(any_mode_emulator):
    emulator = any_mode_emulator
    image = upload(emulator, 1, folder="main-uploads", public_id="entry-image")
    raw = cloudinary.uploader.upload(b"plain text", resource_type="raw", folder="main-uploads", **sdk(emulator))
    found = Search().expression("asset_folder:main-uploads").with_field("tags").execute(**sdk(emulator))
    entries = {r["asset_id"]: r for r in found["resources"]}
    shown, plain = entries[image["asset_id"]], entries[raw["asset_id"]]
    assert shown["url"] == shown["secure_url"] == image["secure_url"] and plain["url"] == raw["secure_url"]
    assert (shown["format"], shown["width"], shown["height"]) == (image["format"], image["width"], image["height"])
    assert shown["aspect_ratio"] == round(image["width"] / image["height"], 5)
    assert shown["pixels"] == image["width"] * image["height"] and shown["tags"] == [] == plain["tags"]
    assert not {"format", "width", "height", "aspect_ratio", "pixels"} & plain.keys()  # a raw file has none
    for entry in (shown, plain):
        assert ("folder" in entry) == (emulator.folder_mode == "fixed") and entry["asset_folder"] == "main-uploads"
        assert entry["uploaded_at"] == entry["created_at"] and "placeholder" not in entry


def test_search_fields_answer_what_is_always_included_and_what_is_named(any_mode_emulator):
    """Cloudinary's Search `fields`: each entry carries public_id, asset_id, asset_folder, created_at,
    status, type and resource_type, plus the fields named and nothing else; it takes precedence over
    `with_field` (tags only when named); a list in the SDK's JSON body or comma-separated in a GET."""
    import httpx

    emulator = any_mode_emulator
    image = upload(emulator, 1, folder="main-uploads", public_id="picked", tags=["kept"])
    always = {"public_id", "asset_id", "asset_folder", "created_at", "status", "type", "resource_type"}
    search = Search().expression("asset_folder:main-uploads")
    (entry,) = search.fields(["bytes", "secure_url"]).with_field("tags").execute(**sdk(emulator))["resources"]
    assert entry.keys() == always | {"bytes", "secure_url"}
    assert (entry["public_id"], entry["asset_id"], entry["bytes"], entry["secure_url"], entry["status"]) == (
        image["public_id"], image["asset_id"], image["bytes"], image["secure_url"], "active")
    assert (entry["created_at"], entry["asset_folder"], entry["type"]) == (image["created_at"], "main-uploads", "upload")
    (tagged,) = Search().expression("asset_folder:main-uploads").fields("tags").execute(**sdk(emulator))["resources"]
    assert tagged.keys() == always | {"tags"} and tagged["tags"] == ["kept"]
    answer = httpx.get(f"{emulator.base_url}/v1_1/demo/resources/search",
                       params={"expression": "folder:main-uploads", "fields": "format, width"},
                       auth=(emulator.api_key, emulator.api_secret))
    (got,) = answer.json()["resources"]
    assert got.keys() == always | {"format", "width"} and got["width"] == image["width"]


def test_search_by_get_as_well(emulator):
    upload(emulator, 1, folder="main-uploads")
    import httpx

    answer = httpx.get(f"{emulator.base_url}/v1_1/demo/resources/search", params={"expression": "folder:main-uploads"},
                       auth=(emulator.api_key, emulator.api_secret))
    assert answer.status_code == 200 and answer.json()["total_count"] == 1
    assert answer.headers["X-FeatureRateLimit-Limit"]


def test_page_cost_stays_flat_on_a_large_store(emulator):
    emulator.seed(200_000, prefix="main-uploads/big")
    timings = []
    for fetch in (lambda c: cloudinary.api.resources(max_results=500, next_cursor=c, **sdk(emulator)),
                  lambda c: cloudinary.api.resources_by_asset_folder("main-uploads", max_results=500, next_cursor=c,
                                                                     **sdk(emulator)),
                  lambda c: Search().expression("asset_folder=main-uploads").max_results(500).next_cursor(c)
                  .execute(**sdk(emulator)) if c else Search().expression("asset_folder=main-uploads")
                  .max_results(500).execute(**sdk(emulator))):
        cursor, pages = None, []
        for _ in range(20):
            started = time.perf_counter()
            page = fetch(cursor)
            pages.append(time.perf_counter() - started)
            cursor = page["next_cursor"]
        timings.append(pages)
        assert max(pages[10:]) < 1.0, pages
    assert cloudinary.api.resources(prefix="main-uploads/big01999", max_results=500,
                                    **sdk(emulator))["resources"][0]["public_id"] == "main-uploads/big0199900"
