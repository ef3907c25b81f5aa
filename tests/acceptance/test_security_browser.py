"""Cross-site request forgery in a real browser: headless Chromium signs in to Airflow through its
login page, then visits a hostile page on another localhost port (same site, other origin — so
even a SameSite=Lax cookie goes along) whose forms POST an upload and "process the queue" to the
plugin. Both are refused; the library's own page keeps working with the same session."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg
import pytest

from fixtures.airflow import ADMIN_PASSWORD
from fixtures.browser import requires_chromium

pytestmark = [pytest.mark.reliability, requires_chromium]

HOSTILE_PAGE = """<!doctype html><html><body>
<iframe name="sink" id="sink"></iframe>
<form id="upload" method="POST" enctype="multipart/form-data" target="sink" action="{base}/mediasync/api/v1/media">
  <input type="file" name="file" id="file"><input name="folder" value="main-uploads">
</form>
<form id="process" method="POST" enctype="text/plain" target="sink"
      action="{base}/mediasync/api/v1/cleanup-queue/process">
  <input name='{{"batchSize": 10, "x": "' value='"}}'>
</form>
<script>
  // A PNG made in the page: forms can carry files a script builds.
  const png = Uint8Array.from(atob("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGNgYGAA" +
                                   "AAAEAAH2FzhVAAAAAElFTkSuQmCC"), c => c.charCodeAt(0));
  const files = new DataTransfer();
  files.items.add(new File([png], "forged.png", {{type: "image/png"}}));
  document.getElementById("file").files = files.files;
  window.forge = (which) => document.getElementById(which).submit();
  window.forgeFetch = () => fetch("{base}/mediasync/api/v1/cleanup-queue/process",
      {{method: "POST", mode: "no-cors", credentials: "include", headers: {{"Content-Type": "text/plain"}},
        body: "{{}}"}}).then(() => "sent", e => "error: " + e);
</script></body></html>"""


@pytest.fixture
def hostile_site(api_server) -> Iterator[str]:
    """A page on another port of the same host: the attacker's origin."""
    page = HOSTILE_PAGE.format(base=api_server.base_url).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def sign_in(context, api_server) -> None:
    """Airflow's own login page, as a person would use it."""
    page = context.new_page()
    page.goto(f"{api_server.base_url}/auth/login/?next={api_server.base_url}/mediasync/")
    page.locator("input[name=username], input#username").first.fill("admin")
    page.locator("input[type=password]").first.fill(ADMIN_PASSWORD)
    page.locator("button[type=submit], button:has-text('Sign')").first.click()
    page.wait_for_url(f"{api_server.base_url}/mediasync/**", timeout=30_000)
    page.close()
    assert any(c["name"] == "_token" for c in context.cookies(api_server.base_url)), "the login set no session"


def counts(api_server) -> tuple[int, int]:
    with psycopg.connect(api_server.db_url) as conn:
        return conn.execute("SELECT (SELECT count(*) FROM media_files), "
                            "(SELECT count(*) FROM cloudinary_cleanup_queue WHERE status <> 'pending')").fetchone()


def test_forged_cross_origin_posts_with_the_session_cookie_are_refused(browser, api_server, hostile_site):
    context = browser.new_context()
    sign_in(context, api_server)
    with psycopg.connect(api_server.db_url, autocommit=True) as conn:  # something the forged "process" could drain
        conn.execute("INSERT INTO cloudinary_cleanup_queue (public_id, reason) VALUES ('main-uploads/x', 'db_delete')")
    page = context.new_page()
    page.goto(hostile_site)

    answers: list[tuple[str, int]] = []
    page.on("response", lambda r: answers.append((r.url, r.status)) if "/mediasync/api/" in r.url else None)
    for form in ("upload", "process"):
        with page.expect_response(lambda r: "/mediasync/api/v1/" in r.url and r.request.method == "POST"):
            page.evaluate("(which) => window.forge(which)", form)
    assert page.evaluate("() => window.forgeFetch()") == "sent"
    page.wait_for_timeout(500)

    assert [status for _, status in answers] == [403, 403, 403], answers
    assert counts(api_server) == (0, 0)  # no upload, nothing processed

    own = context.new_page()  # the library's own page, same session: its POSTs are same-origin
    own.goto(f"{api_server.base_url}/mediasync/")
    status = own.evaluate("""async () => (await fetch("api/v1/cleanup-queue/process", {method: "POST",
        headers: {"Content-Type": "application/json"}, body: "{}"})).status""")
    assert status == 200
    assert counts(api_server)[1] == 1
