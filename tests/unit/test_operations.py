"""Pure pieces of the operator's views: who started a DAG run, the one summary a reconcile task
logs, delivery URLs from the current configuration, CLI progress lines."""

from __future__ import annotations

import io
import logging
import re
from types import SimpleNamespace

from mediasync.cli_progress import ProgressHandler
from mediasync.clients.cloudinary import CloudinaryCredentials
from mediasync.delivery import delivery_url
from mediasync.services.operations import summary_lines, trigger_source


def run(kind: str, user: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(run_type=SimpleNamespace(value=kind), triggering_user_name=user)


def test_trigger_source_names_the_schedule_an_asset_or_the_user():
    assert trigger_source(run("scheduled")) == "schedule (Airflow)"
    assert trigger_source(run("asset_triggered")) == "asset event (Airflow)"
    assert trigger_source(run("manual", "alice")) == "alice (Airflow)"
    assert trigger_source(run("manual")) == "manual (Airflow)"
    assert trigger_source(run("backfill", "bob")) == "backfill by bob"


def test_summary_is_one_account_with_full_report_paths_and_no_none():
    long_path = "/var/lib/airflow/reports/" + "x" * 150 + "/reconciliation-7.csv"
    result = SimpleNamespace(run_id=7, mode="dry_run", kind="incremental", status="completed", duration_seconds=1.25,
                             message="dry run: 2 drift items found, nothing changed",
                             kind_reason="the last full listing started 2.0 days ago and the last run found no drift "
                                         "the notifications missed",
                             counts={"orphan_asset": 2, "assets_listed": 10}, report_html=None, report_csv=long_path,
                             report_url=None)
    lines = summary_lines(result, "schedule (Airflow)")
    assert lines[0] == ("reconciliation run 7 (dry run, incremental listing, started by schedule (Airflow)): "
                        "completed in 1.2s — dry run: 2 drift items found, nothing changed")
    assert lines[1] == ("  incremental listing because the last full listing started 2.0 days ago and the last run "
                        "found no drift the notifications missed")
    assert lines[2:4] == ["  assets_listed          10", "  orphan_asset            2"]
    assert lines[4] == 'report: /mediasync/api/v1/reconciliation/runs/7/report.html (also on the task as the ' \
                       '"Reconciliation report" link)'
    assert lines[5:] == [f"report file (CSV): {long_path}"]
    assert not any("None" in line for line in lines)


def test_delivery_urls_follow_the_current_base_not_the_recorded_one():
    moved = CloudinaryCredentials("demo", "k", "s", "http://127.0.0.1:9555/")
    assert delivery_url(moved, public_id="main-uploads/a", resource_type="image", type="upload", version=3,
                        format="png") == "http://127.0.0.1:9555/demo/image/upload/v3/main-uploads/a.png"
    assert delivery_url(moved, public_id="docs/readme", resource_type="raw", type="upload", version=None,
                        format="txt") == "http://127.0.0.1:9555/demo/raw/upload/docs/readme"
    cloud = CloudinaryCredentials("demo", "k", "s")
    assert delivery_url(cloud, public_id="main-uploads/a", resource_type="image", type="upload", version=3,
                        format="png") == "https://res.cloudinary.com/demo/image/upload/v3/main-uploads/a.png"


def _record(msg: str, *args) -> logging.LogRecord:
    return logging.LogRecord("mediasync.services.queue.drain", logging.INFO, __file__, 1, msg, args, None)


def test_progress_off_a_terminal_is_plain_lines():
    out = io.StringIO()
    handler = ProgressHandler("queue process", total=4, stream=out, interactive=False)
    handler.emit(_record("cleanup batch: claimed=%d deleted=%d", 2, 2))
    handler.emit(_record("cleanup batch: claimed=%d deleted=%d", 2, 2))
    lines = out.getvalue().splitlines()
    assert [re.sub(r"^mediasync: \d\d:\d\d:\d\d ", "", line) for line in lines] == [
        "queue process: cleanup batch: claimed=2 deleted=2"] * 2
    assert handler.done == 4


def test_progress_on_a_terminal_redraws_one_bar():
    out = io.StringIO()
    handler = ProgressHandler("queue process", total=4, stream=out, interactive=True)
    handler.emit(_record("cleanup batch: claimed=%d deleted=%d", 1, 1))
    assert out.getvalue().startswith("\r\x1b[K") and "[######..................] 1/4" in out.getvalue()
    handler.finish()
    assert out.getvalue().endswith("\r\x1b[K") and "\n" not in out.getvalue()
