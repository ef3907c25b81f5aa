"""The CLI on an operator's day: a database without migrations is one line naming the fix; long
runs show progress on stderr (plain lines when not on a terminal) and keep stdout for the result;
a reconciliation from the CLI records who started it."""

from __future__ import annotations

import json
import re

from fixtures.media import tiny_png
from support.cli import assert_clean_error, run_cli


def test_queue_stats_without_migrations_is_one_line_naming_the_fix(empty_database_url):
    assert_clean_error(run_cli("queue", "stats", database_url=empty_database_url), "mediasync db upgrade")


def test_reconcile_without_migrations_is_one_line_naming_the_fix(empty_database_url, emulator):
    result = run_cli("reconcile", database_url=empty_database_url, CLOUDINARY_URL=emulator.cloudinary_url)
    assert_clean_error(result, "mediasync db upgrade")


def test_queue_process_shows_plain_progress_lines_off_a_terminal(db_url, conn, cloudinary_store, emulator):
    ids = [cloudinary_store.upload(tiny_png(700 + i), folder="main-uploads", resource_type="image").public_id
           for i in range(5)]
    for public_id in ids:
        conn.execute("INSERT INTO cloudinary_cleanup_queue (public_id, reason) VALUES (%s, 'db_delete')", (public_id,))
    result = run_cli("queue", "process", "--batch-size", "2", "--json", database_url=db_url,
                     CLOUDINARY_URL=emulator.cloudinary_url)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["deleted"] == 5  # stdout is the result alone
    progress = [line for line in result.stderr.splitlines() if " queue process: cleanup batch:" in line]
    assert len(progress) == 3, result.stderr  # 2 + 2 + 1, one plain line each
    assert all(re.match(r"^mediasync: \d\d:\d\d:\d\d queue process: ", line) for line in progress)
    assert "\r" not in result.stderr and "\x1b[" not in result.stderr


def test_reconcile_from_the_cli_records_who_started_it(db_url, conn, emulator):
    result = run_cli("reconcile", "--json", database_url=db_url, CLOUDINARY_URL=emulator.cloudinary_url)
    assert result.returncode == 0, result.stderr
    run_id = json.loads(result.stdout)["run_id"]
    assert "reconcile: listing " in result.stderr and " assets in scope" in result.stderr  # progress lines
    row = conn.execute("SELECT triggered_by, dag_run_id FROM mediasync.reconciliation_runs WHERE id = %s",
                       (run_id,)).fetchone()
    assert row["triggered_by"].endswith("(CLI)") and row["dag_run_id"] is None


def test_reconcile_human_output_has_no_none_cells(db_url, emulator):
    result = run_cli("reconcile", database_url=db_url, CLOUDINARY_URL=emulator.cloudinary_url)
    assert result.returncode == 0, result.stderr
    assert "None" not in result.stdout
    assert re.search(r"^status\s+completed$", result.stdout, re.MULTILINE), result.stdout


# What a drain never needs: the reconciler and its reports (jinja2, pandas), the upload path (httpx),
# the notification and deletion services, Airflow. Importing any of them costs start-up time.
NOT_FOR_A_DRAIN = ("pandas", "jinja2", "httpx", "airflow", "mediasync.services.reconcile.service",
                   "mediasync.services.reconcile.reports", "mediasync.services.notifications",
                   "mediasync.services.deletions", "mediasync.services.media_library")


def test_queue_process_imports_only_what_a_drain_uses(db_url, conn, cloudinary_store, emulator):
    public_id = cloudinary_store.upload(tiny_png(720), folder="main-uploads", resource_type="image").public_id
    conn.execute("INSERT INTO cloudinary_cleanup_queue (public_id, reason) VALUES (%s, 'db_delete')", (public_id,))
    result = run_cli("queue", "process", "--json", database_url=db_url, CLOUDINARY_URL=emulator.cloudinary_url,
                     PYTHONPROFILEIMPORTTIME="1")  # every module the process imports, on stderr
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout)["deleted"] == 1
    imported = {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:") and "|" in line}
    assert {"cloudinary", "psycopg"} <= imported  # what it does use, so the list is the real one
    assert [m for m in imported if m.split(".")[0] in NOT_FOR_A_DRAIN or m in NOT_FOR_A_DRAIN] == []
