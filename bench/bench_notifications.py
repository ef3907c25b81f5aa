"""Cloudinary notification ingest: N signed delete notifications verified, stored once and applied
one by one (as webhooks arrive), then the same N replayed (dedupe path); and the end-to-end latency
from a console delete in the emulator to the row change, by webhook into the plugin app.
Figures: per-notification milliseconds (p50/p95), notifications per second, webhook latency."""

import hashlib
import json
import os
import statistics
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(__file__))
from _harness import emulator, fresh_database, report, store_for
from mediasync.config import Settings
from mediasync.db import PooledDatabase
from mediasync.runtime import build_services

N = int(os.environ.get("BENCH_NOTIFICATIONS", "1000"))
E2E = int(os.environ.get("BENCH_WEBHOOK_SAMPLES", "20"))


def signed(body: dict, secret: str) -> tuple[bytes, str, str]:
    raw = json.dumps(body, separators=(",", ":")).encode()
    stamp = str(int(time.time()))
    return raw, stamp, hashlib.sha1(raw + stamp.encode() + secret.encode()).hexdigest()


def ms(samples: list[float], q: float) -> float:
    return round(statistics.quantiles(samples, n=100)[int(q) - 1] * 1000, 2)


with fresh_database() as plain, emulator() as running:
    db = PooledDatabase(plain.url, max_attempts=3)  # as the plugin and the DAG tasks get it
    services = build_services(db, store_for(running), Settings())
    with db.session() as conn:
        ids = [r["asset_id"] for r in conn.sql(
            "INSERT INTO media_files (public_id, format, bytes, folder, asset_id, asset_folder) "
            "SELECT 'main-uploads/n' || g, 'png', 68, 'main-uploads', md5(g::text), 'main-uploads' "
            "FROM generate_series(1, %(n)s) g RETURNING asset_id", {"n": N})]
    bodies = [signed({"notification_type": "delete", "request_id": uuid.uuid4().hex, "resources": [
        {"resource_type": "image", "type": "upload", "asset_id": aid, "public_id": f"main-uploads/n{i + 1}"}]},
        running.api_secret) for i, aid in enumerate(ids)]
    fresh, replay = [], []
    for target in (fresh, replay):
        for raw, stamp, sig in bodies:
            started = time.perf_counter()
            services.notifications.ingest(raw, stamp, sig)
            target.append(time.perf_counter() - started)

    import uvicorn

    from mediasync.api.app import create_app
    from mediasync.services.notifications.channel import ensure_triggers
    from support.emulator import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(lambda: services, user_dependency=lambda: None),
                                           host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    ensure_triggers(store_for(running), "webhook", f"http://127.0.0.1:{port}/api/v1/cloudinary/notifications",
                    ("delete", "upload"))
    latencies = []
    for i in range(E2E):
        running.console("upload", folder="main-uploads", public_id=f"e2e{i}", filename="x.png")
        with db.session() as conn:
            while not conn.sql("SELECT 1 FROM media_files WHERE public_id = %(p)s", {"p": f"main-uploads/e2e{i}"}):
                time.sleep(0.005)
            started = time.perf_counter()
            running.console("delete", public_id=f"main-uploads/e2e{i}")
            while not conn.sql("SELECT 1 FROM media_files WHERE public_id = %(p)s AND status = 'deleted'",
                               {"p": f"main-uploads/e2e{i}"}):
                time.sleep(0.005)
            latencies.append(time.perf_counter() - started)
    server.should_exit = True
    db.close()
    report("notification_ingest", notifications=N, apply_ms_p50=ms(fresh, 50), apply_ms_p95=ms(fresh, 95),
           applied_per_second=round(N / sum(fresh)), replay_ms_p50=ms(replay, 50), replay_ms_p95=ms(replay, 95),
           webhook_samples=E2E, console_delete_to_row_ms_p50=ms(latencies, 50),
           console_delete_to_row_ms_max=round(max(latencies) * 1000, 1))
