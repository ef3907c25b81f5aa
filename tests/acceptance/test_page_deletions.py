"""The delete brake on the media-library page, in headless Chromium: a mass DELETE typed in psql
shows up as a banner within seconds (who, what, why); Undo (after a confirmation that names the
count) brings the rows back into the grid; Release lets a held batch flow; the history lists them."""

from __future__ import annotations

import psycopg

from fixtures.browser import requires_chromium, screenshot, signed_in_context
from fixtures.media import tiny_png

pytestmark = requires_chromium
BANNER_TIMEOUT_MS = 5000


def library_with(api_server, count: int) -> None:
    with api_server.client() as http:
        for i in range(count):
            created = http.post("/api/v1/media", files={"file": (f"b{i}.png", tiny_png(500 + i), "image/png")})
            assert created.status_code == 201, created.text


def open_library(browser, api_server):
    page = signed_in_context(browser, api_server, viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{api_server.base_url}/mediasync/")
    page.locator("#live.on").wait_for(timeout=10_000)
    return page


def test_a_held_batch_appears_as_a_banner_and_undo_brings_the_rows_back(browser, api_server):
    from playwright.sync_api import expect

    library_with(api_server, 12)
    page = open_library(browser, api_server)
    expect(page.locator("[data-testid=media-card]")).to_have_count(12)
    with psycopg.connect(api_server.db_url, autocommit=True, application_name="psql") as psql:
        psql.execute("DELETE FROM media_files")
    banner = page.locator("[data-testid=held-banner]")
    expect(banner).to_be_visible(timeout=BANNER_TIMEOUT_MS)
    held = banner.locator("[data-testid=held-batch]")
    expect(held).to_have_count(1)
    expect(held).to_contain_text("12 assets (12 rows deleted) from psql")
    expect(held).to_contain_text("MEDIASYNC_DELETE_HOLD_FRACTION")
    expect(page.locator("[data-testid=media-card]")).to_have_count(0)
    screenshot(page, "held-deletions.png", full_page=True)

    questions: list[str] = []
    page.on("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
    held.get_by_role("button", name="Undo").click()
    expect(page.locator("[data-testid=media-card]")).to_have_count(12, timeout=BANNER_TIMEOUT_MS)
    expect(banner).to_be_hidden()
    assert questions and "12 rows" in questions[0] and "12 deletions" in questions[0]
    row = page.locator("[data-testid=batch-row]").first
    expect(row.locator("[data-testid=batch-status]")).to_have_text("undone")


def test_release_from_the_banner_lets_the_batch_flow(browser, api_server):
    from playwright.sync_api import expect

    library_with(api_server, 12)
    page = open_library(browser, api_server)
    with psycopg.connect(api_server.db_url, autocommit=True) as conn:
        conn.execute("DELETE FROM media_files")
    held = page.locator("[data-testid=held-batch]")
    expect(held).to_have_count(1, timeout=BANNER_TIMEOUT_MS)
    questions: list[str] = []
    page.on("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
    held.get_by_role("button", name="Release").click()
    expect(page.locator("[data-testid=held-banner]")).to_be_hidden(timeout=BANNER_TIMEOUT_MS)
    assert "12 assets will be deleted from Cloudinary" in questions[0]
    with psycopg.connect(api_server.db_url) as conn:
        statuses = conn.execute("SELECT status, count(*) FROM cloudinary_cleanup_queue GROUP BY 1").fetchall()
    assert statuses == [("pending", 12)]
    expect(page.locator("[data-testid=batch-row] [data-testid=batch-status]").first).to_have_text("released")
