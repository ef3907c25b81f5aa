"""Full listings at Cloudinary's latency: the sequential cursor against the listing split into
upload-time ranges listed side by side (MEDIASYNC_RECONCILE_LISTING_CONCURRENCY cursors), on the
same emulator (its own process) at BENCH_LISTING_LATENCY_MS per call (default 250). Per size: the
cursor's seconds and Admin calls; the ranges' seconds and calls; a full dry-run reconciliation
(listing + SQL diff) with ranges at that latency and at 0 ms; the speed-up of listing and of the
whole reconciliation over the cursor's listing alone, and the calls' difference in percent.
The first full listing plans the ranges (from what it saw), so each size lists once at 0 ms first.
Sizes: BENCH_LISTING_SIZES (default 100000; "100000,1000000" adds the 1M run: the cursor alone
needs 2,000 calls × the latency, over 8 minutes at 250 ms)."""

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone

import psycopg

sys.path.insert(0, os.path.dirname(__file__))
from _harness import Timer, emulator_process, fresh_database, machine, report, store_for
from mediasync.config import Settings
from mediasync.repository.reconciliation import ReconciliationRepository
from mediasync.scope import ManagedScope
from mediasync.services.reconcile import Reconciler
from mediasync.services.reconcile.listing import SnapshotLister

LATENCY_MS = int(os.environ.get("BENCH_LISTING_LATENCY_MS", "250"))
CONCURRENCY = int(os.environ.get("MEDIASYNC_RECONCILE_LISTING_CONCURRENCY", Settings.reconcile_listing_concurrency))
RESOURCE_TYPES = ("image", "video", "raw")
SCOPE = ManagedScope(("main-uploads",), "fixed")


def rows_for_every_asset(running, db) -> None:
    """A row per asset, as the library has them (the diff then finds no drift to report)."""
    store = sqlite3.connect(f"file:{running.data_dir / 'emulator.sqlite3'}?mode=ro", uri=True)
    with psycopg.connect(db.url, autocommit=True) as conn:
        with conn.cursor().copy("COPY media_files (public_id, asset_id, asset_folder, display_name, format, bytes, "
                                "version, etag, folder, created_at) FROM STDIN") as copy:
            old = datetime.now(timezone.utc) - timedelta(days=1)
            for name, asset_id, version, etag in store.execute("SELECT public_id, asset_id, version, etag FROM assets"):
                copy.write_row((name, asset_id, "main-uploads", name.rpartition("/")[2], "png", 1024, version, etag,
                                "main-uploads", old))
        conn.execute("ANALYZE media_files")
    store.close()


def listing(db, store, running, concurrency: int) -> tuple[float, int]:
    """(seconds, Admin calls) of one full listing, then its snapshot consumed as a run does."""
    before = running.admin_calls()
    with Timer() as t:
        outcome = SnapshotLister(db, store, RESOURCE_TYPES, admin_api_reserve=0, concurrency=concurrency).list(SCOPE)
    assert outcome.complete, outcome.message
    with db.session() as conn, conn.transaction():
        ReconciliationRepository().clear_inventory(conn, SCOPE.inventory_key)
    return t.seconds, running.admin_calls() - before


def reconciliation(db, store, running, reports: str) -> tuple[float, int]:
    before = running.admin_calls()
    settings = Settings(report_dir=reports, cloudinary_folder_mode="fixed", reconcile_listing_concurrency=CONCURRENCY)
    with Timer() as t:
        # kind="full": after the first complete run, "auto" would list only what was uploaded since
        result = Reconciler(db, store, settings).run(kind="full", grace_minutes=0)
    assert result.status == "completed", result.message
    assert result.assets_listed >= result_assets_expected(db), (result.assets_listed, "not a full listing")
    assert result.counts["metadata_mismatch"] == result.counts["orphan_asset"] == 0, result.counts
    return t.seconds, running.admin_calls() - before


def result_assets_expected(db) -> int:
    with db.session() as conn:
        return conn.sql("SELECT count(*) AS n FROM media_files")[0]["n"]


def one(N: int) -> None:
    with fresh_database() as db, emulator_process() as running, tempfile.TemporaryDirectory() as reports:
        running.seed(N, prefix="main-uploads/r", spread_seconds=N * 60)  # a library uploaded over time
        rows_for_every_asset(running, db)
        store = store_for(running)
        running.control(latency_ms=LATENCY_MS)
        cursor_seconds, cursor_calls = listing(db, store, running, concurrency=1)
        running.control(latency_ms=0)
        listing(db, store, running, concurrency=CONCURRENCY)  # the first full listing plans the ranges
        full_0ms_seconds, _ = reconciliation(db, store, running, reports)
        running.control(latency_ms=LATENCY_MS)
        ranges_seconds, ranges_calls = listing(db, store, running, concurrency=CONCURRENCY)
        full_seconds, full_calls = reconciliation(db, store, running, reports)
        print(json.dumps({
            "assets": N, "latency_ms": LATENCY_MS, "concurrency": CONCURRENCY,
            "cursor_listing_seconds": cursor_seconds, "cursor_calls": cursor_calls,
            "ranges_listing_seconds": ranges_seconds, "ranges_calls": ranges_calls,
            "full_reconciliation_seconds": full_seconds, "full_reconciliation_calls": full_calls,
            "full_reconciliation_0ms_seconds": full_0ms_seconds,
            "listing_speedup": round(cursor_seconds / ranges_seconds, 1),
            "reconciliation_speedup_over_cursor_listing": round(cursor_seconds / full_seconds, 1),
            "calls_difference_percent": round(100 * (ranges_calls - cursor_calls) / cursor_calls, 1)}), flush=True)


if __name__ == "__main__" and len(sys.argv) > 2 and sys.argv[1] == "--one":
    one(int(sys.argv[2]))
elif __name__ == "__main__":
    for size in [int(x) for x in os.environ.get("BENCH_LISTING_SIZES", "100000").split(",")]:
        child = subprocess.run([sys.executable, __file__, "--one", str(size)], capture_output=True, text=True,
                               check=True)
        report("listing_partitioned", **json.loads(child.stdout.strip().splitlines()[-1]), machine=machine())
