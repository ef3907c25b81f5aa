"""The `mediasync` CLI as a subprocess: set-up, queue stats, retention, and clean errors."""

from __future__ import annotations

import json
import re

import pytest

from support.cli import assert_clean_error, run_cli


def test_db_upgrade_sets_up_then_is_idempotent(empty_database_url):
    first = run_cli("db", "upgrade", database_url=empty_database_url)
    assert first.returncode == 0, first.stderr
    assert "applied 001_media" in first.stdout
    second = run_cli("db", "upgrade", database_url=empty_database_url)
    assert second.returncode == 0 and "(0 migration(s) applied)" in second.stdout


def test_queue_stats_json(db_url, conn):
    conn.execute("INSERT INTO cloudinary_cleanup_queue (public_id, reason) "
                 "VALUES ('a', 'db_delete'), ('b', 'db_delete')")
    result = run_cli("queue", "stats", "--json", database_url=db_url)
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert {k: stats[k] for k in ("pending", "processing", "completed", "failed")} == {
        "pending": 2, "processing": 0, "completed": 0, "failed": 0}
    human = run_cli("queue", "stats", database_url=db_url)
    assert re.search(r"^pending\s+2$", human.stdout, re.MULTILINE), human.stdout
    assert re.search(r"^failed\s+0$", human.stdout, re.MULTILINE), human.stdout


def test_retention_json(db_url, conn):
    conn.execute("INSERT INTO cloudinary_cleanup_queue (public_id, reason, status, completed_at) "
                 "VALUES ('old', 'db_delete', 'completed', now() - interval '40 days'), "
                 "('new', 'db_delete', 'completed', now() - interval '1 day')")
    result = run_cli("retention", "--days", "30", "--json", database_url=db_url)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["deleted"] == 1


@pytest.mark.parametrize(("args", "env", "fragment"), [
    (("db", "upgrade"), {}, "no database configured: set MEDIASYNC_DATABASE_URL"),
    (("db", "upgrade"), {"MEDIASYNC_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/x?connect_timeout=2"},
     "cannot connect to PostgreSQL at postgres@127.0.0.1:1/x"),
    (("queue", "stats"), {"MEDIASYNC_DATABASE_URL": "not a dsn ==="}, "database URL is malformed"),
    (("queue", "stats"), {"MEDIASYNC_DATABASE_URL": "postgresql://x", "MEDIASYNC_MAX_ATTEMPTS": "lots"},
     "MEDIASYNC_MAX_ATTEMPTS='lots' is malformed"),
])
def test_errors_are_one_line_without_traceback(args, env, fragment):
    assert_clean_error(run_cli(*args, **env), fragment)


def test_bad_option_is_a_usage_error():
    result = run_cli("retention", "--days", "0")
    assert result.returncode == 2 and "Traceback" not in result.stderr
