"""Public ids checked at the door, scope decided on path segments, delivery URLs built one encoded
segment at a time, on the configured host (pure)."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediasync import public_ids
from mediasync.clients.cloudinary import CloudinaryCredentials
from mediasync.config import Settings
from mediasync.delivery import delivery_origin, delivery_url, origin_of
from mediasync.errors import InvalidInput
from mediasync.public_ids import (
    FORBIDDEN_CHARACTERS,
    checked_public_id,
    encoded_path,
    is_valid_folder,
    is_valid_public_id,
    public_id_problem,
    within,
)
from mediasync.scope import ManagedScope

TRAVERSAL = "main-uploads/../../../../../_emulator/control"
EMULATOR = CloudinaryCredentials("demo", "k", "s", "http://127.0.0.1:9555")


@pytest.mark.parametrize(("public_id", "why"), [
    (TRAVERSAL, "'..'"), ("main-uploads/./a", "'.'"), ("main-uploads//a", "empty"), ("/main-uploads/a", "empty"),
    ("main-uploads/a/", "empty"), ("main-uploads/a\x00", "control"), ("main-uploads/a\nb", "control"),
    ("main-uploads/a\x85", "control"), ("a" * 256, "longer than 255"), ("", "empty"), (" a", "whitespace"),
    ("main-uploads/a?b", "forbids"), ("main-uploads/a#b", "forbids"), ("main-uploads/a%2e", "forbids"),
    ("main-uploads\\..\\a", "forbids"), ("main-uploads/v12/a", "version"), (["a"], "string"), (None, "string"),
])
def test_unsafe_public_ids_are_refused_saying_why(public_id, why):
    assert why in (public_id_problem(public_id) or "")
    with pytest.raises(InvalidInput) as refused:
        checked_public_id(public_id)
    assert refused.value.status_code == 422


@pytest.mark.parametrize("public_id", ["main-uploads/a", "main-uploads/sub/photo.v2.png", "résumé/ünïcode 1",
                                       "a" * 255, "main-uploads/v12", "x..y/..z", "a.b/c"])
def test_ordinary_public_ids_pass(public_id):
    assert checked_public_id(public_id) == public_id


def test_scope_is_decided_on_segments_and_never_contains_an_unsafe_id():
    scope = ManagedScope.from_settings(Settings(managed_folders=("main-uploads",)), "fixed")
    assert scope.contains("main-uploads/a") and not scope.contains(TRAVERSAL)
    assert not scope.contains("main-uploads/./a") and not scope.contains("main-uploads//a")
    assert not scope.contains("main-uploads-old/a")
    account = ManagedScope.from_settings(Settings(), "fixed", whole_account=True)
    assert account.contains("anything/at/all") and not account.contains(TRAVERSAL)
    dynamic = ManagedScope.from_settings(Settings(), "dynamic")
    assert not dynamic.contains("x", asset_folder="main-uploads/../other-app")
    assert within("main-uploads/sub", "main-uploads") and not within("main-uploads/../x", "main-uploads")
    assert not within("main-uploadsX", "main-uploads") and within("anything", "") and not is_valid_folder("a/../b")
    with pytest.raises(InvalidInput, match=r"'\.\.'"):
        scope.narrowed_to("main-uploads/..")


def test_delivery_urls_encode_each_segment_and_stay_on_the_configured_host():
    url = delivery_url(EMULATOR, public_id="main-uploads/a b/c;d@e", resource_type="image", type="upload",
                       version=3, format="png")
    assert url == "http://127.0.0.1:9555/demo/image/upload/v3/main-uploads/a%20b/c%3Bd%40e.png"
    assert encoded_path("x/y z") == "x/y%20z"
    assert origin_of(url) == delivery_origin(EMULATOR) == "http://127.0.0.1:9555"
    assert delivery_origin(CloudinaryCredentials("demo", "k", "s")) == "https://res.cloudinary.com"
    for bad in ({"public_id": TRAVERSAL}, {"format": "png/../../x"}, {"resource_type": "../x"}, {"type": "up/load"}):
        arguments = {"public_id": "main-uploads/a", "resource_type": "image", "type": "upload", "version": 1,
                     "format": "png", **bad}
        with pytest.raises(InvalidInput):
            delivery_url(EMULATOR, **arguments)


def _problem_segment_by_segment(value: str, max_length: int = 255) -> str | None:
    """The checks spelled out one character and one segment at a time (what the patterns must agree with)."""
    if value == "":
        return "must not be empty"
    if len(value) > max_length:
        return "longer"
    if any(unicodedata.category(c) == "Cc" for c in value):
        return "control"
    if FORBIDDEN_CHARACTERS.intersection(value):
        return "forbids"
    parts = value.split("/")
    if "" in parts:
        return "empty path segment"
    if any(s != s.strip() for s in parts):
        return "whitespace"
    if any(s in (".", "..") for s in parts):
        return "'.' or '..'"
    if any(re.fullmatch(r"v\d+", s) for s in parts[:-1]):
        return "version"
    return None


def test_the_character_classes_are_the_unicode_ones():
    for code in range(0x110000):
        c = chr(code)
        assert bool(public_ids._CONTROL.search(c)) == (unicodedata.category(c) == "Cc"), hex(code)
        assert bool(re.fullmatch(r"\s", c)) == c.isspace() == (c != c.strip()), hex(code)


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet="ab/. v1٣\t\x85\xa0\u2003\x7f?%", max_size=12))
def test_the_patterns_find_the_same_problems_as_the_checks_spelled_out(value):
    expected = _problem_segment_by_segment(value)
    found = public_id_problem(value)
    assert (found is None) == (expected is None), (value, found, expected)
    assert expected is None or expected in found, (value, found, expected)


_PATHS = st.text(alphabet="ab/. v1", max_size=8)


@settings(max_examples=2000, deadline=None)
@given(_PATHS, st.one_of(st.none(), _PATHS), st.lists(_PATHS, min_size=1, max_size=3),
       st.sampled_from(["fixed", "dynamic"]))
def test_scope_containment_is_within_a_managed_folder(public_id, asset_folder, folders, mode):
    scope = ManagedScope(tuple(folders), mode)
    folder = public_id.rpartition("/")[0] if mode == "fixed" else (asset_folder or "").strip("/")
    expected = (is_valid_public_id(public_id) and is_valid_folder((asset_folder or "").strip("/"))
                and any(within(folder, managed) for managed in folders))
    assert scope.contains(public_id, asset_folder) == expected


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet="aZ09_-./v1٣ ", max_size=14))
def test_plain_paths_pass_only_when_the_checks_spelled_out_pass(value):
    """The one-pattern path for plain ASCII names agrees with every check, version folders and
    dot segments included."""
    expected = _problem_segment_by_segment(value)
    found = public_id_problem(value)
    assert (found is None) == (expected is None), (value, found, expected)
