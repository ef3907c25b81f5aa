"""Uploads from the media-library page in headless Chromium: progress while the file is sent (bytes
and percent, on a throttled connection), then while the server saves it to Cloudinary; alt text and
caption typed on the page are stored with the file and shown on its card."""

from __future__ import annotations

import psycopg

from fixtures import polyglots
from fixtures.browser import requires_chromium, signed_in_context

pytestmark = requires_chromium
MB = 1024 * 1024


def open_library(browser, api_server, upload_bytes_per_second: int | None = None):
    context = signed_in_context(browser, api_server, viewport={"width": 1280, "height": 860})
    page = context.new_page()
    if upload_bytes_per_second:
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1,
                                                      "uploadThroughput": upload_bytes_per_second})
    page.goto(f"{api_server.base_url}/mediasync/")
    page.locator("#live.on").wait_for(timeout=10_000)
    return page


def video(size: int) -> bytes:
    """An MP4 (ftyp, moov, mdat) of exactly `size` bytes."""
    head = polyglots.mp4([(b"ftyp", b"isom\0\0\2\0isomiso2avc1mp41"), (b"moov", b"\0" * 16)])
    payload = size - len(head) - 8
    return head + (payload + 8).to_bytes(4, "big") + b"mdat" + (bytes(range(256)) * (payload // 256 + 1))[:payload]


def test_progress_then_saving_and_the_caption_on_the_card(browser, api_server, tmp_path):
    from playwright.sync_api import expect

    page = open_library(browser, api_server, upload_bytes_per_second=1 * MB)
    clip = tmp_path / "harbour.mp4"
    clip.write_bytes(video(3 * MB))
    page.locator("#upload-caption").fill("The harbour at noon")
    page.locator("#file-input").set_input_files(str(clip))
    phase = page.locator("[data-testid=upload-phase]")
    expect(phase).to_contain_text("% of 3.0 MB sent", timeout=5_000)  # while the browser sends it
    expect(page.locator("[data-testid=upload-row] progress[value]")).to_have_count(1)
    card = page.locator("[data-testid=media-card]").filter(has_text="harbour")
    expect(card).to_have_count(1, timeout=30_000)
    expect(card.locator("[data-testid=caption]")).to_have_text("The harbour at noon")
    expect(page.locator("[data-testid=upload-row]")).to_have_count(0)
    assert page.locator("#upload-caption").input_value() == ""  # it applied to that upload only


def test_alt_text_is_stored_and_becomes_the_images_alt(browser, api_server, tmp_path):
    from playwright.sync_api import expect

    page = open_library(browser, api_server)
    photo = tmp_path / "lighthouse.png"
    photo.write_bytes(polyglots.image_bytes("PNG", seed=9))
    page.locator("#upload-alt").fill("A white lighthouse on rocks")
    page.locator("#file-input").set_input_files(str(photo))
    card = page.locator("[data-testid=media-card]").filter(has_text="lighthouse")
    expect(card).to_have_count(1, timeout=10_000)
    expect(card.locator("img")).to_have_attribute("alt", "A white lighthouse on rocks")
    with psycopg.connect(api_server.db_url) as conn:
        stored = conn.execute("SELECT context FROM media_files WHERE original_filename LIKE 'lighthouse%'").fetchone()
    assert stored[0] == {"alt": "A white lighthouse on rocks"}
