"""ManagedScope: what mediasync owns, in both folder modes (pure)."""

from __future__ import annotations

import pytest

from mediasync.config import Settings
from mediasync.errors import ConfigError, InvalidInput
from mediasync.scope import ManagedScope, mode_reported_by_asset, resolve_folder_mode
from mediasync.services.reconcile.listing import _split
from mediasync.services.reconcile.reports import csv_cell
from mediasync.store import ListedFacts, ListingPage, ListingSource

SETTINGS = Settings(managed_folders=("main-uploads", "avatars"))


def test_fixed_mode_owns_by_public_id_prefix_and_lists_by_prefix():
    scope = ManagedScope.from_settings(SETTINGS, "fixed")
    assert scope.contains("main-uploads/a") and scope.contains("main-uploads/sub/a") and scope.contains("avatars/x")
    assert not scope.contains("main-uploads-other/a") and not scope.contains("a") and not scope.contains("x/a")
    assert not scope.contains("other-app/a", asset_folder="main-uploads")  # fixed: the public_id decides
    assert scope.sources(("image", "raw")) == [ListingSource("image", prefix="main-uploads/"),
                                               ListingSource("image", prefix="avatars/"),
                                               ListingSource("raw", prefix="main-uploads/"),
                                               ListingSource("raw", prefix="avatars/")]


def test_dynamic_mode_owns_by_asset_folder_and_lists_by_asset_folder():
    scope = ManagedScope.from_settings(SETTINGS, "dynamic")
    assert scope.contains("abc123", asset_folder="main-uploads") and scope.contains("x", asset_folder="avatars/2024")
    assert not scope.contains("main-uploads/a", asset_folder="") and not scope.contains("a", asset_folder=None)
    assert not scope.contains("a", asset_folder="main-uploads-old")
    assert scope.sources(("video",)) == [ListingSource("video", asset_folder="main-uploads"),
                                         ListingSource("video", asset_folder="avatars")]


def test_the_whole_account_only_on_request_and_a_folder_narrows_but_never_widens():
    account = ManagedScope.from_settings(SETTINGS, "dynamic", whole_account=True)
    assert account.contains("anything", asset_folder="other-app") and account.sources(("image",)) == [
        ListingSource("image")]
    managed = ManagedScope.from_settings(SETTINGS, "fixed")
    assert managed.narrowed_to("main-uploads/sub").folders == ("main-uploads/sub",)
    with pytest.raises(InvalidInput, match="outside the managed folders"):
        managed.narrowed_to("other-app")
    with pytest.raises(InvalidInput):
        managed.narrowed_to("main")  # a prefix of a managed folder is not inside it
    assert account.narrowed_to("other-app").folders == ("other-app",)
    assert len({ManagedScope.from_settings(SETTINGS, m).inventory_key for m in ("fixed", "dynamic")} |
               {account.inventory_key}) == 3


def test_nested_managed_folders_are_listed_once():
    scope = ManagedScope(("main-uploads", "main-uploads/sub", "b"), "fixed")
    assert [s.prefix for s in scope.sources(("image",))] == ["main-uploads/", "b/"]


def test_managed_folders_setting_is_validated():
    assert Settings.from_env({"MEDIASYNC_MANAGED_FOLDERS": " a/b/ , c,a/b"}).owned_folders == ("a/b", "c")
    assert Settings.from_env({}).owned_folders == ("main-uploads",)
    for bad in ("a b", 'x"y', "a//b", "*"):
        with pytest.raises(ConfigError, match="MEDIASYNC_MANAGED_FOLDERS"):
            Settings.from_env({"MEDIASYNC_MANAGED_FOLDERS": bad})


@pytest.mark.parametrize("cell", ["=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_csv_cells_that_look_like_formulas_are_escaped(cell):
    assert csv_cell(cell) == "'" + cell
    assert csv_cell("main-uploads/a=b") == "main-uploads/a=b" and csv_cell(3) == 3 and csv_cell(None) is None


@pytest.mark.parametrize(("configured", "reported", "expected"), [
    ("fixed", "dynamic", "fixed"), ("dynamic", "fixed", "dynamic"),  # configured: Cloudinary is not asked
    ("auto", "dynamic", "dynamic"), ("auto", "fixed", "fixed"), ("auto", None, "fixed"),
])
def test_folder_mode_auto_is_resolved_once_for_listings_and_notifications(configured, reported, expected):
    asked: list[bool] = []

    def cloudinary_says():
        asked.append(True)
        return reported

    assert resolve_folder_mode(configured, cloudinary_says) == expected
    assert asked == ([True] if configured == "auto" else [])
    # A notification's asset says what its account is: an asset_folder only in dynamic mode.
    assert resolve_folder_mode(configured, lambda: mode_reported_by_asset("cats" if reported == "dynamic" else None)) \
        == expected


def test_an_owned_asset_s_folder_comes_with_the_check_and_nothing_else_has_one():
    fixed, dynamic = (ManagedScope.from_settings(SETTINGS, mode) for mode in ("fixed", "dynamic"))
    assert fixed.owned_folder("main-uploads/sub/a") == "main-uploads/sub" and fixed.owned_folder("avatars/x") == "avatars"
    assert dynamic.owned_folder("abc", asset_folder="/avatars/2024/") == "avatars/2024"
    for scope, public_id, asset_folder in [(fixed, "main-uploads2/a", None), (fixed, "a", None),
                                           (fixed, "main-uploads/../a", None), (dynamic, "a", "main"),
                                           (dynamic, "a", None), (dynamic, "a", "main-uploads/./x")]:
        assert scope.owned_folder(public_id, asset_folder) is None and not scope.contains(public_id, asset_folder)
    account = ManagedScope.from_settings(SETTINGS, "fixed", whole_account=True)
    assert account.owned_folder("other-app/a") == "other-app" and account.owned_folder("a") == ""
    assert account.owned_folder("other/../a") is None  # not a safe path: in no scope at all


def test_a_page_keeps_what_the_scope_owns_with_its_folder_and_counts_the_live_rest():
    listed = [("main-uploads/a", False), ("main-uploads/b", True), ("other/c", False), ("other/d", True),
              ("x/../e", False)]
    page = ListingPage([_listed(public_id, placeholder) for public_id, placeholder in listed], next_cursor=None)
    managed = ManagedScope.from_settings(SETTINGS, "fixed")
    kept, unmanaged = _split(managed, page)
    assert [(a.public_id, folder) for a, folder in kept] == [("main-uploads/a", "main-uploads"),
                                                            ("main-uploads/b", "main-uploads")]
    assert unmanaged == 2  # other/c and the unsafe x/../e; a placeholder outside is not a live asset
    kept, unmanaged = _split(ManagedScope.from_settings(SETTINGS, "fixed", whole_account=True), page)
    assert [(a.public_id, folder) for a, folder in kept][2:] == [("other/c", "other"), ("other/d", "other")]
    assert unmanaged == 2  # kept in an account-scope run, still counted as outside the managed folders


def _listed(public_id: str, placeholder: bool) -> ListedFacts:
    return ListedFacts(public_id, "image", "upload", "png", 0 if placeholder else 1, 1, "e", None, None, None, None,
                       f"id-{public_id}", None, None, placeholder)
