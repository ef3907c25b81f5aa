"""Queue-stats calls (what the page polls) through a fresh connection each time vs the API's
pool. Figures: calls, milliseconds per call each way, speed-up. On a local server the connect is
cheap; to a remote Supabase database it adds a TLS handshake, so the gap grows."""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from _harness import Timer, fresh_database, report
from mediasync.db import PooledDatabase
from mediasync.services.queue import CleanupQueue

CALLS = int(os.environ.get("BENCH_CALLS", "500"))

with fresh_database() as db:
    pooled = PooledDatabase(db.url, max_attempts=db.max_attempts)
    timings = {}
    for name, database in (("direct", db), ("pooled", pooled)):
        queue = CleanupQueue(database)
        queue.stats()  # warm up (the pool opens its first connection here)
        with Timer() as t:
            for _ in range(CALLS):
                queue.stats()
        timings[name] = t.seconds
    pooled.close()
    report("api_connection_pool", calls=CALLS, direct_ms_per_call=round(timings["direct"] * 1000 / CALLS, 2),
           pooled_ms_per_call=round(timings["pooled"] * 1000 / CALLS, 2),
           speedup=round(timings["direct"] / timings["pooled"], 1))
