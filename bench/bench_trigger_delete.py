"""Trigger overhead of a bulk DELETE of N media_files rows, on the same rows four ways:
- mediasync: statement-level triggers with transition tables open one deletion batch, journal every
  row for undo, queue every asset in one INSERT ... SELECT (held: the delete brake holds a mass
  DELETE by default), send one live-update and one queue notification, and guard re-use;
- mediasync with the brake off (every rule 0: the batch flows, its entries are pending);
- no triggers at all (the floor);
- the seed's row-level trigger (`FOR EACH ROW` insert into the queue).
Figures: seconds of each DELETE, rows queued, the ratios to no triggers."""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from _harness import Timer, fresh_database, machine, report

N = int(os.environ.get("BENCH_ROWS", "100000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))

SEED_ROW_TRIGGER = """
CREATE OR REPLACE FUNCTION public.seed_enqueue_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.cloudinary_cleanup_queue (public_id, resource_type, type, media_file_id, reason)
    VALUES (OLD.public_id, OLD.resource_type, OLD.type, OLD.id, 'db_delete')
    ON CONFLICT (public_id, resource_type, type) WHERE status IN ('pending', 'processing') DO NOTHING;
    RETURN OLD;
END $$;
CREATE TRIGGER seed_enqueue_row AFTER DELETE ON public.media_files
    FOR EACH ROW EXECUTE FUNCTION public.seed_enqueue_row();
"""


def fill(conn) -> None:
    conn.sql("TRUNCATE cloudinary_cleanup_queue, mediasync.deletion_batches, mediasync.deleted_media_files")
    conn.sql("ALTER TABLE media_files DISABLE TRIGGER USER")  # filling is not what is measured
    conn.sql("INSERT INTO media_files (public_id, format, bytes, folder) "
             "SELECT 'main-uploads/a' || g, 'png', g, 'main-uploads' FROM generate_series(1, %(n)s) g", {"n": N})
    conn.sql("ALTER TABLE media_files ENABLE TRIGGER USER")
    conn.sql("VACUUM ANALYZE media_files")
    conn.sql("VACUUM ANALYZE cloudinary_cleanup_queue")


def timed_delete(conn) -> tuple[float, int]:
    with Timer() as t:
        conn.sql("DELETE FROM media_files")
    queued = conn.sql("SELECT count(*) AS n FROM cloudinary_cleanup_queue WHERE status IN ('pending', 'held')")[0]["n"]
    return t.seconds, queued


def brake(conn, on: bool) -> None:
    value = {"delete_hold_threshold": "1000", "delete_hold_fraction": "0.1", "delete_hold_window": "5000"}
    for name, default in value.items():
        conn.sql("UPDATE mediasync.runtime_settings SET value = %(v)s WHERE name = %(n)s",
                 {"v": default if on else "0", "n": name})


with fresh_database() as db, db.session() as conn:
    best: dict[str, float] = {}
    queued: dict[str, int] = {}
    for _ in range(ROUNDS):  # interleaved rounds, best of each: the machine is shared
        fill(conn)
        best["mediasync"] = min(best.get("mediasync", 1e9), (r := timed_delete(conn))[0])
        queued["mediasync"] = r[1]
        fill(conn)
        brake(conn, on=False)
        best["mediasync_brake_off"] = min(best.get("mediasync_brake_off", 1e9), (r := timed_delete(conn))[0])
        queued["mediasync_brake_off"] = r[1]
        brake(conn, on=True)
        fill(conn)
        conn.sql("ALTER TABLE media_files DISABLE TRIGGER USER")
        best["no_triggers"] = min(best.get("no_triggers", 1e9), (r := timed_delete(conn))[0])
        queued["no_triggers"] = r[1]
        conn.sql("ALTER TABLE media_files ENABLE TRIGGER USER")
        fill(conn)
        conn.sql("ALTER TABLE media_files DISABLE TRIGGER USER")
        conn.script(SEED_ROW_TRIGGER)
        best["seed_row_trigger"] = min(best.get("seed_row_trigger", 1e9), (r := timed_delete(conn))[0])
        queued["seed_row_trigger"] = r[1]
        conn.sql("DROP TRIGGER seed_enqueue_row ON media_files")
        conn.sql("ALTER TABLE media_files ENABLE TRIGGER USER")
    assert queued["mediasync"] == queued["mediasync_brake_off"] == queued["seed_row_trigger"] == N, queued
    assert queued["no_triggers"] == 0, queued
    report("trigger_bulk_delete", rows=N, rounds=ROUNDS, seconds=best, queued=queued,
           mediasync_vs_no_triggers=round(best["mediasync"] / best["no_triggers"], 2),
           mediasync_brake_off_vs_no_triggers=round(best["mediasync_brake_off"] / best["no_triggers"], 2),
           seed_vs_no_triggers=round(best["seed_row_trigger"] / best["no_triggers"], 2),
           rows_per_second=round(N / best["mediasync"]), machine=machine())
