"""Profile one drain of N deletions at 50 ms latency (not part of `make bench`): the seed-shaped
processor (one chunk at a time, a new connection per transaction) against the overlapped, pooled
one. Prints each drain's seconds and writes pyinstrument reports next to PROFILE_DIR."""

import os
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
from _harness import Timer, emulator_process, fresh_database, report
from mediasync.clients.cloudinary import CloudinaryClient, CloudinaryCredentials
from mediasync.config import Settings
from mediasync.services.queue import CleanupQueueProcessor

N = int(os.environ.get("BENCH_DELETIONS", "10000"))
OUT = Path(os.environ.get("PROFILE_DIR", "test-artifacts/profiles"))

from pyinstrument import Profiler

OUT.mkdir(parents=True, exist_ok=True)
figures = {}
with fresh_database() as db, emulator_process() as emu:
    for concurrency in (1, 4):
        prefix = f"main-uploads/c{concurrency}-"
        emu.seed(N, prefix=prefix)
        with db.session() as conn:
            conn.sql("INSERT INTO cloudinary_cleanup_queue (public_id, reason) "
                     "SELECT %(p)s || lpad(g::text, 7, '0'), 'db_delete' FROM generate_series(0, %(n)s - 1) g",
                     {"p": prefix, "n": N})
        emu.control(latency_ms=50)
        store = CloudinaryClient(CloudinaryCredentials.from_url(emu.cloudinary_url))
        processor = CleanupQueueProcessor(db, store, replace(Settings(), cleanup_concurrency=concurrency))
        profiler = Profiler(interval=0.001, async_mode="disabled")
        with profiler, Timer() as t:
            result = processor.process()
        emu.control(latency_ms=0)
        assert result.deleted == N
        (OUT / f"drain-concurrency-{concurrency}.txt").write_text(profiler.output_text(unicode=False, color=False))
        figures[f"concurrency_{concurrency}_seconds"] = t.seconds
report("profile_drain", deletions=N, **figures, profiles=str(OUT))
