"""Reconciliation through Supabase's transaction pooler (PgBouncer, `pool_mode = transaction`).

Issue 25 started two reconciliations of one inventory 0.3 s apart through the pooler: both ran at
once (the session lock held nothing) and, on identical data, one reported 250 drift items and the
other 0 (they shared, and clobbered, the inventory's listing snapshot). Here the same start, on the
same kind of data: one run completes, the other is refused, and every run that completes on the
data reports the same drift."""

from __future__ import annotations

import threading

import pytest

from fixtures.emulator import seeded_public_id
from mediasync.db import Database
from mediasync.drift import DRIFT_KINDS
from mediasync.services.reconcile import Reconciler
from mediasync.services.reconcile.service import ReconcileResult
from support.waiting import wait_until

ASSETS = 1500
ORPHANS = 250


@pytest.fixture
def inventory(emulator, emulator_folder_mode, conn) -> list[str]:
    """ASSETS assets in the managed folder, all but ORPHANS of them with their row: the same drift
    for every run that looks. Returns the orphans' public ids."""
    assert emulator.seed(ASSETS, prefix="main-uploads/bulk", age_seconds=7200) == ASSETS
    ids = [seeded_public_id(emulator_folder_mode, "main-uploads/bulk", i) for i in range(ASSETS)]
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO media_files (public_id, folder, format, bytes, version, created_at) "
                        "VALUES (%s, 'main-uploads', 'png', 1024, 0, now() - interval '1 day')",
                        [(public_id,) for public_id in ids[ORPHANS:]])
    return ids[:ORPHANS]


def drift(result: ReconcileResult) -> dict[str, int]:
    return {kind: result.counts.get(kind, 0) for kind in DRIFT_KINDS}


RUNNING = "SELECT 1 FROM mediasync.reconciliation_runs WHERE status = 'running'"


def started_while_the_first_runs(conn, runs: list) -> list[ReconcileResult]:
    """Run each callable in its own thread: the first, then — once its run is under way — the others."""
    results: list[ReconcileResult | BaseException | None] = [None] * len(runs)

    def work(i: int) -> None:
        try:
            results[i] = runs[i]()
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            results[i] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(runs))]
    threads[0].start()
    wait_until(lambda: results[0] is not None or conn.execute(RUNNING).fetchone(), message="the first run never started")
    for thread in threads[1:]:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(isinstance(r, ReconcileResult) for r in results), results
    return results  # type: ignore[return-value]


def test_concurrent_reconciliations_through_the_pooler_never_overlap_nor_disagree(
        pooled_db_url, emulator, cloudinary_store, settings, conn, inventory):
    pooled = Database(pooled_db_url)
    emulator.control(latency_ms=300)  # listing pages take a while, as over the internet: the runs would overlap
    try:
        results = started_while_the_first_runs(conn, [lambda: Reconciler(pooled, cloudinary_store, settings).run(
            grace_minutes=0) for _ in range(3)])
    finally:
        emulator.control(latency_ms=0)

    completed = [r for r in results if r.status == "completed"]
    refused = [r for r in results if r.status == "aborted"]
    assert len(completed) == 1 and len(refused) == 2, [(r.status, r.message) for r in results]
    assert all(r.message == "another reconciliation of this inventory is running" for r in refused)
    assert drift(completed[0])["orphan_asset"] == ORPHANS and completed[0].assets_listed == ASSETS

    # The same data, again through the pooler: the same drift, item for item.
    again = Reconciler(pooled, cloudinary_store, settings).run(grace_minutes=0)
    assert again.status == "completed" and drift(again) == drift(completed[0])
    for run in (completed[0], again):
        orphans = {r["public_id"] for r in conn.execute(
            "SELECT public_id FROM mediasync.reconciliation_items WHERE run_id = %s AND kind = 'orphan_asset'",
            (run.run_id,))}
        assert orphans == set(inventory)

    # The runs that did the work never overlapped (the refused ones did no work: no items, no snapshot).
    rows = conn.execute("SELECT id, status, started_at, finished_at FROM mediasync.reconciliation_runs "
                        "WHERE status = 'completed' ORDER BY started_at").fetchall()
    assert [r["id"] for r in rows] == [completed[0].run_id, again.run_id]
    assert rows[0]["finished_at"] <= rows[1]["started_at"]
    assert conn.execute("SELECT count(*) AS n FROM mediasync.reconciliation_items WHERE run_id = ANY(%s)",
                        ([r.run_id for r in refused],)).fetchone()["n"] == 0
    assert conn.execute("SELECT count(*) AS n FROM mediasync.listing_snapshot").fetchone()["n"] == 0  # consumed


def test_a_run_waits_for_nothing_and_refuses_while_another_holds_the_inventory(
        pooled_db_url, emulator, cloudinary_store, settings, conn, inventory):
    """A run started while another is listing is refused at once (it does not queue up behind it),
    and the next run after it gets the lock: the lock ends with the run that held it."""
    pooled = Database(pooled_db_url)
    emulator.control(latency_ms=300)
    try:
        first, second = started_while_the_first_runs(
            conn, [lambda: Reconciler(pooled, cloudinary_store, settings).run(grace_minutes=0),
                   lambda: Reconciler(pooled, cloudinary_store, settings).run(grace_minutes=0)])
    finally:
        emulator.control(latency_ms=0)
    assert (first.status, second.status) == ("completed", "aborted")
    assert second.duration_seconds < first.duration_seconds
    assert Reconciler(pooled, cloudinary_store, settings).run(grace_minutes=0).status == "completed"


def test_an_applied_reconciliation_through_the_pooler_queues_and_drains_its_repairs(
        pooled_db_url, emulator, cloudinary_store, settings, conn, inventory):
    from mediasync.runtime import build_services

    services = build_services(Database(pooled_db_url, max_attempts=settings.max_attempts), cloudinary_store, settings)
    result = services.reconciler.run(apply=True, force=True, grace_minutes=0)

    assert result.status == "completed" and result.counts["queued_deletions"] == ORPHANS
    assert result.counts["processed_deletions"] == ORPHANS
    assert emulator.settings()["assets"] == ASSETS - ORPHANS
    assert conn.execute("SELECT status, count(*) AS n FROM cloudinary_cleanup_queue GROUP BY status").fetchall() == [
        {"status": "completed", "n": ORPHANS}]
    after = services.reconciler.run(grace_minutes=0)
    assert after.status == "completed" and drift(after)["orphan_asset"] == 0
