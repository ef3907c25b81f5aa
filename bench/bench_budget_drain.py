"""100,000 deletions on a free plan's Admin API allowance (500 calls an hour), 50 ms latency
(issue 13.5). The emulator enforces 500 Admin calls in a one-hour window — the real hour: the
drain ends long before it resets, so nothing is scaled. The budget-aware deleter spends Admin
calls only down to the reconciliation's reserve (50) and deletes the rest with concurrent Upload
API `destroy` calls. Beside it, the Admin-only strategy on the same allowance: it spends the
whole allowance (starving the listing) and stops at 50,000 until the hour resets.
Figures: drain seconds, Admin calls spent, Upload API calls, deleted through each API."""

import math
import os
import sys
from dataclasses import replace

sys.path.insert(0, os.path.dirname(__file__))
from _harness import Timer, emulator_process, fresh_database, machine, report
from mediasync.clients.cloudinary import CloudinaryClient, CloudinaryCredentials
from mediasync.config import Settings
from mediasync.services.queue import CleanupQueue, CleanupQueueProcessor

N = int(os.environ.get("BENCH_BUDGET_DELETIONS", "100000"))
ALLOWANCE = int(os.environ.get("BENCH_ADMIN_ALLOWANCE", "500"))
LATENCY_MS = int(os.environ.get("BENCH_LATENCY_MS", "50"))
SETTINGS = replace(Settings(), reconcile_admin_api_reserve=int(os.environ.get("BENCH_RESERVE", "50")))


class AdminOnly:
    """The Admin-only strategy: `delete_resources` and nothing else."""

    def __init__(self, store: CloudinaryClient) -> None:
        self.store = store

    def delete_many(self, public_ids, resource_type="image", type="upload"):
        return self.store.delete_many(public_ids, resource_type, type)


def queue_assets(db, emu, prefix: str) -> None:
    emu.seed(N, prefix=prefix)
    with db.session() as conn:
        conn.sql("INSERT INTO media_files (public_id, format, bytes, folder) "
                 "SELECT %(p)s || lpad(g::text, 7, '0'), 'png', 1, 'main-uploads' FROM generate_series(0, %(n)s - 1) g",
                 {"p": prefix, "n": N})
        conn.sql("DELETE FROM media_files")


def drain(db, emu, deleter_for) -> dict:
    emu.control(rate_limit=ALLOWANCE, rate_limit_window_seconds=3600, latency_ms=LATENCY_MS)
    admin0, upload0 = emu.admin_calls(), emu.upload_api_calls()
    store = CloudinaryClient(CloudinaryCredentials.from_url(emu.cloudinary_url))
    with Timer() as t:
        result = deleter_for(store).process()
    emu.control(latency_ms=0, rate_limit=0)
    return {"seconds": t.seconds, "deleted": result.deleted, "admin_calls": emu.admin_calls() - admin0,
            "upload_api_calls": emu.upload_api_calls() - upload0, "deleted_via_admin": result.deleted_via_admin,
            "deleted_via_upload_api": result.deleted_via_upload_api, "left_for_listing":
            ALLOWANCE - (emu.admin_calls() - admin0), "stopped_by": result.stopped_by}


with fresh_database() as db:
    with emulator_process() as emu:
        queue_assets(db, emu, "main-uploads/b")
        budget = drain(db, emu, lambda store: CleanupQueueProcessor(db, store, SETTINGS))
        assert budget["deleted"] == N and emu.assets() == 0, budget
        assert budget["admin_calls"] <= ALLOWANCE - SETTINGS.reconcile_admin_api_reserve, budget
    with db.session() as conn:
        conn.sql("DELETE FROM cloudinary_cleanup_queue")
    with emulator_process() as emu:  # a fresh hour
        queue_assets(db, emu, "main-uploads/a")
        admin_only = drain(db, emu, lambda store: CleanupQueue(db, AdminOnly(store), concurrency=4))
    hours = math.ceil(N / 100 / ALLOWANCE)
    admin_only["hours_to_drain_at_least"] = hours
    report("budget_drain", deletions=N, allowance_per_hour=ALLOWANCE, reserve=SETTINGS.reconcile_admin_api_reserve,
           latency_ms=LATENCY_MS, destroy_concurrency=SETTINGS.cleanup_destroy_concurrency, budget_aware=budget,
           admin_only=admin_only, machine=machine())
