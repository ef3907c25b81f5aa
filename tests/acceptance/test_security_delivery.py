"""Nothing a public_id says can steer the plugin's outbound calls, inside a real `airflow
api-server`: a traversal public_id in a signed notification is refused at the door (no row, so
nothing to deliver); one that reached the table some other way is never fetched; thumbnails come
only as an image type of a fixed list, with `nosniff`."""

from __future__ import annotations

import uuid

import cloudinary.uploader
import httpx
import psycopg
import pytest

from fixtures import notifications as cld
from fixtures.emulator import sdk
from fixtures.media import tiny_png
from fixtures.readiness import wait_until_database_answers

pytestmark = pytest.mark.reliability
WEBHOOK = "/mediasync/api/v1/cloudinary/notifications"


@pytest.fixture
def viewer(api_server):
    wait_until_database_answers(api_server)
    with api_server.client("viewer") as client:
        yield client


def row_with(api_server, public_id: str, resource_type: str = "image", format: str = "png") -> str:
    with psycopg.connect(api_server.db_url, autocommit=True) as conn:
        return str(conn.execute("INSERT INTO media_files (public_id, resource_type, format, bytes, version, asset_id) "
                                "VALUES (%s, %s, %s, 10, 1, %s) RETURNING id",
                                (public_id, resource_type, format, uuid.uuid4().hex)).fetchone()[0])


def test_a_traversal_public_id_is_refused_at_the_door_and_never_reaches_delivery(api_server, viewer):
    signed = cld.sign(cld.encode(cld.upload(cld.TRAVERSAL)), api_server.emulator.api_secret)
    refused = httpx.post(api_server.base_url + WEBHOOK, content=signed.raw, headers=signed.headers(), timeout=30)
    assert refused.status_code == 400 and "'..'" in refused.json()["detail"], refused.text
    with psycopg.connect(api_server.db_url) as conn:
        assert conn.execute("SELECT count(*) FROM media_files").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM mediasync.cloudinary_notifications").fetchone()[0] == 0
    # Written past the door (a script, an old release): the plugin still never builds a URL from it.
    for public_id in (cld.TRAVERSAL, "main-uploads/%2e%2e/%2e%2e/_emulator/control", "main-uploads/a?x=/../.."):
        answer = viewer.get(f"/api/v1/thumbnails/{row_with(api_server, public_id)}")
        assert answer.status_code == 404 and "cannot be delivered" in answer.json()["detail"], answer.text
        assert "fail_rate" not in answer.text and "latency" not in answer.text  # not the emulator's control status


def test_thumbnails_are_images_of_a_fixed_list_with_nosniff(api_server, viewer):
    with api_server.client("admin") as admin:
        record = admin.post("/api/v1/media", files={"file": ("t.png", tiny_png(301), "image/png")}).json()
    thumb = viewer.get(f"/api/v1/thumbnails/{record['id']}")
    assert thumb.status_code == 200 and thumb.content == tiny_png(301)
    assert thumb.headers["content-type"] == "image/png" and thumb.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in thumb.headers["content-security-policy"]
    # Bytes the delivery host serves as anything but an image (here a raw file of HTML) are not passed on.
    emulator = api_server.emulator
    html = cloudinary.uploader.upload(b"<script>alert(document.cookie)</script>", resource_type="raw",
                                      public_id="main-uploads/page.html", **sdk(emulator))
    answer = viewer.get(f"/api/v1/thumbnails/{row_with(api_server, html['public_id'], 'raw', '')}")
    assert answer.status_code == 502 and answer.json() == {"detail": "Cloudinary did not deliver an image"}
    assert "<script>" not in answer.text
