"""Nobody let in: the plugin inside a real `airflow api-server`, attacked over HTTP.

401 for every credential that does not prove a user; the OpenAPI document and its viewer behind
the same login; bodies refused as soon as they pass the limit (a 1 GiB upload costs about the
limit's worth of reading); polyglots and foreign folders refused; cookie-only state changes from
another origin refused while Bearer clients and same-origin requests work.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import socket
import time

import httpx
import psycopg
import pytest

from fixtures import polyglots
from fixtures.media import tiny_png

pytestmark = pytest.mark.reliability
GIB = 1 << 30
MAX_UPLOAD = 100 * 1024 * 1024  # the server's MEDIASYNC_MAX_UPLOAD_BYTES (the default)


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


# The API server's signing key. Airflow generates one per process unless configured; the session's
# API server copies this environment when it starts, which is after every module was collected.
JWT_SECRET = os.environ.setdefault("AIRFLOW__API_AUTH__JWT_SECRET", "mediasync-tests-" + secrets.token_hex(16))


def jwt_secret(api_server) -> str | None:
    return JWT_SECRET


def signed(claims: dict, secret: str, alg: str = "HS512") -> str:
    import jwt

    return jwt.encode(claims, secret, algorithm=alg)


def test_every_bad_credential_is_a_401(api_server):
    real = api_server.token()
    header, payload, _ = real.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{payload}."
    bad = {
        "malformed": {"Authorization": "Bearer not-a-jwt"},
        "bearer without a token": {"Authorization": "Bearer"},
        "alg none": {"Authorization": f"Bearer {unsigned}"},
        "tampered payload": {"Authorization": f"Bearer {header}.{b64({**claims, 'sub': 'root'})}.{real.split('.')[2]}"},
        "wrong key": {"Authorization": f"Bearer {signed({**claims}, 'not-the-servers-secret-' * 3)}"},
        "basic auth": {"Authorization": "Basic YWRtaW46YWRtaW4="},
        "garbage cookie": {"Cookie": "_token=garbage"},
    }
    secret = jwt_secret(api_server)
    if secret:
        now = int(time.time())
        bad["wrong audience"] = {"Authorization": f"Bearer {signed({**claims, 'aud': 'another-service'}, secret)}"}
        old = {**claims, "iat": now - 7200, "nbf": now - 7200, "exp": now - 3600}
        bad["expired"] = {"Authorization": f"Bearer {signed(old, secret)}"}
    for path in ("/api/v1/media", "/api/v1/cleanup-queue", "/openapi.json", "/docs"):
        for name, headers in bad.items():
            response = httpx.get(f"{api_server.base_url}/mediasync{path}", headers=headers, timeout=10)
            assert response.status_code == 401, (path, name, response.status_code, response.text)
            assert response.json()["detail"] and response.headers.get("www-authenticate") == "Bearer", (path, name)
    assert secret, "the API server's jwt_secret was not found: wrong-audience and expired tokens were not tried"


def test_openapi_and_docs_need_the_same_login_and_tell_the_truth(api_server):
    for path in ("/openapi.json", "/docs"):
        assert httpx.get(f"{api_server.base_url}/mediasync{path}", timeout=10).status_code == 401
    with api_server.client() as client:
        spec = client.get("/openapi.json").json()
        assert client.get("/docs").status_code == 200
    error_body = {"$ref": "#/components/schemas/ErrorBody"}
    assert spec["components"]["schemas"]["ErrorBody"]["required"] == ["detail"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]  # the 422 body is ErrorBody, as sent
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            for code in ("401", "413", "422", "503"):
                answer = operation["responses"].get(code)
                assert answer and answer["content"]["application/json"]["schema"] == error_body, (path, method, code)
    upload = spec["paths"]["/api/v1/media"]["post"]["responses"]
    assert {"201", "400", "413", "415", "422", "503"} <= set(upload)
    assert "404" in spec["paths"]["/api/v1/media/{media_id}"]["get"]["responses"]
    schemes = spec["components"]["securitySchemes"].values()
    assert any(s["type"] == "http" and s["scheme"].lower() == "bearer" for s in schemes)
    assert any(s["type"] == "apiKey" and s["in"] == "cookie" and s["name"] == "_token" for s in schemes)


def _multipart_head(boundary: str) -> bytes:
    return (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.mp4\"\r\n"
            f"Content-Type: video/mp4\r\n\r\n").encode()


def _raw_upload(api_server, *, chunked: bool, total: int) -> tuple[int, bytes]:
    """POST an upload body of `total` bytes over a raw socket, stopping as soon as the server
    answers or hangs up; returns (bytes of body sent, the server's answer)."""
    host, port = api_server.base_url.removeprefix("http://").split(":")
    boundary = "mediasyncboundary"
    head = (f"POST /mediasync/api/v1/media HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {api_server.token()}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            + ("Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {total}\r\n") + "\r\n").encode()
    block = b"\0" * (1 << 20)
    sent, answer = 0, b""
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head)
        first = _multipart_head(boundary)
        try:
            while sent < total:
                data = first + block if sent == 0 else block
                sock.sendall(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
                sent += len(data)
                sock.setblocking(False)
                try:
                    answer = sock.recv(65536)
                except BlockingIOError:
                    answer = b""
                finally:
                    sock.setblocking(True)
                if answer:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        sock.settimeout(10)
        try:
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                more = sock.recv(65536)
                if not more:
                    break
                answer += more
        except (TimeoutError, ConnectionResetError):
            pass
    return sent, answer


def test_a_1_gib_body_is_refused_after_reading_about_the_limit(api_server):
    announced_sent, announced = _raw_upload(api_server, chunked=False, total=GIB)
    assert announced.startswith(b"HTTP/1.1 413"), announced[:200]
    assert announced_sent <= 64 * 1024 * 1024  # refused on the Content-Length, before the body

    streamed_sent, streamed = _raw_upload(api_server, chunked=True, total=GIB)
    assert streamed.startswith(b"HTTP/1.1 413"), streamed[:200]
    assert b'"detail"' in streamed
    assert MAX_UPLOAD < streamed_sent < MAX_UPLOAD + 64 * 1024 * 1024, streamed_sent
    with psycopg.connect(api_server.db_url) as conn:
        assert conn.execute("SELECT count(*) FROM media_files").fetchone()[0] == 0


@pytest.mark.parametrize(("files", "data", "status"), [
    ({"file": ("x.jpg", polyglots.JPEG_HEADER_AND_HTML, "image/jpeg")}, {}, 415),
    ({"file": ("x.jpg", polyglots.jpeg_with_html_appended(), "image/jpeg")}, {}, 415),
    ({"file": ("x.gif", polyglots.gif_js_polyglot(), "image/gif")}, {}, 415),
    ({"file": ("x.pdf", polyglots.PDF_WITH_SCRIPT, "application/pdf")}, {}, 415),
    ({"file": ("x.png", polyglots.png_claiming(4_294_967_295, 4_294_967_295), "image/png")}, {}, 413),
    ({"file": ("x.png", tiny_png(9), "image/png")}, {"folder": "other-app"}, 422),
])
def test_polyglots_huge_images_and_foreign_folders_are_4xx(api_server, files, data, status):
    with api_server.client() as client:
        response = client.post("/api/v1/media", files=files, data=data)
        assert response.status_code == status, response.text
        assert response.json()["detail"]
        assert client.get("/api/v1/media").json()["items"] == []


def test_cookie_only_state_changes_need_the_servers_own_origin(api_server):
    token = api_server.token()
    base = f"{api_server.base_url}/mediasync"
    upload = {"files": {"file": ("c.png", tiny_png(11), "image/png")}}
    hostile = {"Origin": "http://127.0.0.1:1"}
    for headers in (hostile, {"Origin": "null"}, {"Referer": "http://evil.example/page"}, {}):
        refused = httpx.post(f"{base}/api/v1/media", cookies={"_token": token}, headers=headers, timeout=30, **upload)
        assert refused.status_code == 403, (headers, refused.text)
        process = httpx.post(f"{base}/api/v1/cleanup-queue/process", cookies={"_token": token}, timeout=30,
                             headers={**headers, "Content-Type": "text/plain"}, content=b"{}")
        assert process.status_code == 403, (headers, process.text)
    same_origin = httpx.post(f"{base}/api/v1/media", cookies={"_token": token}, timeout=30,
                             headers={"Origin": api_server.base_url}, **upload)
    assert same_origin.status_code == 201, same_origin.text
    bearer_elsewhere = httpx.post(f"{base}/api/v1/cleanup-queue/process", json={}, timeout=30,
                                  headers={"Authorization": f"Bearer {token}", **hostile})
    assert bearer_elsewhere.status_code == 200, bearer_elsewhere.text  # a token is not ambient: no CSRF
    reads = httpx.get(f"{base}/api/v1/media", cookies={"_token": token}, headers=hostile, timeout=30)
    assert reads.status_code == 200  # reads never change state (and CORS keeps their answers from other pages)
    with psycopg.connect(api_server.db_url) as conn:
        assert conn.execute("SELECT count(*) FROM media_files").fetchone()[0] == 1
