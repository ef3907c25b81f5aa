"""The Airflow connection `mediasync_db` says which Supabase connection each part needs: the
`mediasync_postgres` form (relabelled fields, placeholders, the guide under SSL mode), and a Test
button that names what the DSN connects through."""

from __future__ import annotations

import json
from types import SimpleNamespace

from mediasync.db import dsn_from_airflow_connection
from mediasync.hooks.postgres import MediasyncDatabaseHook
from mediasync.provider import CONNECTION_GUIDE, get_provider_info


def test_provider_registers_the_database_connection_type_and_its_form():
    from airflow.providers_manager import ProvidersManager

    types = {c["connection-type"]: c for c in get_provider_info()["connection-types"]}
    assert types["mediasync_postgres"]["hook-class-name"] == "mediasync.hooks.postgres.MediasyncDatabaseHook"
    manager = ProvidersManager()
    assert manager.hooks["mediasync_postgres"].hook_class_name == "mediasync.hooks.postgres.MediasyncDatabaseHook"
    widget = manager.connection_form_widgets["extra__mediasync_postgres__sslmode"]
    assert CONNECTION_GUIDE in widget.field["description"]
    behaviour = manager.field_behaviours["mediasync_postgres"]
    assert behaviour["relabeling"]["host"] == "Host (direct or session pooler)"
    assert "6543: transaction pooler" in behaviour["placeholders"]["port"]
    for part in ("direct connection or the session pooler (port 5432)", "transaction pooler (port 6543)",
                 "live updates", "event trigger", "reconciliation", "`db upgrade`"):
        assert part in CONNECTION_GUIDE


def test_the_forms_prefixed_fields_reach_the_dsn(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_MEDIASYNC_DB", json.dumps({
        "conn_type": "mediasync_postgres", "host": "db.example.supabase.co", "port": 5432, "login": "postgres",
        "password": "s3cret", "schema": "postgres",
        "extra": {"extra__mediasync_postgres__sslmode": "require", "extra__mediasync_postgres__options": ""}}))
    assert MediasyncDatabaseHook().database_url() == (
        "postgresql://postgres:s3cret@db.example.supabase.co:5432/postgres?sslmode=require")

    plain = SimpleNamespace(login="postgres", password=None, host="db.example.supabase.co", port=5432,
                            schema="postgres", extra_dejson={"sslmode": "require"})  # a `postgres` connection
    assert dsn_from_airflow_connection(plain) == "postgresql://postgres@db.example.supabase.co:5432/postgres?sslmode=require"


def test_the_test_button_names_what_the_dsn_connects_through(monkeypatch, db_url, pooled_db_url, session_pooler):
    monkeypatch.setenv("AIRFLOW_CONN_MEDIASYNC_DB", db_url)
    ok, message = MediasyncDatabaseHook().test_connection()
    assert ok and ": direct; every part of mediasync works through it" in message

    monkeypatch.setenv("AIRFLOW_CONN_MEDIASYNC_DB", session_pooler.url(db_url))
    ok, message = MediasyncDatabaseHook().test_connection()
    assert ok and ": session pooler; every part" in message

    monkeypatch.setenv("AIRFLOW_CONN_MEDIASYNC_DB", pooled_db_url)
    ok, message = MediasyncDatabaseHook().test_connection()
    assert ok and "a transaction pooler" in message
    assert "needs a session: use the direct connection or the session pooler, port 5432" in message

    monkeypatch.setenv("AIRFLOW_CONN_MEDIASYNC_DB", pooled_db_url.replace("/mediasync_test_", "/no_such_db_"))
    ok, message = MediasyncDatabaseHook().test_connection()
    assert not ok and message.startswith("cannot connect to PostgreSQL at ") and "does not exist" in message
