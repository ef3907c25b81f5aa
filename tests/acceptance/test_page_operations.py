"""The operator's page in headless Chromium, inside a real `airflow api-server`: API docs that
render with no network, thumbnails with placeholders and badges, charts drawn from the database,
and a reconciliation started from the page that becomes a DAG run whose report link opens the
report."""

from __future__ import annotations

import psycopg

from fixtures.airflow import airflow_cli
from fixtures.browser import requires_chromium, screenshot, signed_in_context
from fixtures.media import tiny_png

pytestmark = requires_chromium


def offline_context(browser, api_server, **options):
    """A signed-in browser context that can reach nothing but the API server: any other request
    is refused and recorded."""
    context = signed_in_context(browser, api_server, viewport={"width": 1280, "height": 900}, **options)
    outside: list[str] = []

    def route(request_route):
        url = request_route.request.url
        if url.startswith(api_server.base_url):
            request_route.continue_()
        else:
            outside.append(url)
            request_route.abort()

    context.route("**/*", route)
    context.outside = outside
    return context


def test_api_docs_render_without_network(browser, api_server):
    from playwright.sync_api import expect

    context = offline_context(browser, api_server)
    page = context.new_page()
    page.goto(f"{api_server.base_url}/mediasync/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("mediasync", timeout=15_000)
    expect(page.locator(".opblock-summary-path").filter(has_text="/api/v1/reconciliation/runs").first).to_be_visible()
    assert context.outside == []


def open_page(browser, api_server):
    context = offline_context(browser, api_server)
    page = context.new_page()
    page.goto(f"{api_server.base_url}/mediasync/")
    page.locator("#live.on").wait_for(timeout=10_000)
    return context, page


def test_thumbnails_placeholders_and_badges(browser, api_server, tmp_path):
    from playwright.sync_api import expect

    context, page = open_page(browser, api_server)
    photo = tmp_path / "shown.png"
    photo.write_bytes(tiny_png(601))
    page.locator("#file-input").set_input_files(str(photo))
    card = page.locator("[data-testid=media-card]").filter(has_text="shown")
    expect(card.locator("img")).to_have_js_property("naturalWidth", 1, timeout=10_000)
    with psycopg.connect(api_server.db_url, autocommit=True) as conn:
        conn.execute("UPDATE media_files SET secure_url = 'http://127.0.0.9:1/moved.png'")  # a moved emulator
        conn.execute("INSERT INTO media_files (public_id, format, bytes, version, original_filename) "
                     "VALUES ('main-uploads/never-uploaded', 'png', 10, 1, 'lost')")
    page.reload()
    expect(card.locator("img")).to_have_js_property("naturalWidth", 1, timeout=10_000)  # still delivered
    lost = page.locator("[data-testid=media-card]").filter(has_text="lost")
    expect(lost.locator("[data-testid=thumb-badge]")).to_have_text("missing", timeout=10_000)
    page.locator(".tabs button[data-status=all]").click()
    with psycopg.connect(api_server.db_url, autocommit=True) as conn:
        conn.execute("UPDATE media_files SET status = 'deleted' WHERE original_filename = 'shown'")
    deleted = page.locator("[data-testid=media-card]").filter(has_text="shown")
    expect(deleted.locator("[data-testid=thumb-badge]")).to_have_text("deleted", timeout=5_000)
    assert context.outside == []


def test_a_run_started_from_the_page_is_a_dag_run_whose_report_link_opens_the_report(browser, api_server):
    from playwright.sync_api import expect

    parsed = airflow_cli(api_server, "dags", "reserialize")  # what the DAG processor does in a deployment
    assert parsed.returncode == 0, parsed.stderr[-2000:]
    with psycopg.connect(api_server.db_url, autocommit=True) as conn:  # history for the drift chart
        conn.execute("INSERT INTO mediasync.reconciliation_runs (mode, status, listing_complete, counts, started_at) "
                     "SELECT 'apply', 'completed', true, jsonb_build_object('orphan_asset', g % 4, 'missing_asset', "
                     "g % 3, 'metadata_mismatch', g % 2, 'stuck_queue', g % 5 / 4), now() - g * interval '1 day' "
                     "FROM generate_series(1, 12) g")
        conn.execute("INSERT INTO cloudinary_cleanup_queue (public_id, reason, status, completed_at, created_at) "
                     "SELECT 'main-uploads/done-' || g, 'db_delete', 'completed', "
                     "now() - (g % 20) * interval '1 hour', now() - (g % 20) * interval '1 hour' - interval '5 min' "
                     "FROM generate_series(1, 60) g")
    with api_server.client() as http:  # a library to look at in the screenshot
        for seed in range(4):
            assert http.post("/api/v1/media", files={"file": (f"photo-{seed}.png", tiny_png(610 + seed),
                                                               "image/png")}).status_code == 201
    with psycopg.connect(api_server.db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO media_files (public_id, format, bytes, version, original_filename) "
                     "VALUES ('main-uploads/lost-in-cloudinary', 'png', 10, 1, 'lost-in-cloudinary')")
    context, page = open_page(browser, api_server)
    page.locator("#start-run input[name=folder]").fill("main-uploads")
    page.locator("#start-run select[name=kind]").select_option("full")
    page.get_by_role("button", name="Start reconciliation").click()
    queued = page.locator("[data-testid=run-row][data-run-id='']").first
    expect(queued.locator("[data-testid=run-status]")).to_have_text("requested", timeout=10_000)
    expect(queued.locator("[data-testid=run-by]")).to_have_text("admin (media library page)")
    expect(queued.locator("[data-testid=run-kind]")).to_have_text("full")  # as asked on the page
    dag_run_id = queued.get_attribute("data-dag-run-id")
    assert dag_run_id

    with api_server.client() as http:  # a normal DAG run, with the page's choices as its Params
        dag_run = http.get(f"{api_server.base_url}/api/v2/dags/mediasync_reconcile/dagRuns/{dag_run_id}").json()
    assert dag_run["conf"] == {"apply": False, "force": False, "folder": "main-uploads", "kind": "full"}
    assert dag_run["run_type"] == "manual" and dag_run["triggering_user_name"] == "admin"

    ran = airflow_cli(api_server, "tasks", "test", "mediasync_reconcile", "reconcile", dag_run_id)
    assert ran.returncode == 0, (ran.stdout + ran.stderr)[-3000:]
    task_log = ran.stdout + ran.stderr
    assert task_log.count("started by admin (media library page)") == 1, task_log[-3000:]  # one summary

    row = page.locator(f"[data-testid=run-row][data-dag-run-id='{dag_run_id}']")
    expect(row.locator("[data-testid=run-status]")).to_have_text("completed", timeout=10_000)  # live
    expect(row.locator("[data-testid=run-by]")).to_have_text("admin (media library page)")
    expect(row.locator("[data-testid=run-kind]")).to_have_text("full")
    page.locator("#drift-chart rect[data-kind]").first.wait_for()
    page.locator("#queue-chart rect[data-series=completed]").first.wait_for()
    expect(page.locator("[data-testid=thumb-badge]")).to_have_text(["missing"])
    expect(page.locator("[data-testid=media-card] img")).to_have_count(4)
    screenshot(page, "media-library-operations.png", full_page=True)

    with context.expect_page() as opened:
        row.locator("[data-testid=report-html]").click()
    report = opened.value
    report.wait_for_load_state()
    expect(report.locator("body")).to_contain_text("dry_run")
    assert report.url.endswith("/report.html")

    with api_server.client() as http:  # the same report as a link on the Airflow task
        links = http.get(f"{api_server.base_url}/api/v2/dags/mediasync_reconcile/dagRuns/{dag_run_id}"
                         "/taskInstances/reconcile/links").json()["extra_links"]
        target = links["Reconciliation report"]
        assert target.startswith("/mediasync/api/v1/reconciliation/dag-runs/")
        via_airflow = http.get(f"{api_server.base_url}{target}", follow_redirects=True)
    assert via_airflow.status_code == 200 and "dry_run" in via_airflow.text
    assert context.outside == []
