"""Dry-run reconciliations of N assets and N rows: the listing streams through COPY and the diff
is SQL. Figures per size: seconds, assets per second, listing pages (Admin calls), peak RSS; and
the time ratio between the largest and the smallest size (1M/100k: ≤ 11 means it scales linearly).
Each size runs in its own process, so peak RSS is that run's. The emulator runs in a process of
its own too: a real Cloudinary is another machine, and an emulator sharing the interpreter (and its
lock) with the listing would bill its own serving to the reconciliation — and its memory to the
peak RSS. Sizes: BENCH_RECONCILE_SIZES (default 100000; "100000,1000000" for the 1M variant, a few
minutes more)."""

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone

import psycopg

sys.path.insert(0, os.path.dirname(__file__))
from _harness import Timer, emulator_process, fresh_database, machine, peak_rss_mb, report, store_for
from mediasync.config import Settings
from mediasync.services.reconcile import Reconciler


def one(N: int) -> None:
    DRIFT = N // 100
    with fresh_database() as db, emulator_process() as running, tempfile.TemporaryDirectory() as reports:
        running.seed(N, prefix="main-uploads/r")
        # the identity Cloudinary gave each asset, as a row carries it: read from the emulator's own
        # store (WAL: a reader beside the server), streamed so the arranging does not inflate peak RSS
        store = sqlite3.connect(f"file:{running.data_dir / 'emulator.sqlite3'}?mode=ro", uri=True)
        version = store.execute("SELECT version FROM assets WHERE public_id = 'main-uploads/r0000000'").fetchone()[0]
        with psycopg.connect(db.url, autocommit=True) as conn:  # arranging data, as a test would
            with conn.cursor().copy("COPY media_files (public_id, asset_id, asset_folder, display_name, format, "
                                    "bytes, version, folder, created_at) FROM STDIN") as copy:
                old = datetime.now(timezone.utc) - timedelta(days=1)
                rows = store.execute("SELECT public_id, asset_id FROM assets WHERE resource_type = 'image' "
                                     "AND type = 'upload' AND public_id >= ? ORDER BY public_id",
                                     (f"main-uploads/r{DRIFT:07d}",))
                for g, (name, asset_id) in enumerate(rows, start=DRIFT):  # rows for all but DRIFT assets (orphans);
                    assert name == f"main-uploads/r{g:07d}"                # DRIFT rows differ in bytes
                    copy.write_row((name, asset_id, "main-uploads", f"r{g:07d}", "png",
                                    1 if g < 2 * DRIFT else 1024, version, "main-uploads", old))
            store.close()
            conn.execute("ANALYZE media_files")  # a production table has statistics
        hook = store_for(running)
        rss_before = peak_rss_mb()
        with Timer() as t:
            settings = Settings(report_dir=reports, cloudinary_folder_mode="fixed")
            result = Reconciler(db, hook, settings).run(kind="full", grace_minutes=0)
        assert result.status == "completed", result.message
        assert result.counts["orphan_asset"] == DRIFT and result.counts["metadata_mismatch"] == DRIFT, result.counts
        print(json.dumps({"assets": N, "assets_listed": result.assets_listed, "orphans": result.counts["orphan_asset"],
                              "mismatches": result.counts["metadata_mismatch"], "seconds": t.seconds,
                              "assets_per_second": round(N / t.seconds), "admin_calls": running.admin_calls(),
                              "peak_rss_mb": peak_rss_mb(), "rss_growth_mb": round(peak_rss_mb() - rss_before, 1)}),
              flush=True)


if len(sys.argv) > 2 and sys.argv[1] == "--one":
    one(int(sys.argv[2]))
    sys.exit(0)

sizes = [int(x) for x in os.environ.get("BENCH_RECONCILE_SIZES", os.environ.get("BENCH_ASSETS", "100000")).split(",")]
runs = {}
for size in sizes:
    child = subprocess.run([sys.executable, __file__, "--one", str(size)], capture_output=True, text=True, check=True)
    runs[str(size)] = json.loads(child.stdout.strip().splitlines()[-1])
figures = {"sizes": runs, "machine": machine()}
if len(sizes) > 1:
    small, large = runs[str(min(sizes))], runs[str(max(sizes))]
    figures[f"ratio_{max(sizes)}_over_{min(sizes)}"] = round(large["seconds"] / small["seconds"], 1)
report("reconcile_dry_run", **figures)
