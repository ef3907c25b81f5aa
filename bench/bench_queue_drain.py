"""Drain N queued deletions through the real CloudinaryHook against the emulator: batched Admin API
deletes (≤100 ids a call), SKIP LOCKED claims. Figures: entries/s, Admin calls, calls per entry."""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from _harness import Timer, emulator, fresh_database, report, store_for
from mediasync.services.queue import CleanupQueueProcessor

N = int(os.environ.get("BENCH_QUEUE", "20000"))

with fresh_database() as db, emulator() as running:
    running.seed(N, prefix="main-uploads/q")
    with db.session() as conn:
        conn.sql("INSERT INTO cloudinary_cleanup_queue (public_id, reason) "
                 "SELECT 'main-uploads/q' || lpad(g::text, 7, '0'), 'db_delete' FROM generate_series(0, %(n)s - 1) g",
                 {"n": N})
    calls_before = running.admin_calls()
    with Timer() as t:
        result = CleanupQueueProcessor(db, store_for(running)).process(batch_size=100)
    calls = running.admin_calls() - calls_before
    report("queue_drain", entries=N, completed=result.completed, deleted=result.deleted, admin_calls=calls,
           seconds=t.seconds, entries_per_second=round(N / t.seconds), ids_per_admin_call=round(N / max(calls, 1), 1))
