"""A burst of Cloudinary webhooks into the plugin inside a real `airflow api-server`: 500 signed
notifications (deletes, renames, tag changes) from 16 senders at once, some delivered twice — every
one answered 2xx after its commit, stored once, applied once, none lost."""

from __future__ import annotations

import threading

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row

from fixtures import notifications as cld
from fixtures.bursts import add_rows, assert_applied_once, notification_for, send_all

PATH = "/mediasync/api/v1/cloudinary/notifications"


@pytest.fixture
def conn(api_server):
    with psycopg.connect(api_server.db_url, autocommit=True, row_factory=dict_row) as connection:
        yield connection


def test_a_burst_of_500_webhooks_from_16_senders_is_applied_exactly_once(api_server, conn):
    rows = add_rows(conn, 500)
    secret = api_server.emulator.api_secret
    signed = [cld.sign(cld.encode(notification_for(i, row)), secret) for i, row in enumerate(rows)]
    redelivered = signed[::25]
    local = threading.local()

    def send(raw: bytes, s: cld.Signed) -> dict:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=api_server.base_url, timeout=60)
        response = local.client.post(PATH, content=raw, headers=s.headers())
        assert response.status_code == 200, response.text
        return response.json()

    answers = send_all(send, [*signed, *redelivered], senders=16)
    assert_applied_once(conn, rows)
    assert sum(a["duplicate"] for a in answers) == len(redelivered)
    assert sum(a["outcome"] == "applied" and not a["duplicate"] for a in answers) == len(rows)
