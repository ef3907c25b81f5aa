"""The plugin's API inside a real `airflow api-server` whose `mediasync_db` connection is Supabase's
transaction pooler (PgBouncer, `pool_mode = transaction`): the API answers with its bounded pool
on the pooler — uploads, deletes, the queue, the webhook — and live updates, which need a session,
answer 503 naming the fix. Nothing in the server's log is a traceback."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row

from fixtures import notifications as cld
from fixtures.airflow import ApiServer, fresh_copy, running_api_server
from fixtures.database import create_database, drop_database
from fixtures.media import tiny_png
from fixtures.pgbouncer import RunningPgBouncer

FIX = "needs a session: use the direct connection or the session pooler, port 5432"
POOL_SIZE = 10  # the plugin's pool per API-server process (README)


@pytest.fixture(scope="module")
def pooled_api_process(tmp_path_factory, pg_server_url, template_database, emulator_server,
                       transaction_pooler: RunningPgBouncer) -> Iterator[ApiServer]:
    name = f"mediasync_papi_{uuid.uuid4().hex[:8]}"
    db_url = create_database(pg_server_url, name, template=template_database)
    try:
        with running_api_server(tmp_path_factory.mktemp("airflow-pooled-api-home"), db_url, name, emulator_server,
                                connect_url=transaction_pooler.url(db_url)) as server:
            yield server
    finally:
        drop_database(pg_server_url, name)


@pytest.fixture
def pooled_api(pooled_api_process, pg_server_url, template_database, emulator) -> Iterator[ApiServer]:
    """The server on a fresh copy of its database; its log must hold no traceback afterwards."""
    fresh_copy(pg_server_url, pooled_api_process.db_name, template_database)
    yield pooled_api_process
    assert pooled_api_process.log is not None
    assert "Traceback" not in pooled_api_process.log.read_text(errors="replace")


@pytest.fixture
def client(pooled_api) -> Iterator[httpx.Client]:
    with pooled_api.client() as http:
        yield http


@pytest.fixture
def conn(pooled_api) -> Iterator[psycopg.Connection]:
    """Directly to the server's database (not through the pooler), to arrange and assert."""
    with psycopg.connect(pooled_api.db_url, autocommit=True, row_factory=dict_row) as connection:
        yield connection


def test_upload_list_delete_and_the_queue_through_the_pooler(client, conn, emulator):
    created = [client.post("/api/v1/media", files={"file": (f"p{i}.png", tiny_png(40 + i), "image/png")},
                           data={"tags": "pooled"}) for i in range(3)]
    assert [r.status_code for r in created] == [201, 201, 201], [r.text for r in created]
    soft, hard, by_sql = (r.json() for r in created)
    assert {m["id"] for m in client.get("/api/v1/media").json()["items"]} == {soft["id"], hard["id"], by_sql["id"]}
    assert client.get(f"/api/v1/media/{soft['id']}").json()["status"] == "active"

    assert client.delete(f"/api/v1/media/{soft['id']}").json()["cloudinary"] == "deleted"
    assert client.delete(f"/api/v1/media/{hard['id']}", params={"permanent": "true"}).json()["cloudinary"] == "deleted"
    conn.execute("DELETE FROM media_files WHERE id = %s", (by_sql["id"],))  # psql: the trigger queues it
    assert client.get("/api/v1/cleanup-queue").json()["pending"] == 1
    processed = client.post("/api/v1/cleanup-queue/process", json={"batchSize": 10})
    assert processed.status_code == 200 and processed.json()["deleted"] == 1
    assert client.get("/api/v1/cleanup-queue").json()["completed"] == 3
    assert emulator.settings()["assets"] == 0


def test_the_api_answers_with_its_bounded_pool_on_the_pooler(pooled_api, client, transaction_pooler):
    with ThreadPoolExecutor(max_workers=25) as workers:
        answers = list(workers.map(lambda _: client.get("/api/v1/media").status_code, range(100)))
    assert answers == [200] * 100
    assert client.get("/api/v1/charts/queue", params={"hours": 24}).status_code == 200
    plugin = [c for c in transaction_pooler.show("CLIENTS")
              if c["database"] == pooled_api.db_name and c["application_name"] == "mediasync"]
    assert 1 <= len(plugin) <= POOL_SIZE, plugin  # the plugin's pool: connected to PgBouncer, and bounded


def test_the_webhook_ingests_through_the_pooler(pooled_api, conn):
    row = conn.execute("INSERT INTO media_files (public_id, resource_type, type, format, bytes, version, folder, "
                       "asset_id, asset_folder) VALUES ('main-uploads/console-deleted', 'image', 'upload', 'png', 68, "
                       "1, 'main-uploads', %s, 'main-uploads') RETURNING *", (uuid.uuid4().hex,)).fetchone()
    signed = cld.sign(cld.encode(cld.delete(row)), pooled_api.emulator.api_secret)
    response = httpx.post(f"{pooled_api.base_url}/mediasync/api/v1/cloudinary/notifications", content=signed.raw,
                          headers=signed.headers(), timeout=30)
    assert response.status_code == 200 and response.json()["outcome"] == "applied", response.text
    assert conn.execute("SELECT status, deleted_by FROM media_files WHERE id = %s", (row["id"],)).fetchone() == {
        "status": "deleted", "deleted_by": "cloudinary"}


def test_live_updates_are_refused_with_the_fix(client):
    for _ in range(2):  # the refusal is remembered, and stays the same
        response = client.get("/api/v1/events")
        assert response.status_code == 503
        detail = response.json()["detail"]
        assert FIX in detail and "transaction pooler" in detail and "\n" not in detail
