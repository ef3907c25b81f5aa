"""The page by role, in headless Chromium inside a real `airflow api-server`: a viewer sees the
library, its thumbnails, the queue, the runs and the charts, and is offered nothing that changes
them — and a change forced from the page anyway (a script in its own origin) is refused with a 403
and changes nothing. An op is offered, and can use, everything."""

from __future__ import annotations

import psycopg

from fixtures.browser import requires_chromium, screenshot, signed_in_context
from fixtures.media import tiny_png

pytestmark = requires_chromium


def open_as(browser, api_server, role: str):
    page = signed_in_context(browser, api_server, role, viewport={"width": 1280, "height": 860}).new_page()
    page.goto(f"{api_server.base_url}/mediasync/")
    page.locator("#live.on").wait_for(timeout=10_000)  # the event stream is connected
    return page


def library(api_server) -> str:
    with api_server.client("admin") as admin:
        record = admin.post("/api/v1/media", files={"file": ("seen.png", tiny_png(401), "image/png")})
        assert record.status_code == 201, record.text
    with psycopg.connect(api_server.db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO cloudinary_cleanup_queue (public_id, reason) VALUES ('main-uploads/q', 'db_delete')")
    return record.json()["id"]


def counts(api_server) -> tuple:
    with psycopg.connect(api_server.db_url) as conn:
        return conn.execute("SELECT (SELECT count(*) FROM media_files WHERE status = 'active'), "
                            "(SELECT count(*) FROM cloudinary_cleanup_queue WHERE status = 'pending')").fetchone()


def test_a_viewer_sees_everything_and_is_offered_no_change(browser, api_server):
    from playwright.sync_api import expect

    media_id = library(api_server)
    page = open_as(browser, api_server, "viewer")
    card = page.locator(f'[data-id="{media_id}"]')
    expect(card.locator("img")).to_have_js_property("naturalWidth", 1, timeout=10_000)  # read: the thumbnail
    expect(page.locator("[data-stat=pending]")).to_have_text("1")
    expect(page.locator("[data-testid=access]")).to_have_text("read-only")
    expect(card.locator("button")).to_have_count(0)  # no Delete, no Delete permanently
    expect(page.locator("label[for=file-input]")).to_be_hidden()
    expect(page.get_by_role("button", name="Process now")).to_be_hidden()
    expect(page.get_by_role("button", name="Start reconciliation")).to_be_hidden()
    expect(page.locator("#start-run-note")).to_be_visible()
    screenshot(page, "media-library-viewer.png", full_page=True)

    before = counts(api_server)
    forced = page.evaluate("""async (id) => {
        const form = new FormData();
        form.append("file", new File([Uint8Array.from([137, 80, 78, 71])], "x.png", {type: "image/png"}));
        const calls = [fetch(`api/v1/media/${id}?permanent=true`, {method: "DELETE"}),
                       fetch("api/v1/media", {method: "POST", body: form}),
                       fetch("api/v1/cleanup-queue/process", {method: "POST", headers: {"Content-Type": "application/json"},
                                                               body: "{}"}),
                       fetch("api/v1/reconciliation/runs", {method: "POST", headers: {"Content-Type": "application/json"},
                                                           body: "{}"})];
        return Promise.all(calls.map(async (c) => { const r = await c; return [r.status, (await r.json()).detail]; }));
    }""", media_id)
    assert [status for status, _ in forced] == [403, 403, 403, 403], forced
    assert all("lacks edit access to the mediasync DAGs" in detail for _, detail in forced), forced
    assert counts(api_server) == before


def test_an_op_is_offered_and_can_use_every_change(browser, api_server, tmp_path):
    from playwright.sync_api import expect

    media_id = library(api_server)
    page = open_as(browser, api_server, "op")
    expect(page.locator("label[for=file-input]")).to_be_visible()
    expect(page.get_by_role("button", name="Start reconciliation")).to_be_visible()
    expect(page.locator("[data-testid=access]")).to_be_hidden()
    page.get_by_role("button", name="Process now").click()
    expect(page.locator("[data-stat=pending]")).to_have_text("0", timeout=10_000)
    photo = tmp_path / "by-op.png"
    photo.write_bytes(tiny_png(402))
    page.locator("#file-input").set_input_files(str(photo))
    expect(page.locator("[data-testid=media-card]").filter(has_text="by-op")).to_have_count(1, timeout=10_000)
    page.locator(f'[data-id="{media_id}"]').get_by_role("button", name="Delete", exact=True).click()
    expect(page.locator(f'[data-id="{media_id}"]')).to_have_count(0, timeout=5_000)
    with psycopg.connect(api_server.db_url) as conn:
        assert conn.execute("SELECT status FROM media_files WHERE id = %s", (media_id,)).fetchone()[0] == "deleted"
