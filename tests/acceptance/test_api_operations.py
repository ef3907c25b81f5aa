"""What the operator's page needs from the plugin, inside a real `airflow api-server`: offline API
docs behind the login, event streams that end quietly, thumbnails that survive a moved Cloudinary
host, chart series from the database, runs with who started them and their reports."""

from __future__ import annotations

import os
import re

import httpx
import psycopg
import pytest

from fixtures.media import tiny_png
from fixtures.readiness import wait_until_database_answers
from support.waiting import wait_until


@pytest.fixture
def client(api_server):
    wait_until_database_answers(api_server)
    with api_server.client() as http:
        yield http


def server_log(api_server) -> str:
    """The API server's combined stdout/stderr, read through its file descriptor."""
    return open(os.readlink(f"/proc/{api_server.process.pid}/fd/1"), encoding="utf-8", errors="replace").read()


@pytest.mark.parametrize("path", ["/docs", "/openapi.json", "/docs/assets/swagger-ui-bundle.js",
                                  "/assets/page.js", "/assets/page.css", "/api/v1/charts/queue", "/api/v1/charts/drift", "/api/v1/thumbnails/x",
                                  "/api/v1/reconciliation/runs/1/report.html"])
def test_docs_and_operator_routes_need_an_airflow_user(api_server, path):
    response = httpx.get(f"{api_server.base_url}/mediasync{path}", timeout=10)
    assert response.status_code == 401 and response.json()["detail"]


def test_docs_are_served_from_the_package(client):
    page = client.get("/docs")
    assert page.status_code == 200
    assert "/mediasync/docs/assets/swagger-ui-bundle.js" in page.text
    assert not re.search(r"https?://(?!127\.0\.0\.1)", re.sub(r"https?://swagger\.io[^\"' ]*", "", page.text))
    bundle = client.get("/docs/assets/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and len(bundle.content) > 100_000
    assert client.get("/docs/assets/..%2Fsecrets").status_code == 404
    assert "/api/v1/charts/queue" in client.get("/openapi.json").json()["paths"]


def test_the_page_loads_its_script_and_style_from_the_plugin(client):
    page = client.get("/", headers={"Accept": "text/html"})
    assert page.status_code == 200
    for name, kind in (("page.js", "text/javascript"), ("page.css", "text/css")):
        assert f'"assets/{name}"' in page.text
        asset = client.get(f"/assets/{name}")
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(kind) and asset.content
    assert client.get("/assets/index.html").status_code == 404
    assert client.get("/assets/..%2F..%2Fconfig.py").status_code == 404


def test_closing_twenty_event_streams_leaves_no_error_in_the_server_log(api_server):
    before = len(server_log(api_server))
    token = api_server.token()
    clients = [httpx.Client(base_url=api_server.base_url, timeout=20,
                            headers={"Authorization": f"Bearer {token}"}) for _ in range(20)]
    streams, readers = [], []  # a line iterator dropped by the garbage collector closes its connection: keep them
    try:
        for http in clients:
            stream = http.stream("GET", "/mediasync/api/v1/events")
            response = stream.__enter__()
            streams.append(stream)
            assert response.status_code == 200
            readers.append(lines := response.iter_lines())
            while next(lines) != ": connected":
                pass
        status = clients[0].get("/mediasync/api/v1/events/status").json()
        assert status["listening"] and status["subscribers"] == 20, status  # all twenty open at once
    finally:
        for stream in streams:
            stream.__exit__(None, None, None)
        for http in clients:
            http.close()
    with httpx.Client(base_url=api_server.base_url, timeout=10,
                      headers={"Authorization": f"Bearer {token}"}) as http:  # the server notices every disconnect
        wait_until(lambda: http.get("/mediasync/api/v1/events/status").json()["subscribers"] == 0, timeout=30,
                   message="the server never noticed every stream close")
        assert http.get("/api/v2/version").status_code == 200  # and still answers
    log = server_log(api_server)[before:]
    assert not re.search(r"Traceback|RuntimeError|aclose\(\)|ERROR", log), log[-3000:]


def _upload(client, seed: int, name: str) -> dict:
    response = client.post("/api/v1/media", files={"file": (name, tiny_png(seed), "image/png")})
    assert response.status_code == 201, response.text
    return response.json()


def test_thumbnails_come_from_the_current_configuration_not_the_stored_url(client, api_server):
    record = _upload(client, 501, "thumb.png")
    with psycopg.connect(api_server.db_url, autocommit=True) as conn:  # the emulator "moved" since the upload
        conn.execute("UPDATE media_files SET secure_url = replace(secure_url, '127.0.0.1', '127.0.0.9') "
                     "WHERE id = %s", (record["id"],))
    thumb = client.get(f"/api/v1/thumbnails/{record['id']}")
    assert thumb.status_code == 200 and thumb.content == tiny_png(501)
    assert thumb.headers["content-type"] == "image/png"


def test_thumbnails_of_deleted_and_missing_assets_are_a_clear_404(client, api_server):
    deleted = _upload(client, 502, "deleted.png")
    assert client.delete(f"/api/v1/media/{deleted['id']}").status_code == 200
    answer = client.get(f"/api/v1/thumbnails/{deleted['id']}")
    assert answer.status_code == 404 and answer.json() == {"detail": "the media is deleted"}
    with psycopg.connect(api_server.db_url, autocommit=True) as conn:
        missing = conn.execute("INSERT INTO media_files (public_id, format, bytes, version) "
                               "VALUES ('main-uploads/never-uploaded', 'png', 10, 1) RETURNING id").fetchone()[0]
    answer = client.get(f"/api/v1/thumbnails/{missing}")
    assert answer.status_code == 404 and answer.json() == {"detail": "the asset is missing in Cloudinary"}


def test_chart_series_come_from_the_database(client, api_server):
    with psycopg.connect(api_server.db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO cloudinary_cleanup_queue (public_id, reason, status, completed_at, created_at) "
                     "SELECT 'main-uploads/done-' || g, 'db_delete', 'completed', now() - interval '2 hours', "
                     "now() - interval '3 hours' FROM generate_series(1, 4) g")
        conn.execute("INSERT INTO cloudinary_cleanup_queue (public_id, reason) "
                     "VALUES ('main-uploads/open', 'db_delete')")
        conn.execute("INSERT INTO mediasync.reconciliation_runs (mode, status, listing_complete, counts, started_at) "
                     "SELECT 'dry_run', 'completed', true, jsonb_build_object('orphan_asset', g, 'missing_asset', 1), "
                     "now() - g * interval '1 day' FROM generate_series(1, 35) g")
    queue = client.get("/api/v1/charts/queue", params={"hours": 24}).json()["hours"]
    assert len(queue) == 24
    assert sum(h["completed"] for h in queue) == 4 and sum(h["enqueued"] for h in queue) == 5
    assert queue[-1]["backlog"] == 1
    drift = client.get("/api/v1/charts/drift").json()
    assert len(drift["runs"]) == 30
    assert [r["drift"]["orphan_asset"] for r in drift["runs"]] == list(range(30, 0, -1))  # oldest first
    assert drift["kinds"] == ["orphan_asset", "undeleted_asset", "missing_asset", "metadata_mismatch", "stuck_queue"]


def test_runs_list_times_who_and_report_links_that_open(client, api_server, tmp_path):
    from mediasync.clients.cloudinary import CloudinaryClient, CloudinaryCredentials
    from mediasync.config import Settings
    from mediasync.db import Database
    from mediasync.runtime import build_services
    from mediasync.services.operations import Operations

    emulator = api_server.emulator
    store = CloudinaryClient(CloudinaryCredentials(emulator.cloud_name, emulator.api_key, emulator.api_secret,
                                                   emulator.base_url))
    store.upload(tiny_png(503), folder="main-uploads", resource_type="image", filename="orphan.png")
    worker_reports = tmp_path / "worker-reports"  # a worker's disk: the API server reads the database instead
    services = build_services(Database(api_server.db_url), store, Settings(report_dir=str(worker_reports)))
    result = services.reconciler.run(apply=False, grace_minutes=0)
    Operations(services.db).attribute(result.run_id, "schedule (Airflow)", dag_run_id="scheduled__2026-01-01")
    run = client.get("/api/v1/reconciliation/runs").json()["runs"][0]
    assert run["id"] == result.run_id and run["triggered_by"] == "schedule (Airflow)"
    assert run["started_at"] and run["finished_at"] and run["dag_run_id"] == "scheduled__2026-01-01"
    assert run["report_html"] == f"/mediasync/api/v1/reconciliation/runs/{result.run_id}/report.html"
    html = client.get(run["report_html"].removeprefix("/mediasync"))
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "orphan_asset" in html.text and "None" not in html.text
    csv = client.get(run["report_csv"].removeprefix("/mediasync"))
    assert csv.status_code == 200 and csv.text.splitlines()[0].startswith("kind,action,public_id")
    assert sum(line.startswith("orphan_asset,") for line in csv.text.splitlines()) == 1
    by_dag_run = client.get("/api/v1/reconciliation/dag-runs/scheduled__2026-01-01/report", follow_redirects=True)
    assert by_dag_run.status_code == 200 and by_dag_run.text == html.text
    assert client.get("/api/v1/reconciliation/runs/999999/report.html").status_code == 404


def test_a_run_request_with_an_unknown_listing_kind_is_refused_before_airflow_is_asked(client):
    response = client.post("/api/v1/reconciliation/runs", json={"kind": "weekly"})
    assert response.status_code == 422 and response.headers["content-type"].startswith("application/json")
    assert "kind" in response.text and "Traceback" not in response.text
