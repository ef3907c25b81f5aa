"""Cloudinary's webhook into the plugin inside a real `airflow api-server`: no Airflow login, the
signature instead; 2xx only after commit; clear 4xx JSON for bad notifications."""

from __future__ import annotations

import uuid

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row

from fixtures import notifications as cld

PATH = "/mediasync/api/v1/cloudinary/notifications"


@pytest.fixture
def conn(api_server):
    with psycopg.connect(api_server.db_url, autocommit=True, row_factory=dict_row) as connection:
        yield connection


def add_row(conn, public_id: str) -> dict:
    return conn.execute(
        "INSERT INTO public.media_files (public_id, resource_type, type, format, bytes, version, folder, asset_id,"
        " asset_folder) VALUES (%s, 'image', 'upload', 'png', 68, 1, 'main-uploads', %s, 'main-uploads')"
        " RETURNING *", (public_id, uuid.uuid4().hex)).fetchone()


def test_a_signed_webhook_needs_no_airflow_login_and_answers_after_commit(api_server, conn):
    row = add_row(conn, "main-uploads/console-deleted")
    signed = cld.sign(cld.encode(cld.delete(row)), api_server.emulator.api_secret)
    response = httpx.post(api_server.base_url + PATH, content=signed.raw, headers=signed.headers(), timeout=30)
    assert response.status_code == 200, response.text
    assert (response.json()["outcome"], response.json()["changed_rows"]) == ("applied", 1)
    # 2xx came after the commit: the row is already deleted when the answer arrives
    assert conn.execute("SELECT status, deleted_by FROM public.media_files WHERE id = %s",
                        (row["id"],)).fetchone() == {"status": "deleted", "deleted_by": "cloudinary"}
    again = httpx.post(api_server.base_url + PATH, content=signed.raw, headers=signed.headers(), timeout=30)
    assert again.status_code == 200 and again.json()["duplicate"] is True


def truncated(signed: cld.Signed) -> cld.Signed:
    """The signed headers of a body that lost its last bytes on the way."""
    return cld.Signed(signed.raw[:-5], signed.timestamp, signed.signature)


@pytest.mark.parametrize(("case", "status"), [("forged", 401), ("stale", 401), ("truncated", 401),
                                              ("no_headers", 400), ("not_json", 400), ("too_large", 413)])
def test_bad_notifications_get_a_clear_4xx_and_change_nothing(api_server, conn, case, status):
    row = add_row(conn, "main-uploads/kept")
    raw = cld.encode(cld.delete(row))
    secret = api_server.emulator.api_secret
    signed = {"forged": lambda: cld.sign(raw, "guess"),
              "stale": lambda: cld.sign(raw, secret, timestamp=1_000_000_000),
              "truncated": lambda: truncated(cld.sign(raw, secret)),
              "no_headers": lambda: cld.Signed(raw, "", ""),
              "not_json": lambda: cld.sign(b"{not json", secret),
              "too_large": lambda: cld.sign(b" " * (2 * 1024 * 1024), secret)}[case]()
    headers = {k: v for k, v in signed.headers().items() if v}
    response = httpx.post(api_server.base_url + PATH, content=signed.raw, headers=headers, timeout=30)
    assert response.status_code == status, response.text
    assert response.json()["detail"]
    assert conn.execute("SELECT status FROM public.media_files WHERE id = %s", (row["id"],)).fetchone()["status"] \
        == "active"
    assert conn.execute("SELECT count(*) AS n FROM mediasync.cloudinary_notifications").fetchone()["n"] == 0


@pytest.mark.parametrize("case", ["nested 10,000 deep", "display_name an object", "format a list",
                                  "traversal public_id", "100,000 tags"])
def test_the_attack_passs_signed_poison_is_a_fast_400_that_stores_nothing(api_server, conn, case):
    """The findings, as they were sent: a 500 (RecursionError) Cloudinary would retry forever, an object
    stored as display-name text, a list stored as `{png}`, a traversal adopted, 100,000 tags taking a
    minute in one transaction."""
    import time

    row = add_row(conn, "main-uploads/target")
    raw = cld.poison_corpus(row)[case]
    signed = cld.sign(raw, api_server.emulator.api_secret)
    started = time.monotonic()
    response = httpx.post(api_server.base_url + PATH, content=signed.raw, headers=signed.headers(), timeout=60)
    assert response.status_code == 400, response.text
    assert time.monotonic() - started < 5
    assert response.json()["detail"].startswith("malformed notification body: ")
    assert conn.execute("SELECT count(*) AS n FROM public.media_files").fetchone()["n"] == 1
    assert conn.execute("SELECT count(*) AS n FROM public.media_tags").fetchone()["n"] == 0
    assert conn.execute("SELECT count(*) AS n FROM mediasync.cloudinary_notifications").fetchone()["n"] == 0
