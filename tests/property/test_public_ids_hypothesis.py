"""Public ids, any text at all: either refused at the door with a 4xx, or a path that round-trips —
inside the managed scope by its segments (never by a string prefix), into a delivery URL on the
configured host whose decoded path is exactly the id, and through the emulator: uploaded under
that id with the official SDK, listed back by the reconciliation's listing, and delivered byte for
byte from the URL mediasync builds."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from fixtures.emulator import sdk
from fixtures.media import tiny_png
from mediasync.clients.cloudinary import CloudinaryCredentials
from mediasync.config import Settings
from mediasync.delivery import delivery_origin, delivery_url
from mediasync.errors import InvalidInput
from mediasync.public_ids import FORBIDDEN_CHARACTERS, checked_public_id, is_valid_public_id
from mediasync.scope import ManagedScope
from mediasync.store import ListingSource

pytestmark = pytest.mark.reliability
EMULATOR = CloudinaryCredentials("demo", "k", "s", "http://127.0.0.1:9555")
SCOPE = ManagedScope.from_settings(Settings(managed_folders=("main-uploads",)), "fixed")

# Names as Cloudinary allows them: any language's characters, no separators or forbidden characters.
NAME_CHARACTERS = st.characters(blacklist_categories=("Cc", "Cs"),
                                blacklist_characters="/" + "".join(FORBIDDEN_CHARACTERS))
names = st.text(NAME_CHARACTERS, min_size=1, max_size=12).filter(lambda s: s == s.strip() and s not in (".", ".."))
paths = st.lists(names, min_size=1, max_size=4).map("/".join).filter(is_valid_public_id)
# Anything a caller could send: dot segments, separators, controls and forbidden characters mixed in.
hostile = st.lists(st.one_of(names, st.sampled_from(["..", ".", "", "main-uploads", "_emulator", "control", "\x00",
                                                     "%2e%2e", "?x", "#", "a\\b", " "])),
                   min_size=1, max_size=6).map("/".join)


def checked(text: str) -> tuple[str | None, InvalidInput | None]:
    """(the public_id, None) or (None, the InvalidInput it was refused with)."""
    try:
        return checked_public_id(text), None
    except InvalidInput as refused:
        return None, refused


def decoded_public_id(url: str) -> str:
    """The public_id a delivery URL names: the path after `/{cloud}/{type}/{type}/v{version}/`, less the format."""
    path = urlsplit(url).path.split("/")[5:]
    return "/".join(unquote(segment) for segment in path).removesuffix(".png")


@settings(max_examples=500, deadline=None)
@given(st.one_of(paths, hostile, st.text(max_size=300)))
def test_any_text_is_refused_with_a_4xx_or_round_trips(text):
    public_id, refused = checked(text)
    if refused is not None:
        assert refused.status_code == 422 and not SCOPE.contains(text)
        return
    assert public_id is not None
    url = delivery_url(EMULATOR, public_id=public_id, resource_type="image", type="upload", version=7, format="png")
    assert urlsplit(url).netloc == urlsplit(delivery_origin(EMULATOR)).netloc
    assert not urlsplit(url).query and not urlsplit(url).fragment
    assert decoded_public_id(url) == public_id
    assert ".." not in urlsplit(url).path.split("/") and "." not in urlsplit(url).path.split("/")
    assert SCOPE.contains(f"main-uploads/{public_id}") == is_valid_public_id(f"main-uploads/{public_id}")
    first = public_id.split("/")[0]
    assert not SCOPE.contains(public_id) or first == "main-uploads"  # inside by segment, never by prefix


@settings(max_examples=300, deadline=None)
@given(paths, names)
def test_a_string_prefix_of_a_managed_folder_is_not_inside_it(rest, suffix):
    assume(is_valid_public_id(f"main-uploads{suffix}/{rest}"))
    assert not SCOPE.contains(f"main-uploads{suffix}/{rest}")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(paths.filter(lambda p: len(p) < 200))
def test_safe_ids_round_trip_through_the_emulator(emulator, cloudinary_store, name):
    import cloudinary.uploader

    public_id = f"main-uploads/{name}"
    assume(is_valid_public_id(public_id))
    emulator.reset()
    data = tiny_png(len(public_id))
    uploaded = cloudinary.uploader.upload(data, public_id=public_id, **sdk(emulator))
    assert uploaded["public_id"] == public_id
    listed = [a for page in cloudinary_store.iter_source_pages(ListingSource("image", prefix="main-uploads/"))
              for a in page.assets]
    assert [a.public_id for a in listed] == [public_id] and SCOPE.contains(listed[0].public_id)
    credentials = CloudinaryCredentials(emulator.cloud_name, emulator.api_key, emulator.api_secret, emulator.base_url)
    url = delivery_url(credentials, public_id=public_id, resource_type="image", type="upload",
                       version=uploaded["version"], format=uploaded["format"])
    delivered = httpx.get(url, timeout=10, follow_redirects=False)
    assert delivered.status_code == 200 and delivered.content == data
