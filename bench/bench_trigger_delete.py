"""One bulk DELETE of N media_files rows: the statement-level trigger queues every asset in the
same transaction. Figures: seconds for the DELETE, rows queued, rows per second."""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from _harness import Timer, fresh_database, report

N = int(os.environ.get("BENCH_ROWS", "100000"))

with fresh_database() as db, db.session() as conn:
    conn.execute("INSERT INTO media_files (public_id, format, bytes, folder) "
                 "SELECT 'main-uploads/a' || g, 'png', g, 'main-uploads' FROM generate_series(1, %s) g", (N,))
    with Timer() as t:
        conn.execute("DELETE FROM media_files")
    queued = conn.execute("SELECT count(*) AS n FROM cloudinary_cleanup_queue WHERE status = 'pending'"
                          ).fetchone()["n"]
    assert queued == N, (queued, N)
    report("trigger_bulk_delete", rows=N, queued=queued, seconds=t.seconds, rows_per_second=round(N / t.seconds))
