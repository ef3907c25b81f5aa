"""The delete brake over the plugin's API inside a real `airflow api-server`: deletes through the
API are batches recording the Airflow user; a held batch is listed with who and why; release and
undo answer with counts and record who decided; bad ids are JSON 404s, refused decisions 409s."""

from __future__ import annotations

import psycopg
import pytest

from fixtures.media import tiny_png


@pytest.fixture
def client(api_server):
    with api_server.client() as http:
        yield http


def upload(client, count: int) -> list[dict]:
    return [client.post("/api/v1/media", files={"file": (f"a{i}.png", tiny_png(300 + i), "image/png")}).json()
            for i in range(count)]


def test_an_api_delete_is_a_batch_of_the_airflow_user(client):
    (record,) = upload(client, 1)
    outcome = client.delete(f"/api/v1/media/{record['id']}", params={"permanent": "true"}).json()
    assert outcome["cloudinary"] == "deleted" and outcome["batch_status"] == "flowing"
    (batch,) = client.get("/api/v1/deletions").json()["items"]
    assert (batch["id"], batch["source"], batch["requested_by"]) == (outcome["batch_id"], "api", "admin (API)")
    assert batch["entries"] == {"completed": 1}


def test_held_batches_release_and_undo_over_http(client, api_server):
    upload(client, 12)
    with psycopg.connect(api_server.db_url, autocommit=True, application_name="psql") as psql:
        psql.execute("DELETE FROM media_files")
    (held,) = client.get("/api/v1/deletions", params={"status": "held"}).json()["items"]
    assert held["application_name"] == "psql" and "MEDIASYNC_DELETE_HOLD_FRACTION" in held["hold_reason"]
    detail = client.get(f"/api/v1/deletions/{held['id']}").json()
    assert len(detail["sample"]) == 12 and detail["entries"] == {"held": 12}

    undone = client.post(f"/api/v1/deletions/{held['id']}/undo")
    assert undone.status_code == 200, undone.text
    assert (undone.json()["rows_restored"], undone.json()["decided_by"]) == (12, "admin (API)")
    refused = client.post(f"/api/v1/deletions/{held['id']}/release")
    assert refused.status_code == 409 and "undone" in refused.json()["detail"]
    assert len(client.get("/api/v1/media").json()["items"]) == 12

    with psycopg.connect(api_server.db_url, autocommit=True) as conn:
        conn.execute("DELETE FROM media_files")
    (again,) = client.get("/api/v1/deletions", params={"status": "held"}).json()["items"]
    released = client.post(f"/api/v1/deletions/{again['id']}/release").json()
    assert released["released_entries"] == 12 and released["batch"]["decided_by"] == "admin (API)"
    drained = client.post("/api/v1/cleanup-queue/process", json={}).json()
    assert drained["deleted"] == 12


def test_unknown_batches_and_bad_filters_are_json_errors(client):
    assert client.get("/api/v1/deletions/999999").status_code == 404
    assert client.post("/api/v1/deletions/999999/undo").json()["detail"] == "deletion batch 999999 not found"
    assert client.get("/api/v1/deletions", params={"status": "gone"}).status_code == 422
    assert client.get("/api/v1/deletions/abc").status_code == 422
