"""The media-library page in headless Chromium (Debian's, driven by Playwright): an upload in one
open page shows up in another within 2 s, and a direct SQL DELETE removes it from both."""

from __future__ import annotations

import psycopg

from fixtures.browser import requires_chromium, screenshot, signed_in_context
from fixtures.media import tiny_png

pytestmark = requires_chromium
LIVE_TIMEOUT_MS = 2000


def open_library(browser, api_server):
    """A signed-in page: the Airflow UI's session cookie carries the user's token."""
    page = signed_in_context(browser, api_server, viewport={"width": 1280, "height": 860}).new_page()
    page.goto(f"{api_server.base_url}/mediasync/")
    page.locator("#live.on").wait_for(timeout=10_000)  # the event stream is connected
    return page


def test_live_updates_across_pages_and_from_sql(browser, api_server, tmp_path):
    from playwright.sync_api import expect

    first, second = open_library(browser, api_server), open_library(browser, api_server)
    photo = tmp_path / "live-photo.png"
    photo.write_bytes(tiny_png(77))
    before = {c.get_attribute("data-id") for c in first.locator("[data-testid=media-card]").all()}

    first.locator("#file-input").set_input_files(str(photo))
    new_card = first.locator("[data-testid=media-card]").filter(has_text="live-photo")
    expect(new_card).to_have_count(1, timeout=10_000)
    media_id = new_card.get_attribute("data-id")
    assert media_id not in before
    expect(second.locator(f'[data-id="{media_id}"]')).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    expect(second.locator(f'[data-id="{media_id}"] img')).to_have_js_property("complete", True)

    screenshot(second, "media-library.png", full_page=True)

    with psycopg.connect(api_server.db_url, autocommit=True) as conn:
        conn.execute("DELETE FROM media_files WHERE id = %s", (media_id,))
    expect(second.locator(f'[data-id="{media_id}"]')).to_have_count(0, timeout=LIVE_TIMEOUT_MS)
    expect(first.locator(f'[data-id="{media_id}"]')).to_have_count(0, timeout=LIVE_TIMEOUT_MS)


def test_soft_delete_from_the_page(browser, api_server, tmp_path):
    from playwright.sync_api import expect

    page = open_library(browser, api_server)
    photo = tmp_path / "to-delete.png"
    photo.write_bytes(tiny_png(78))
    page.locator("#file-input").set_input_files(str(photo))
    card = page.locator("[data-testid=media-card]").filter(has_text="to-delete")
    expect(card).to_have_count(1, timeout=10_000)
    media_id = card.get_attribute("data-id")
    card.get_by_role("button", name="Delete", exact=True).click()
    expect(page.locator(f'[data-id="{media_id}"]')).to_have_count(0, timeout=LIVE_TIMEOUT_MS)  # left "Active"
    with psycopg.connect(api_server.db_url) as conn:
        assert conn.execute("SELECT status FROM media_files WHERE id = %s", (media_id,)).fetchone()[0] == "deleted"


def test_load_more_pages_through_a_large_library(browser, api_server):
    from playwright.sync_api import expect

    with psycopg.connect(api_server.db_url, autocommit=True) as conn:  # older than anything the other tests add
        conn.execute("INSERT INTO media_files (public_id, format, bytes, folder, created_at) "
                     "SELECT 'main-uploads/bulk-' || g, 'png', 1000 + g, 'main-uploads', "
                     "now() - interval '1 day' - g * interval '1 second' FROM generate_series(1, 150) g")
        total = conn.execute("SELECT count(*) FROM media_files WHERE status = 'active'").fetchone()[0]
    assert total == 150  # this test's own database: two pages of 100
    page = open_library(browser, api_server)
    cards = page.locator("[data-testid=media-card]")
    expect(cards).to_have_count(100)
    expect(page.locator("#count")).to_have_text("100+ item(s)")
    page.get_by_role("button", name="Load more").click()
    expect(cards).to_have_count(total)
    expect(page.locator("#count")).to_have_text(f"{total} item(s)")
    expect(page.locator('[data-testid=media-card]:has-text("bulk-150")')).to_have_count(1)  # the oldest
    expect(page.get_by_role("button", name="Load more")).to_be_hidden()


def test_failed_cleanups_are_listed_and_retried_from_the_page(browser, api_server):
    from playwright.sync_api import expect

    with psycopg.connect(api_server.db_url, autocommit=True) as conn:
        queue_id = conn.execute(
            "INSERT INTO cloudinary_cleanup_queue (public_id, reason, status, attempts, last_error, updated_at) "
            "VALUES ('main-uploads/gave-up', 'hard_delete', 'failed', 3, 'StoreTransientError: HTTP 502', now()) "
            "RETURNING id").fetchone()[0]
    page = open_library(browser, api_server)
    failure = page.locator("[data-testid=queue-failure]").filter(has_text="main-uploads/gave-up")
    expect(failure).to_contain_text("3 attempts · StoreTransientError: HTTP 502")
    screenshot(page, "media-library-failed-cleanups.png")
    page.get_by_role("button", name="Retry failed").click()
    expect(failure).to_have_count(0)
    with psycopg.connect(api_server.db_url) as conn:  # the asset was already gone: not found counts as deleted
        assert conn.execute("SELECT status FROM cloudinary_cleanup_queue WHERE id = %s", (queue_id,)).fetchone()[0] \
            == "completed"
