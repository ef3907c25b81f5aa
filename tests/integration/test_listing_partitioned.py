"""A full listing split into upload-time ranges listed side by side finds what the one sequential
cursor finds — on an account changed while it is listed, in both folder modes — with Admin calls
within 5 % of the cursor's; a run cut short resumes every range from its own checkpoint; the
ranges together never spend the Admin API allowance past the reserve; and more cursors than
`RANGE_CONNECTIONS` share that many database connections."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import cloudinary.api
import cloudinary.exceptions
import cloudinary.uploader

from fixtures.emulator import sdk, seeded_public_id
from fixtures.media import tiny_png
from mediasync.repository.reconciliation import ReconciliationRepository
from mediasync.scope import ManagedScope
from mediasync.services.reconcile import Reconciler
from mediasync.services.reconcile.listing import RANGE_CONNECTIONS, SnapshotLister
from mediasync.store import ListingPage, ListingSource
from support.connections import mediasync_connections

ASSETS = 30_000
CONCURRENCY = 4
MIN_RANGE = 2_500  # 30,000 assets: four ranges of 7,500 (15 pages), then the uploads since


class ChangingStore:
    """The real store; after `at` pages (counted over every cursor) someone changes the account."""

    def __init__(self, store, at: int = 0, change: Callable[[], None] | None = None) -> None:
        self.store, self.at, self.change, self.pages = store, at, change, 0
        self.lock = threading.Lock()

    def iter_source_pages(self, source: ListingSource, cursor: str | None = None) -> Iterator[ListingPage]:
        for page in self.store.iter_source_pages(source, cursor):
            with self.lock:
                self.pages += 1
                due = self.change is not None and self.pages == self.at
            if due:
                assert self.change is not None
                self.change()
            yield page


def seed(emulator) -> None:
    emulator.seed(ASSETS, prefix="main-uploads/p", spread_seconds=ASSETS * 60)


def changes(emulator, deleted: list[int], uploaded: list[str]) -> Callable[[], None]:
    """Delete seeded assets (late in their ranges and in name order: not listed yet), upload new ones
    (named to sort last) and re-upload one listed already."""
    mode = emulator.folder_mode

    def change() -> None:
        ids = [seeded_public_id(mode, "main-uploads/p", n) for n in deleted]
        assert len(retried(cloudinary.api.delete_resources, ids, **sdk(emulator))["deleted"]) == len(ids)
        for k, name in enumerate(uploaded):
            retried(cloudinary.uploader.upload, tiny_png(k), public_id=name, folder="main-uploads", **sdk(emulator))
        retried(cloudinary.uploader.upload, tiny_png(99), folder="main-uploads", overwrite=True,
                public_id=seeded_public_id(mode, "main-uploads/p", 3).rpartition("/")[2], **sdk(emulator))
    return change


def retried(call: Callable[..., dict], *args, **kwargs) -> dict:
    """The SDK's call, tried again when a kept-alive connection the server had just closed is
    reset under it (the SDK shares one small connection pool with the listing's cursors)."""
    for attempt in range(3):
        try:
            return call(*args, **kwargs)
        except cloudinary.exceptions.Error as exc:
            if "Connection" not in str(exc) or attempt == 2:
                raise
    raise AssertionError("unreachable")


def in_account(emulator) -> set[str]:
    assert emulator.emulator is not None
    return {r[0] for r in emulator.emulator.state.query("SELECT public_id FROM assets WHERE placeholder = 0")}


def in_snapshot(conn, key: str) -> list[str]:
    rows = conn.execute("SELECT public_id FROM mediasync.listing_snapshot WHERE inventory_key = %s", (key,))
    return [r["public_id"] for r in rows]


def listing_calls(emulator, since: int) -> int:
    return sum(c.startswith(("GET resources", "POST resources/search")) for c in emulator.admin_call_log()[since:])


def lister(db, store, concurrency: int = CONCURRENCY, reserve: int = 0) -> SnapshotLister:
    return SnapshotLister(db, store, ("image",), admin_api_reserve=reserve, concurrency=concurrency,
                          min_range_assets=MIN_RANGE)


def test_ranges_find_what_the_cursor_finds_on_an_account_changing_meanwhile(db, conn, emulator, cloudinary_store):
    seed(emulator)
    mode = emulator.folder_mode
    scope = ManagedScope(("main-uploads",), mode)
    key = scope.inventory_key

    # the first full listing has no plan: one cursor, the account changing under it
    before = len(emulator.admin_call_log())
    store = ChangingStore(cloudinary_store, at=3, change=changes(emulator, [7_490, 7_491, 29_990], ["z-new-a", "z-new-b"]))
    assert lister(db, store).list(scope).complete
    sequential_calls = listing_calls(emulator, before)
    sequential = in_snapshot(conn, key)
    assert sorted(sequential) == sorted(in_account(emulator))  # deleted ones gone, uploads found, once each
    plan = conn.execute("SELECT bounds, assets FROM mediasync.listing_plans WHERE inventory_key = %s",
                        (key,)).fetchone()
    assert plan["assets"] == ASSETS - 3 + 2 and len(plan["bounds"]) == CONCURRENCY

    with db.session() as session, session.transaction():
        ReconciliationRepository().clear_inventory(session, key)  # consumed by the run, as a run does

    # the next one lists the planned ranges side by side, the account changing again
    before = len(emulator.admin_call_log())
    store = ChangingStore(cloudinary_store, at=3,
                          change=changes(emulator, [14_995, 22_495, 29_995], ["z-new-c", "z-new-d", "a-new-e"]))
    assert lister(db, store).list(scope).complete
    partitioned_calls = listing_calls(emulator, before)
    partitioned = in_snapshot(conn, key)

    assert sorted(partitioned) == sorted(in_account(emulator))  # an upload sorting first is found too
    assert set(sequential) - set(partitioned) == {seeded_public_id(mode, "main-uploads/p", n)
                                                  for n in (14_995, 22_495, 29_995)}
    assert set(partitioned) - set(sequential) == {p for p in in_account(emulator) if p.rpartition("/")[2] in
                                                  ("z-new-c", "z-new-d", "a-new-e")}
    checkpoints = conn.execute("SELECT source, complete FROM mediasync.listing_checkpoints WHERE inventory_key = %s",
                               (key,)).fetchall()
    assert len(checkpoints) == CONCURRENCY + 1 and all(c["complete"] for c in checkpoints)
    assert abs(partitioned_calls - sequential_calls) <= 0.05 * sequential_calls, (partitioned_calls, sequential_calls)
    replanned = conn.execute("SELECT assets FROM mediasync.listing_plans WHERE inventory_key = %s", (key,)).fetchone()
    assert replanned["assets"] == len(partitioned)  # the next plan counts what all the ranges stored


def planned(db, conn, emulator, cloudinary_store, scope: ManagedScope) -> int:
    """A first full listing (it plans the ranges), consumed; returns its listing calls."""
    before = len(emulator.admin_call_log())
    assert lister(db, cloudinary_store).list(scope).complete
    with db.session() as session, session.transaction():
        ReconciliationRepository().clear_inventory(session, scope.inventory_key)
    return listing_calls(emulator, before)


def test_a_listing_cut_short_resumes_every_range(db, conn, emulator, cloudinary_store):
    seed(emulator)
    scope = ManagedScope(("main-uploads",), emulator.folder_mode)
    sequential_calls = planned(db, conn, emulator, cloudinary_store, scope)
    before = len(emulator.admin_call_log())
    emulator.control(rate_limit=emulator.admin_calls() + 20)

    cut = lister(db, cloudinary_store).list(scope)

    assert not cut.complete and "rate limit" in cut.message
    ranges = conn.execute("SELECT source, cursor, pages, complete FROM mediasync.listing_checkpoints").fetchall()
    started = [r for r in ranges if r["pages"]]
    assert len(started) == CONCURRENCY and not any(r["complete"] for r in started)  # each range went some way
    emulator.control(rate_limit=0)

    assert lister(db, cloudinary_store).list(scope).complete
    assert sorted(in_snapshot(conn, scope.inventory_key)) == sorted(in_account(emulator))
    assert listing_calls(emulator, before) <= sequential_calls * 1.05 + 20  # nothing listed twice but the 420s


def test_ranges_together_never_spend_past_the_reserve(db, conn, emulator, cloudinary_store):
    seed(emulator)
    scope = ManagedScope(("main-uploads",), emulator.folder_mode)
    planned(db, conn, emulator, cloudinary_store, scope)
    spent = emulator.admin_calls()
    emulator.control(rate_limit=spent + 30)

    paused = lister(db, cloudinary_store, reserve=10).list(scope)

    assert not paused.complete and "reserve 10" in paused.message
    assert emulator.admin_calls() - spent <= 30 - 10  # the reserve is left for the cleanup queue
    emulator.control(rate_limit=0)
    assert lister(db, cloudinary_store, reserve=10).list(scope).complete
    assert sorted(in_snapshot(conn, scope.inventory_key)) == sorted(in_account(emulator))


class WatchedStore:
    """The real store at `latency` seconds a page; records how many cursors were between pages at
    once and how many mediasync connections the database held meanwhile."""

    def __init__(self, store, db_url: str, latency: float) -> None:
        self.store, self.db_url, self.latency = store, db_url, latency
        self.cursors = self.max_cursors = self.max_connections = 0
        self.lock = threading.Lock()

    def iter_source_pages(self, source: ListingSource, cursor: str | None = None) -> Iterator[ListingPage]:
        with self.lock:
            self.cursors += 1
            self.max_cursors = max(self.max_cursors, self.cursors)
        try:
            for page in self.store.iter_source_pages(source, cursor):
                held = mediasync_connections(self.db_url)
                with self.lock:
                    self.max_connections = max(self.max_connections, held)
                time.sleep(self.latency)
                yield page
        finally:
            with self.lock:
                self.cursors -= 1


def test_more_cursors_than_connections(db, db_url, conn, emulator, cloudinary_store):
    """Eight ranges listed at once (the cursors wait on Cloudinary) commit on at most
    RANGE_CONNECTIONS connections beside the listing's own: a session pooler's few connections are
    not the limit on how many cursors a listing runs."""
    seed(emulator)
    scope = ManagedScope(("main-uploads",), emulator.folder_mode)
    assert lister(db, cloudinary_store, concurrency=8).list(scope).complete  # plans 8 ranges
    with db.session() as session, session.transaction():
        ReconciliationRepository().clear_inventory(session, scope.inventory_key)

    store = WatchedStore(cloudinary_store, db_url, latency=0.05)
    assert lister(db, store, concurrency=8).list(scope).complete

    assert store.max_cursors > RANGE_CONNECTIONS  # more cursors in flight than connections...
    assert store.max_connections <= RANGE_CONNECTIONS + 1  # ...and the listing's own session besides
    assert sorted(in_snapshot(conn, scope.inventory_key)) == sorted(in_account(emulator))


class RecordingStore:
    """The real store, recording the upload-time bounds of every listing it is asked for."""

    def __init__(self, store) -> None:
        self.store, self.bounds, self.lock = store, set(), threading.Lock()

    def __getattr__(self, name: str):
        return getattr(self.store, name)

    def iter_source_pages(self, source: ListingSource, cursor: str | None = None) -> Iterator[ListingPage]:
        with self.lock:
            self.bounds.add((source.uploaded_from, source.uploaded_before))
        yield from self.store.iter_source_pages(source, cursor)


def test_a_reconciliation_plans_the_next_ones_ranges_beside_its_diff(db, conn, emulator, emulator_folder_mode,
                                                                    cloudinary_store, settings):
    """A full reconciliation plans the next full listing's ranges from what it listed (on its own
    connection, while the diff runs), and the next full reconciliation lists those ranges side by
    side and finds the same drift."""
    seed(emulator)
    key = ManagedScope(("main-uploads",), emulator_folder_mode).inventory_key
    store = RecordingStore(cloudinary_store)
    reconciler = Reconciler(db, store, replace(settings, reconcile_listing_concurrency=CONCURRENCY),
                            resource_types=("image",))

    first = reconciler.run(kind="full", grace_minutes=0)
    plan = conn.execute("SELECT bounds, assets FROM mediasync.listing_plans WHERE inventory_key = %s",
                        (key,)).fetchone()
    assert (first.status, first.assets_listed, first.counts["orphan_asset"]) == ("completed", ASSETS, ASSETS)
    assert store.bounds == {(None, None)}  # no plan yet: one cursor
    # 30,000 assets in ranges of at least MIN_RANGE_ASSETS (12,500): two, then the uploads since
    assert plan["assets"] == ASSETS and len(plan["bounds"]) == 2

    store.bounds.clear()
    second = reconciler.run(kind="full", grace_minutes=0)
    low, high = plan["bounds"]
    assert store.bounds == {(None, low), (low, high), (high, None)}
    assert (second.status, second.assets_listed, second.counts["orphan_asset"]) == ("completed", ASSETS, ASSETS)
    assert conn.execute("SELECT count(*) AS n FROM mediasync.listing_snapshot").fetchone()["n"] == 0  # consumed
