"""Cloudinary → page: a delete and a rename made "in the Cloudinary console" (the emulator) reach
the plugin by signed webhook and the open media-library page within 2 s."""

from __future__ import annotations

import time

import pytest

from fixtures.browser import requires_chromium, signed_in_context
from fixtures.media import tiny_png
from mediasync.clients.cloudinary import CloudinaryClient, CloudinaryCredentials
from mediasync.services.notifications.channel import ensure_triggers

pytestmark = requires_chromium
LIVE_TIMEOUT_MS = 2000


@pytest.fixture
def webhook_to_plugin(api_server):
    emulator = api_server.emulator
    client = CloudinaryClient(CloudinaryCredentials.from_url(emulator.cloudinary_url))
    ensure_triggers(client, "webhook", f"{api_server.base_url}/mediasync/api/v1/cloudinary/notifications")


def test_console_delete_and_rename_reach_the_page_within_2s(api_server, webhook_to_plugin, browser):
    from playwright.sync_api import expect

    with api_server.client() as http:
        kept = http.post("/api/v1/media", files={"file": ("kept.png", tiny_png(11), "image/png")}).json()
        doomed = http.post("/api/v1/media", files={"file": ("doomed.png", tiny_png(12), "image/png")}).json()
        page = signed_in_context(browser, api_server).new_page()
        page.goto(f"{api_server.base_url}/mediasync/")
        page.locator("#live.on").wait_for(timeout=10_000)
        expect(page.locator(f'[data-id="{doomed["id"]}"]')).to_be_visible(timeout=10_000)

        api_server.emulator.console("delete", public_id=doomed["public_id"])
        expect(page.locator(f'[data-id="{doomed["id"]}"]')).to_have_count(0, timeout=LIVE_TIMEOUT_MS)
        record = http.get(f"/api/v1/media/{doomed['id']}").json()
        assert (record["status"], record["deleted_by"]) == ("deleted", "cloudinary")

        started = time.monotonic()
        api_server.emulator.console("rename", from_public_id=kept["public_id"], to_public_id="main-uploads/renamed")
        while http.get(f"/api/v1/media/{kept['id']}").json()["public_id"] != "main-uploads/renamed":
            assert time.monotonic() - started < 2, "the rename did not reach the row within 2 s"
            time.sleep(0.05)
        expect(page.locator(f'[data-id="{kept["id"]}"]')).to_be_visible()
