"""The `mediasync` CLI through Supabase's transaction pooler (PgBouncer, `pool_mode = transaction`),
as subprocesses, as a user who pasted the port-6543 DSN would run it: concurrent reconciliations,
concurrent upgrades and a 10,000-item drain by two processors — with one clean line wherever
something is refused, and never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from fixtures.emulator import seeded_public_id
from mediasync.repository.migrations import discover
from support.waiting import wait_until

DRAIN_ITEMS = 10_000
ASSETS, ORPHANS = 1500, 250


def cli(*args: str, **env: str) -> subprocess.Popen:
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("MEDIASYNC_", "SUPABASE_", "AIRFLOW_CONN_", "CLOUDINARY_"))}
    environ["MEDIASYNC_SETTINGS_FILE"] = ""
    environ.update(env)
    return subprocess.Popen([sys.executable, "-m", "mediasync.cli", *args], env=environ, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)


def finish(process: subprocess.Popen, timeout: float = 300) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    assert "Traceback" not in out + err, err
    return process.returncode, out, err


def test_two_reconciles_started_apart_one_runs_one_refuses(pooled_db_url, emulator, emulator_folder_mode, conn,
                                                           tmp_path):
    emulator.seed(ASSETS, prefix="main-uploads/bulk", age_seconds=7200)
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO media_files (public_id, folder, format, bytes, version, created_at) "
                        "VALUES (%s, 'main-uploads', 'png', 1024, 0, now() - interval '1 day')",
                        [(seeded_public_id(emulator_folder_mode, "main-uploads/bulk", i),)
                         for i in range(ORPHANS, ASSETS)])
    env = {"MEDIASYNC_DATABASE_URL": pooled_db_url, "CLOUDINARY_URL": emulator.cloudinary_url,
           "MEDIASYNC_RECONCILE_GRACE_MINUTES": "0", "MEDIASYNC_REPORT_DIR": str(tmp_path),
           "MEDIASYNC_CLOUDINARY_FOLDER_MODE": emulator_folder_mode}
    emulator.control(latency_ms=400)  # each listing page takes a while: without the lock the runs would overlap
    try:
        first = cli("reconcile", "--json", **env)
        wait_until(lambda: first.poll() is not None or conn.execute(  # the second starts while the first runs
            "SELECT 1 FROM mediasync.reconciliation_runs WHERE status = 'running'").fetchone(),
            message="the first reconcile never started")
        second = cli("reconcile", "--json", **env)
        outcomes = sorted([finish(first), finish(second)])
    finally:
        emulator.control(latency_ms=0)

    (ran_rc, ran_out, _), (refused_rc, refused_out, refused_err) = outcomes
    ran, refused = json.loads(ran_out), json.loads(refused_out)
    assert (ran_rc, ran["status"], ran["counts"]["orphan_asset"]) == (0, "completed", ORPHANS)
    assert (refused_rc, refused["status"]) == (3, "aborted")
    assert refused["message"] == "another reconciliation of this inventory is running"
    progress = refused_err.splitlines()  # progress lines only: the refusal is the result, not an error
    assert progress and all(line.startswith("mediasync: ") and ": error:" not in line for line in progress)

    again = finish(cli("reconcile", "--json", **env))
    assert again[0] == 0 and json.loads(again[1])["counts"]["orphan_asset"] == ORPHANS  # same data, same drift


def test_concurrent_db_upgrades_through_the_pooler(empty_database_url, transaction_pooler):
    pooled = transaction_pooler.url(empty_database_url)
    upgrades = [cli("db", "upgrade", MEDIASYNC_DATABASE_URL=pooled) for _ in range(2)]
    def migrations_applied(out: str) -> int:
        return sum(line.startswith("applied ") for line in out.splitlines())

    results = sorted((finish(p) for p in upgrades), key=lambda r: migrations_applied(r[1]))
    (idle_rc, idle_out, _), (busy_rc, busy_out, _) = results
    assert (idle_rc, busy_rc) == (0, 0)
    assert migrations_applied(busy_out) == len(discover())
    assert "(0 migration(s) applied)" in idle_out
    for out in (idle_out, busy_out):
        assert "connection: transaction pooler; the migration lock was held by a transaction of its own" in out
    with_versions = finish(cli("queue", "stats", "--json", MEDIASYNC_DATABASE_URL=pooled))
    assert with_versions[0] == 0 and json.loads(with_versions[1])["pending"] == 0


def test_two_processors_drain_10000_items_through_the_pooler_deleting_each_asset_once(
        pooled_db_url, emulator_server, conn):
    emulator = emulator_server
    emulator.reset()
    assert emulator.seed(DRAIN_ITEMS, prefix="main-uploads/drain") == DRAIN_ITEMS
    conn.execute("INSERT INTO cloudinary_cleanup_queue (public_id, reason) "
                 "SELECT 'main-uploads/drain' || lpad(i::text, 7, '0'), 'db_delete' "
                 "FROM generate_series(0, %s - 1) AS i", (DRAIN_ITEMS,))
    env = {"MEDIASYNC_DATABASE_URL": pooled_db_url, "CLOUDINARY_URL": emulator.cloudinary_url}
    emulator.control(latency_ms=300)  # each Admin call takes a while, so both processors take part
    try:
        processors = [cli("queue", "process", "--json", **env) for _ in range(2)]
        results = [json.loads(finish(p)[1]) for p in processors]
    finally:
        emulator.control(latency_ms=0)

    assert all(r["deleted"] > 0 for r in results), results  # both took part
    assert sum(r["claimed"] for r in results) == DRAIN_ITEMS
    assert sum(r["deleted"] for r in results) == DRAIN_ITEMS
    assert sum(r["not_found"] for r in results) == 0  # "not found" would mean someone deleted it before
    by_status = {r["s"]: r["n"] for r in conn.execute("SELECT status || '/' || attempts AS s, count(*) AS n "
                                                      "FROM cloudinary_cleanup_queue GROUP BY 1")}
    assert by_status == {"completed/1": DRAIN_ITEMS}
    assert emulator.settings()["assets"] == 0
    ledger = emulator.deletions()  # every id Cloudinary was asked to delete, and how often
    assert ledger["requests"] == ledger["ids"] == DRAIN_ITEMS, ledger
    assert ledger["max_per_id"] == 1, ledger
