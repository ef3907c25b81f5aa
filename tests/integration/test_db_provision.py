"""The dev stack creates its `mediasync` database through the db edge: once, then finds it."""

from __future__ import annotations

import uuid

import pytest

from fixtures.database import drop_database
from mediasync.db import Database
from mediasync.db.provision import ensure_database
from mediasync.errors import ConfigError


def test_ensure_database_creates_it_once_and_answers_with_a_url_that_connects(pg_server_url):
    name = f"mediasync_provision_{uuid.uuid4().hex[:8]}"
    try:
        first = ensure_database(pg_server_url, name)
        second = ensure_database(pg_server_url, name)  # already there: found, not created again
        assert first == second
        with Database(first.url).session() as conn:
            assert conn.sql("SELECT current_database() AS name") == [{"name": name}]
    finally:
        drop_database(pg_server_url, name)


@pytest.mark.parametrize("name", ["Mediasync", "media-sync", "x; DROP DATABASE postgres", ""])
def test_ensure_database_refuses_a_name_that_is_not_a_plain_identifier(pg_server_url, name):
    with pytest.raises(ConfigError):
        ensure_database(pg_server_url, name)
