"""Correctness under failure: a processor killed mid-delete loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from support.waiting import wait_until


def test_processor_killed_during_the_cloudinary_call_is_rescued(services, emulator, conn, db_url, tmp_path):
    emulator.seed(3, prefix="main-uploads/k")
    conn.execute("INSERT INTO cloudinary_cleanup_queue (public_id, reason) "
                 "SELECT 'main-uploads/k' || lpad(g::text, 7, '0'), 'db_delete' FROM generate_series(0, 2) g")
    emulator.control(latency_ms=5000)  # holds the processor inside the Admin API call
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDIASYNC_", "CLOUDINARY_", "AIRFLOW_CONN_"))}
    env.update(MEDIASYNC_DATABASE_URL=db_url, CLOUDINARY_URL=emulator.cloudinary_url)
    requests_before = emulator.settings()["api_requests"]
    worker = subprocess.Popen([sys.executable, "-m", "mediasync.cli", "queue", "process"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        wait_until(lambda: conn.execute("SELECT count(*) AS n FROM cloudinary_cleanup_queue WHERE status = 'processing'"
                                        ).fetchone()["n"] >= 3, message="the worker never claimed the entries")
        wait_until(lambda: emulator.settings()["api_requests"] > requests_before,  # the delete call is held
                   message="the worker never called the Admin API")
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    emulator.control(latency_ms=0)

    assert services.processor.process().claimed == 0  # the dead worker's lease still holds them
    conn.execute("UPDATE cloudinary_cleanup_queue SET locked_until = now() - interval '1 second'")  # lease runs out
    result = services.processor.process()
    assert result.rescued == 3 and result.completed == 3
    rows = conn.execute("SELECT status, attempts, errors FROM cloudinary_cleanup_queue").fetchall()
    assert all(r["status"] == "completed" and r["attempts"] == 2 for r in rows)
    assert all(r["errors"][0]["kind"] == "lease_expired" for r in rows)
    assert list(services.store.iter_resources("image", "upload", "main-uploads/k")) == []
