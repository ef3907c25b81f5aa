"""Who may do what, inside a real `airflow api-server` whose simple auth manager has one user per
role (admin, op, user, viewer): Airflow's auth manager decides every route. A viewer reads
everything and changes nothing (403 saying what is missing; no row, asset or queue entry moves);
user, op and admin do everything, including starting a reconciliation. Nothing a caller sends
chooses where the server connects: a canary listener named by `Host`/`X-Forwarded-*` hears nothing.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from urllib.parse import unquote

import httpx
import psycopg
import pytest

from fixtures.airflow import ROLES, airflow_cli
from fixtures.media import tiny_png
from fixtures.readiness import wait_until_database_answers

pytestmark = pytest.mark.reliability
CHANGERS = ("user", "op", "admin")


@pytest.fixture(scope="module")
def reconcile_dag(api_server_process) -> None:
    """The DAGs parsed into the server's metadata database, as the DAG processor would."""
    parsed = airflow_cli(api_server_process, "dags", "reserialize")
    assert parsed.returncode == 0, parsed.stderr[-2000:]


@pytest.fixture
def library(api_server) -> dict:
    """One uploaded asset, one queue entry, one finished reconciliation run."""
    wait_until_database_answers(api_server)
    with api_server.client("admin") as admin:
        media = admin.post("/api/v1/media", files={"file": ("kept.png", tiny_png(201), "image/png")})
        assert media.status_code == 201, media.text
    with psycopg.connect(api_server.db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO cloudinary_cleanup_queue (public_id, reason) VALUES ('main-uploads/queued', "
                     "'db_delete')")
        run_id = conn.execute("INSERT INTO mediasync.reconciliation_runs (mode, status, listing_complete, counts) "
                              "VALUES ('dry_run', 'completed', true, '{}') RETURNING id").fetchone()[0]
    return {"media": media.json(), "run_id": run_id}


def state(api_server) -> tuple:
    """Everything a change could move: rows, tags, queue entries, runs, and the assets in Cloudinary."""
    with psycopg.connect(api_server.db_url) as conn:
        rows = conn.execute("SELECT id, status, public_id FROM media_files ORDER BY id").fetchall()
        queue = conn.execute("SELECT id, status, attempts FROM cloudinary_cleanup_queue ORDER BY id").fetchall()
        runs = conn.execute("SELECT count(*) FROM mediasync.reconciliation_requests").fetchone()
    assets = sorted(a["public_id"] for a in httpx.get(
        f"{api_server.emulator.base_url}/v1_1/{api_server.emulator.cloud_name}/resources/image/upload",
        auth=(api_server.emulator.api_key, api_server.emulator.api_secret), timeout=10).json()["resources"])
    return rows, queue, runs, assets


def reads(library: dict) -> list[str]:
    media_id, run_id = library["media"]["id"], library["run_id"]
    return ["/", "/docs", "/openapi.json", "/api/v1/me", "/api/v1/media", f"/api/v1/media/{media_id}",
            "/api/v1/media?status=all", "/api/v1/cleanup-queue", "/api/v1/reconciliation/runs",
            f"/api/v1/reconciliation/runs/{run_id}", f"/api/v1/reconciliation/runs/{run_id}/report.html",
            f"/api/v1/reconciliation/runs/{run_id}/report.csv", "/api/v1/charts/queue", "/api/v1/charts/drift",
            f"/api/v1/thumbnails/{media_id}"]


def changes(library: dict) -> list[tuple[str, str, dict]]:
    media_id = library["media"]["id"]
    return [("POST", "/api/v1/media", {"files": {"file": ("new.png", tiny_png(202), "image/png")}}),
            ("DELETE", f"/api/v1/media/{media_id}", {}),
            ("DELETE", f"/api/v1/media/{media_id}?permanent=true", {}),
            ("POST", "/api/v1/cleanup-queue/process", {"json": {"batchSize": 10, "retryFailed": True}}),
            ("POST", "/api/v1/cleanup-queue/process", {}),
            ("POST", "/api/v1/reconciliation/runs", {"json": {"apply": True, "force": True}})]


def test_me_tells_each_role_what_airflow_lets_it_do(api_server):
    for role in ROLES:
        with api_server.client(role) as client:
            me = client.get("/api/v1/me").json()
        allowed = role != "viewer"
        assert me["user"] == role
        assert me["permissions"] == {"read": True, "edit": allowed, "start_reconciliation": allowed}, role
        assert (me["missing"] == {}) == allowed
    assert me is not None


def test_a_viewer_reads_everything(api_server, library):
    with api_server.client("viewer") as viewer:
        for path in reads(library):
            answer = viewer.get(path)
            assert answer.status_code == 200, (path, answer.text[:300])
        assert viewer.get(f"/api/v1/thumbnails/{library['media']['id']}").content == tiny_png(201)
        with viewer.stream("GET", "/api/v1/events") as events:
            assert events.status_code == 200
            lines = events.iter_lines()
            while next(lines) != ": connected":
                pass


def test_a_viewer_changes_nothing_and_is_told_what_is_missing(api_server, library, reconcile_dag):
    before = state(api_server)
    with api_server.client("viewer") as viewer:
        for method, path, body in changes(library):
            refused = viewer.request(method, path, **body)
            assert refused.status_code == 403, (method, path, refused.text)
            detail = refused.json()["detail"]
            assert "'viewer' lacks edit access to the mediasync DAGs" in detail, detail
            assert "refused PUT on DAG mediasync_" in detail, detail
    assert state(api_server) == before  # the row, its asset, the queue, the runs: untouched


@pytest.mark.parametrize("role", CHANGERS)
def test_user_op_and_admin_do_everything(api_server, library, reconcile_dag, role):
    media_id = library["media"]["id"]
    with api_server.client(role) as client:
        uploaded = client.post("/api/v1/media", files={"file": (f"{role}.png", tiny_png(210), "image/png")})
        assert uploaded.status_code == 201, uploaded.text
        assert client.delete(f"/api/v1/media/{media_id}").json()["cloudinary"] == "deleted"
        assert client.delete(f"/api/v1/media/{media_id}", params={"permanent": "true"}).status_code == 200
        processed = client.post("/api/v1/cleanup-queue/process", json={"batchSize": 10})
        assert processed.status_code == 200 and processed.json()["claimed"] == 1, processed.text
        started = client.post("/api/v1/reconciliation/runs", json={"folder": "main-uploads", "kind": "full"})
        assert started.status_code == 201, started.text
        run = started.json()
        assert run["triggered_by"] == f"{role} (media library page)"
        assert unquote(run["airflow_url"]) == f"/dags/mediasync_reconcile/runs/{run['dag_run_id']}"
        dag_run = client.get(f"{api_server.base_url}/api/v2/dags/mediasync_reconcile/dagRuns/{run['dag_run_id']}")
    assert dag_run.json()["triggering_user_name"] == role and dag_run.json()["run_type"] == "manual"
    assert dag_run.json()["conf"] == {"apply": False, "force": False, "folder": "main-uploads", "kind": "full"}


def test_a_run_the_dags_params_refuse_is_a_clear_4xx(api_server, reconcile_dag):
    with api_server.client("op") as op:
        unsafe = op.post("/api/v1/reconciliation/runs", json={"folder": "main-uploads/../other-app"})
        assert unsafe.status_code == 422 and "'..'" in unsafe.json()["detail"]
        fraction = op.post("/api/v1/reconciliation/runs", json={"max_delete_fraction": 2})
        assert fraction.status_code == 422 and "Traceback" not in fraction.text


class Canary:
    """A listener that records every connection and answers like a server with a secret to leak."""

    SECRET = "CANARY-7f3a-leaked-body"

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.heard: list[bytes] = []
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    self.heard.append(conn.recv(65536))
                    body = f'{{"detail": "{self.SECRET}"}}'.encode()
                    conn.sendall(b"HTTP/1.1 422 Unprocessable\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                except OSError:
                    pass

    def close(self) -> None:
        self.stopping = True
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def canary() -> Iterator[Canary]:
    listening = Canary()
    yield listening
    listening.close()


def test_the_ssrf_canary_hears_nothing_whatever_host_says(api_server, canary, reconcile_dag):
    at = f"127.0.0.1:{canary.port}"
    steering = [{"Host": at}, {"X-Forwarded-Host": at, "X-Forwarded-Proto": "http",
                               "X-Forwarded-Port": str(canary.port)},
                {"Forwarded": f"host={at};proto=http"}, {"Host": at, "X-Forwarded-For": "127.0.0.1"}]
    answers = []
    for role in ("op", "viewer"):
        token = api_server.token(role)
        for headers in steering:
            answer = httpx.post(f"{api_server.base_url}/mediasync/api/v1/reconciliation/runs", json={},
                                headers={"Authorization": f"Bearer {token}", **headers}, timeout=30)
            answers.append((role, answer.status_code))
            assert canary.SECRET not in answer.text
            if role == "op":
                assert answer.status_code == 201, answer.text
                assert not answer.json()["airflow_url"].startswith("http")  # no host taken from the request
            else:
                assert answer.status_code == 403 and str(canary.port) not in answer.json()["detail"]
        for headers in steering:  # and the thumbnails' outbound call: the configured delivery host only
            httpx.get(f"{api_server.base_url}/mediasync/api/v1/thumbnails/00000000-0000-0000-0000-000000000000",
                      headers={"Authorization": f"Bearer {token}", **headers}, timeout=30)
    assert canary.heard == [], canary.heard[:1]
    assert len(answers) == 2 * len(steering)
