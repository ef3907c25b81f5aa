"""CloudinaryClient (the asset store CloudinaryHook hands out) against the emulator: the store interface,
error mapping, retries, and where credentials come from."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import cloudinary.uploader
import pytest
from cloudinary import Search

from fixtures.emulator import sdk, seeded_public_id
from fixtures.media import tiny_png
from mediasync.clients.cloudinary import CloudinaryClient, CloudinaryCredentials, rate_limit_reset
from mediasync.clients.cloudinary_listing import listed_asset, search_expression
from mediasync.errors import ConfigError, StoreAuthError, StorePermanentError, StoreRateLimited, StoreTransientError
from mediasync.hooks.cloudinary import CloudinaryHook
from mediasync.provider import get_provider_info
from mediasync.scope import ManagedScope


def test_upload_maps_the_response(cloudinary_store, emulator_folder_mode):
    asset = cloudinary_store.upload(tiny_png(1), upload_preset="tap2go-uploads", folder="main-uploads",
                                   resource_type="image", filename="Menu Photo.png", tags=["menu"])
    # fixed folders: the folder is the public_id's prefix; dynamic: it is the asset folder only
    name = "main-uploads/Menu_Photo_" if emulator_folder_mode == "fixed" else "Menu_Photo_"
    assert asset.public_id.startswith(name) and asset.asset_folder == "main-uploads" and asset.asset_id
    assert (asset.resource_type, asset.type, asset.format, asset.width, asset.height) == (
        "image", "upload", "png", 1, 1)
    assert asset.bytes == len(tiny_png(1)) and asset.version > 0 and asset.etag and asset.folder == "main-uploads"
    assert asset.secure_url.endswith(f"{asset.public_id}.png")


def test_listing_1200_assets_in_three_pages_and_resuming(cloudinary_store, emulator, emulator_folder_mode):
    emulator.seed(1200, prefix="main-uploads/l")
    emulator.seed(3, prefix="elsewhere/e")  # public_ids are unique account-wide in dynamic mode too
    # the folder's listing: by prefix (fixed folders) or by asset folder through the Search API (dynamic)
    source = ManagedScope(("main-uploads",), emulator_folder_mode).sources(("image",))[0]
    before = emulator.admin_calls()
    ids = [a.public_id for page in cloudinary_store.iter_source_pages(source) for a in page.assets]
    assert emulator.admin_calls() - before == 3
    assert len(ids) == 1200 and len(set(ids)) == 1200
    first = next(cloudinary_store.iter_source_pages(source))
    resumed = [a.public_id for page in cloudinary_store.iter_source_pages(source, first.next_cursor)
               for a in page.assets]
    assert [a.public_id for a in first.assets] + resumed == ids


def test_a_searched_listing_reads_from_the_fields_it_names_what_the_whole_entries_hold(
        cloudinary_store, emulator, emulator_folder_mode):
    """A range (Search API) names only the fields the listing reads: its facts equal those read
    from the whole entries, for an image, a raw file and a backed-up deleted asset's placeholder."""
    image = cloudinary_store.upload(tiny_png(3), upload_preset="tap2go-uploads", folder="main-uploads",
                                    resource_type="image", filename="whole.png", tags=[])
    raw = cloudinary.uploader.upload(b"plain text", resource_type="raw", folder="main-uploads", **sdk(emulator))
    gone = cloudinary.uploader.upload(tiny_png(4), folder="main-uploads", backup=True, **sdk(emulator))
    cloudinary.uploader.destroy(gone["public_id"], **sdk(emulator))
    for resource_type, expected in (("image", {image.public_id, gone["public_id"]}), ("raw", {raw["public_id"]})):
        whole = ManagedScope(("main-uploads",), emulator_folder_mode).sources((resource_type,))[0]
        source = replace(whole, uploaded_from=datetime(2000, 1, 1, tzinfo=timezone.utc))
        listed = {a for page in cloudinary_store.iter_source_pages(source) for a in page.assets}
        entries = Search().expression(search_expression(source)).max_results(500).execute(**sdk(emulator))
        assert listed == {listed_asset(r, resource_type, "upload") for r in entries["resources"]}
        assert {a.public_id for a in listed} == expected
        assert {a.public_id for a in listed if a.placeholder} == ({gone["public_id"]} & expected)


def test_delete_many_batches_by_100_and_counts_not_found_as_deleted(cloudinary_store, emulator,
                                                                   emulator_folder_mode):
    emulator.seed(200, prefix="main-uploads/x")
    ids = [seeded_public_id(emulator_folder_mode, "main-uploads/x", i) for i in range(250)]  # the last 50: none
    before = emulator.admin_calls()
    outcome = cloudinary_store.delete_many(ids, "image", "upload")
    assert emulator.admin_calls() - before == 3
    assert sum(v == "deleted" for v in outcome.values()) == 200
    assert sum(v == "not_found" for v in outcome.values()) == 50
    assert list(cloudinary_store.iter_resources("image", "upload", None)) == []


def test_rate_limit_raises_with_the_reset_time_and_is_not_retried(cloudinary_store, emulator):
    emulator.control(rate_limit=1)
    list(cloudinary_store.iter_resources())
    before = emulator.settings()["admin_calls_in_window"]
    with pytest.raises(StoreRateLimited) as limited:
        list(cloudinary_store.iter_resources())
    assert limited.value.reset_at is not None and limited.value.reset_at > datetime.now(timezone.utc)
    assert emulator.settings()["admin_calls_in_window"] == before  # one refused call, no hammering


def test_transient_errors_are_retried_and_permanent_ones_are_not(cloudinary_store, emulator, emulator_folder_mode):
    emulator.seed(1, prefix="main-uploads/t")
    seeded = seeded_public_id(emulator_folder_mode, "main-uploads/t", 0)
    emulator.control(fail_rate=1.0)
    before = emulator.settings()["api_requests"]
    with pytest.raises(StoreTransientError, match="General Error"):
        cloudinary_store.delete_many([seeded])
    assert emulator.settings()["api_requests"] - before == 4  # the first try and 3 retries
    emulator.control(fail_rate=0.0)
    assert cloudinary_store.delete_many([seeded]) == {seeded: "deleted"}

    before = emulator.settings()["api_requests"]
    with pytest.raises(StorePermanentError, match="Invalid image file"):
        cloudinary_store.upload(b"not an image", resource_type="image")
    assert emulator.settings()["api_requests"] - before == 1


def test_auth_errors_are_not_retried(emulator):
    wrong = CloudinaryClient(CloudinaryCredentials("demo", emulator.api_key, "bad", emulator.base_url))
    before = emulator.settings()["api_requests"]
    with pytest.raises(StoreAuthError):
        wrong.upload(tiny_png(2), resource_type="image")
    with pytest.raises(StoreAuthError):
        wrong.delete_many(["a"])
    assert emulator.settings()["api_requests"] - before == 2


def test_rate_limit_reset_parsing():
    assert rate_limit_reset("Error 420 - Rate Limit Exceeded. Try again on Sat, 01 Apr 2017 22:00:00 GMT") == \
        datetime(2017, 4, 1, 22, tzinfo=timezone.utc)
    assert rate_limit_reset("Try again on 2017-04-01 22:00:00 UTC") == datetime(2017, 4, 1, 22, tzinfo=timezone.utc)
    assert rate_limit_reset("no date here") is None


def test_credentials_from_env_and_url(monkeypatch):
    url = "cloudinary://key:sec%2Fret@cloud?upload_prefix=http://127.0.0.1:9"
    assert CloudinaryCredentials.from_url(url) == CloudinaryCredentials("cloud", "key", "sec/ret", "http://127.0.0.1:9")
    env = {"CLOUDINARY_URL": url, "CLOUDINARY_CLOUD_NAME": "other", "CLOUDINARY_API_KEY": "k",
           "CLOUDINARY_API_SECRET": "s"}
    assert CloudinaryCredentials.from_env(env).cloud_name == "other"  # the SDK's precedence
    with pytest.raises(ConfigError, match="set CLOUDINARY_URL"):
        CloudinaryCredentials.from_env({})
    with pytest.raises(ConfigError, match="CLOUDINARY_URL is malformed"):
        CloudinaryCredentials.from_url("https://cloudinary.com")


def test_hook_reads_the_airflow_connection_then_falls_back_to_env(monkeypatch, emulator):
    monkeypatch.delenv("CLOUDINARY_URL", raising=False)
    monkeypatch.setenv("AIRFLOW_CONN_CLOUDINARY_DEFAULT",
                       f"cloudinary://{emulator.api_key}:{emulator.api_secret}@{emulator.cloud_name}"
                       f"?api_base_url={emulator.base_url.replace(':', '%3A').replace('/', '%2F')}")
    hook = CloudinaryHook()
    assert hook.client.credentials == CloudinaryCredentials(emulator.cloud_name, emulator.api_key,
                                                            emulator.api_secret, emulator.base_url)
    assert hook.test_connection() == (True, f"Connected to Cloudinary cloud '{emulator.cloud_name}'")

    monkeypatch.delenv("AIRFLOW_CONN_CLOUDINARY_DEFAULT")
    monkeypatch.setenv("CLOUDINARY_URL", emulator.cloudinary_url)
    assert CloudinaryHook().client.credentials.api_base_url == emulator.base_url
    monkeypatch.delenv("CLOUDINARY_URL")
    with pytest.raises(ConfigError):
        CloudinaryHook().client  # noqa: B018 - resolving credentials is the point
    ok, message = CloudinaryHook(cloudinary_url=emulator.cloudinary_url.replace(emulator.api_secret, "x")
                                 ).test_connection()
    assert not ok and "Invalid API secret" in message


def test_provider_registers_the_connection_type_and_its_form():
    from airflow.providers_manager import ProvidersManager

    connection = next(c for c in get_provider_info()["connection-types"] if c["connection-type"] == "cloudinary")
    assert (connection["connection-type"], connection["hook-class-name"]) == (
        "cloudinary", "mediasync.hooks.cloudinary.CloudinaryHook")
    manager = ProvidersManager()
    assert manager.hooks["cloudinary"].hook_class_name == "mediasync.hooks.cloudinary.CloudinaryHook"
    assert {"extra__cloudinary__cloud_name", "extra__cloudinary__api_base_url"} <= set(manager.connection_form_widgets)
    assert manager.field_behaviours["cloudinary"]["relabeling"] == {"login": "API Key", "password": "API Secret"}


def test_form_fields_saved_as_prefixed_extras_are_read(monkeypatch, emulator):
    import json

    monkeypatch.setenv("AIRFLOW_CONN_CLOUDINARY_DEFAULT", json.dumps({
        "conn_type": "cloudinary", "login": emulator.api_key, "password": emulator.api_secret,
        "extra": {"extra__cloudinary__cloud_name": emulator.cloud_name,
                  "extra__cloudinary__api_base_url": emulator.base_url}}))
    assert CloudinaryHook().test_connection()[0] is True
