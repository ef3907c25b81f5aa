"""10,000 deletions at 50 ms Cloudinary latency, side by side (issue 13.5):
- mediasync: a SQL DELETE queues the rows (statement trigger); one drain deletes them with
  overlapped, budget-aware batched calls (Admin `delete_resources`, 100 ids a call);
- Procrastinate (PyPI `procrastinate`), written the natural way: one job per asset, each job an
  Upload API `destroy`, a worker with concurrency 10 (sync jobs run in threads), same database
  server, same emulator;
- the seed's algorithm: 5 entries per 30-second cycle, one `destroy` each — computed from a
  measured sample of cycles (running it would take hours).
The emulator runs in its own process. Figures: seconds and Cloudinary calls of each, speed-ups."""

import asyncio
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _harness import Timer, emulator_process, fresh_database, machine, report
from mediasync.clients.cloudinary import CloudinaryClient, CloudinaryCredentials
from mediasync.config import Settings
from mediasync.services.queue import CleanupQueueProcessor

N = int(os.environ.get("BENCH_DELETIONS", "10000"))
LATENCY_MS = int(os.environ.get("BENCH_LATENCY_MS", "50"))
PROCRASTINATE_CONCURRENCY = 10
SEED_BATCH, SEED_CYCLE_SECONDS, SEED_SAMPLE_CYCLES = 5, 30, 10


def seed_rows(db, prefix: str) -> None:
    with db.session() as conn:
        conn.sql("INSERT INTO media_files (public_id, format, bytes, folder) "
                 "SELECT %(p)s || lpad(g::text, 7, '0'), 'png', 1, 'main-uploads' FROM generate_series(0, %(n)s - 1) g",
                 {"p": prefix, "n": N})


def run_mediasync(db, emu) -> dict:
    emu.seed(N, prefix="main-uploads/m")
    seed_rows(db, "main-uploads/m")
    emu.control(latency_ms=LATENCY_MS)
    admin0, upload0 = emu.admin_calls(), emu.upload_api_calls()
    store = CloudinaryClient(CloudinaryCredentials.from_url(emu.cloudinary_url))
    with db.session() as conn, Timer() as delete_time:
        conn.sql("DELETE FROM media_files")
    with Timer() as t:
        result = CleanupQueueProcessor(db, store, Settings()).process()
    assert result.deleted == N, result.as_dict()
    emu.control(latency_ms=0)
    return {"seconds": t.seconds, "delete_statement_seconds": delete_time.seconds,
            "admin_calls": emu.admin_calls() - admin0, "upload_api_calls": emu.upload_api_calls() - upload0,
            "concurrency": result.concurrency}


def run_procrastinate(db, emu) -> dict:
    import procrastinate

    emu.seed(N, prefix="main-uploads/p")
    store = CloudinaryClient(CloudinaryCredentials.from_url(emu.cloudinary_url))
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=db.url))

    @app.task(name="destroy_asset")
    def destroy_asset(public_id: str) -> None:
        store.destroy(public_id)

    async def main() -> float:
        async with app.open_async():
            await app.schema_manager.apply_schema_async()
            ids = [f"main-uploads/p{i:07d}" for i in range(N)]
            for start in range(0, N, 1000):
                await destroy_asset.batch_defer_async(*({"public_id": i} for i in ids[start:start + 1000]))
            emu.control(latency_ms=LATENCY_MS)
            started = time.perf_counter()
            await app.run_worker_async(concurrency=PROCRASTINATE_CONCURRENCY, wait=False, install_signal_handlers=False)
            return time.perf_counter() - started

    admin0, upload0 = emu.admin_calls(), emu.upload_api_calls()
    import logging

    logging.getLogger("procrastinate").setLevel(logging.WARNING)
    seconds = asyncio.run(main())
    emu.control(latency_ms=0)
    left = emu.assets()
    assert left == 0, f"{left} assets left after the Procrastinate run"
    return {"seconds": round(seconds, 3), "admin_calls": emu.admin_calls() - admin0,
            "upload_api_calls": emu.upload_api_calls() - upload0, "concurrency": PROCRASTINATE_CONCURRENCY}


def run_seed_sample(emu) -> dict:
    """The seed processed 5 entries per 30 s run, one destroy after the other: measure the work
    of SEED_SAMPLE_CYCLES cycles, then compute N deletions' time (the waits dominate)."""
    count = SEED_BATCH * SEED_SAMPLE_CYCLES
    emu.seed(count, prefix="main-uploads/s")
    emu.control(latency_ms=LATENCY_MS)
    store = CloudinaryClient(CloudinaryCredentials.from_url(emu.cloudinary_url))
    with Timer() as t:
        for i in range(count):
            store.destroy(f"main-uploads/s{i:07d}")
    emu.control(latency_ms=0)
    work_per_cycle = t.seconds / SEED_SAMPLE_CYCLES
    cycles = math.ceil(N / SEED_BATCH)
    return {"seconds": round((cycles - 1) * SEED_CYCLE_SECONDS + work_per_cycle, 1), "computed": True,
            "measured_work_per_cycle_seconds": round(work_per_cycle, 3), "upload_api_calls": N, "admin_calls": 0}


def main() -> None:
    with fresh_database() as db, emulator_process() as emu:
        mediasync = run_mediasync(db, emu)
        peers = run_procrastinate(db, emu)
        seed = run_seed_sample(emu)
        report("cleanup_vs_peers", deletions=N, latency_ms=LATENCY_MS, mediasync=mediasync, procrastinate=peers,
               seed=seed, speedup_vs_procrastinate=round(peers["seconds"] / mediasync["seconds"], 1),
               speedup_vs_seed=round(seed["seconds"] / mediasync["seconds"]), machine=machine())


if __name__ == "__main__":
    main()
