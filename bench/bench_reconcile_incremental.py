"""The nightly reconciliation between full listings: N assets (default 1,000,000) of which 1 %
were uploaded since the last complete run; the run lists only those, through the Search API.
Figures: Admin API calls (target ≤ 30) beside what a full listing of the same library costs, time,
what it found. The history (a complete full run a day ago, rows for every asset) is arranged in
the database directly; bench_reconcile measures full listings. The emulator runs in a process of its
own, as there. BENCH_INCREMENTAL_ASSETS sets N."""

import math
import os
import sqlite3
import sys
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import psycopg

sys.path.insert(0, os.path.dirname(__file__))
from _harness import Timer, emulator_process, fresh_database, machine, peak_rss_mb, report, store_for
from mediasync.config import Settings
from mediasync.services.reconcile import Reconciler
from mediasync.store import MAX_LISTING_PAGE, RESOURCE_TYPES

N = int(os.environ.get("BENCH_INCREMENTAL_ASSETS", "1000000"))
CHURN = N // 100  # uploaded since the last run
ORPHANS = max(1, CHURN // 100)  # of those, without a row (an upload whose save failed)
KEY = "upload:fixed:main-uploads"


def rows(store: sqlite3.Connection, prefix: str, count: int, created_at: datetime) -> Iterator[tuple]:
    """Rows for the first `count` assets under `prefix` with the identity Cloudinary gave each, read
    from the emulator's own store (WAL: a reader beside the server) and streamed (flat peak RSS)."""
    found = store.execute("SELECT public_id, asset_id, version, bytes FROM assets WHERE public_id LIKE ? "
                          "ORDER BY public_id LIMIT ?", (f"{prefix}%", count))
    for pid, aid, version, size in found:
        yield pid, aid, "main-uploads", pid.rsplit("/", 1)[1], "png", size, version, "main-uploads", created_at


with fresh_database() as db, emulator_process() as running, tempfile.TemporaryDirectory() as reports:
    last_run = datetime.now(timezone.utc) - timedelta(days=1)
    running.seed(N - CHURN, prefix="main-uploads/old", age_seconds=2 * 86400)
    running.seed(CHURN, prefix="main-uploads/new")  # uploaded since the last run
    store = sqlite3.connect(f"file:{running.data_dir / 'emulator.sqlite3'}?mode=ro", uri=True)
    with psycopg.connect(db.url, autocommit=True) as conn:  # arranging data, as a test would
        with conn.cursor().copy("COPY media_files (public_id, asset_id, asset_folder, display_name, format, bytes, "
                                "version, folder, created_at) FROM STDIN") as copy:
            for row in rows(store, "main-uploads/old", N - CHURN, last_run - timedelta(days=1)):
                copy.write_row(row)
            for row in rows(store, "main-uploads/new", CHURN - ORPHANS, datetime.now(timezone.utc)):
                copy.write_row(row)
        store.close()
        conn.execute("INSERT INTO mediasync.reconciliation_runs (mode, status, params, inventory_key, kind, "
                     "started_at, finished_at, listing_complete, assets_listed, counts) "
                     "VALUES ('apply', 'completed', '{}', %s, 'full', %s, %s, true, %s, '{}')",
                     (KEY, last_run, last_run + timedelta(minutes=1), N - CHURN))
        conn.execute("ANALYZE media_files")
    calls = running.admin_calls()
    rss_before = peak_rss_mb()
    with Timer() as t:
        settings = Settings(report_dir=reports, cloudinary_folder_mode="fixed")
        result = Reconciler(db, store_for(running), settings).run(kind="auto", grace_minutes=0)
    assert result.status == "completed" and result.kind == "incremental", (result.kind, result.message)
    assert result.counts["orphan_asset"] == ORPHANS, result.counts
    full_listing_calls = math.ceil(N / MAX_LISTING_PAGE) + len(RESOURCE_TYPES) - 1  # the other types' empty pages
    report("reconcile_incremental", assets=N, uploaded_since_last_run=CHURN, assets_listed=result.assets_listed,
           orphans_found=result.counts["orphan_asset"], admin_calls=running.admin_calls() - calls,
           full_listing_admin_calls=full_listing_calls, seconds=t.seconds, peak_rss_mb=peak_rss_mb(),
           rss_growth_mb=round(peak_rss_mb() - rss_before, 1), kind_reason=result.kind_reason, machine=machine())
