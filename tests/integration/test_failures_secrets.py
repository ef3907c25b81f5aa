"""The database password never appears in any output or log — CLI errors, API 503 bodies, log
records — whatever characters it holds (`%`, `/`, `@`, `:`), percent-encoded or not, in URI or
keyword form, for a server that is down and for one that answers."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from psycopg.conninfo import conninfo_to_dict

from fixtures.authorization import EveryoneMay
from mediasync.db import Database, PooledDatabase, redact_dsn
from mediasync.errors import MediasyncError
from mediasync.runtime import build_services

pytestmark = pytest.mark.reliability

PASSWORDS = ["S3cr%t/p@ss", "Xy%4/z@Q:w", "a:b@c/d%e", "pa%25ss%2Fword", "@@//%%", "tr%zz/99@ab"]


def fragments(password: str) -> list[str]:
    """The password and every piece of it a sloppy parser could cut out (3+ characters)."""
    pieces = {password}
    for sep in "%/@:":
        pieces.update(p for p in password.split(sep) if len(p) >= 3)
    return sorted(pieces, key=len, reverse=True)


def dsns(server_url: str, password: str, port: int) -> list[str]:
    info = conninfo_to_dict(server_url)
    host, user = info.get("host", "127.0.0.1"), info.get("user", "postgres")
    encoded = quote(password, safe="")
    return [
        f"postgresql://{user}:{password}@{host}:{port}/postgres",  # not encoded: malformed
        f"postgresql://{user}:{encoded}@{host}:{port}/postgres",  # encoded: well formed
        f"postgres://{user}:{password}@{host}/postgres?port={port}&sslmode=disable",
        f"host={host} port={port} user={user} password='{password}' dbname=postgres",
    ]


def cases(server_url: str) -> list[tuple[str, str]]:
    return [(pw, dsn) for pw in PASSWORDS for port in (1, int(conninfo_to_dict(server_url).get("port", 5432)))
            for dsn in dsns(server_url, pw, port)]


def assert_clean(text: str, password: str, dsn: str) -> None:
    for piece in fragments(password):
        assert piece not in text, f"{piece!r} of the password leaked for {dsn!r}: {text!r}"


def test_redaction_keeps_only_where_and_who(pg_server_url):
    for password, dsn in cases(pg_server_url):
        shown = redact_dsn(dsn)
        assert_clean(shown, password, dsn)
        assert shown.startswith("postgres@") and shown.endswith("/postgres")


def test_connection_errors_and_logs_never_show_the_password(pg_server_url, caplog):
    caplog.set_level(logging.DEBUG)
    for password, dsn in cases(pg_server_url):
        caplog.clear()
        for database in (Database(dsn), PooledDatabase(dsn, wait_seconds=0.5)):
            try:
                with database.transaction() as conn:
                    conn.sql("SELECT 1/0")  # a server that answers: its error passes through the mapping too
            except MediasyncError as exc:
                assert_clean(f"{exc} {exc.reason} {exc!r}", password, dsn)
            finally:
                database.close()
        assert_clean(caplog.text, password, dsn)


def test_cli_errors_never_show_the_password(pg_server_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDIASYNC_", "CLOUDINARY_", "SUPABASE_"))}
    env["CLOUDINARY_URL"] = "cloudinary://key:secret@cloud"
    for password, dsn in cases(pg_server_url)[::3]:  # a spread of them: each is a Python start-up
        for command in (["queue", "stats"], ["reconcile"]):
            result = subprocess.run([sys.executable, "-m", "mediasync.cli", *command], capture_output=True, text=True,
                                    env={**env, "MEDIASYNC_DATABASE_URL": dsn, "MEDIASYNC_LOG_TRACEBACKS": "1"},
                                    timeout=60, stdin=subprocess.DEVNULL, check=False)
            assert result.returncode != 0
            assert_clean(result.stdout + result.stderr, password, dsn)


def test_api_503_bodies_and_server_logs_never_show_the_password(pg_server_url, cloudinary_store, settings, caplog):
    from mediasync.api.app import create_app

    async def anyone() -> str:
        return "tester"

    caplog.set_level(logging.DEBUG)
    port = 1  # nothing listens there: every request is a 503
    for password in PASSWORDS:
        for dsn in dsns(pg_server_url, password, port):
            services = build_services(PooledDatabase(dsn, wait_seconds=0.5), cloudinary_store, settings)
            app = create_app(services_factory=lambda s=services: s, user_dependency=anyone,
                             authorizer=EveryoneMay())
            with TestClient(app, raise_server_exceptions=False) as client:
                for response in (client.get("/api/v1/media"), client.get("/api/v1/cleanup-queue")):
                    assert response.status_code == 503, response.text
                    assert_clean(response.text + str(response.headers), password, dsn)
            services.db.close()
    for password in PASSWORDS:
        assert_clean(caplog.text, password, "any")
