"""The listing stores pages in batches while reading ahead: an asset listed twice keeps its latest
facts (the COPY conflicts, the batch is merged), and a listing cut short keeps every page it
fetched before the failure, with the checkpoint after the last of them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

from mediasync.errors import StoreRateLimited
from mediasync.repository.reconciliation import ASSET_COLUMNS
from mediasync.scope import ManagedScope
from mediasync.services.reconcile.listing import SnapshotLister
from mediasync.store import ListedFacts, ListingPage, ListingSource

SCOPE = ManagedScope(("main-uploads",), "fixed")


def asset(n: int, bytes: int = 1024) -> ListedFacts:
    return ListedFacts(public_id=f"main-uploads/a{n:04d}", resource_type="image", type="upload", format="png",
                       bytes=bytes, version=1, etag=None, secure_url=None, width=None, height=None, created_at=None,
                       asset_id=f"id{n}", asset_folder=None, display_name=None, placeholder=False)


class PagedStore:
    """Pages of the image source as given; other resource types are empty. `fail_after` pages,
    the listing is rate-limited."""

    def __init__(self, pages: list[list[ListedFacts]], fail_after: int | None = None) -> None:
        self.pages, self.fail_after, self.fetched = pages, fail_after, 0

    def iter_source_pages(self, source: ListingSource, cursor: str | None = None) -> Iterator[ListingPage]:
        if source.resource_type != "image":
            yield ListingPage([], None)
            return
        for i in range(int(cursor or 0), len(self.pages)):
            if self.fail_after is not None and self.fetched >= self.fail_after:
                raise StoreRateLimited("Rate Limit Exceeded", None)
            self.fetched += 1
            yield ListingPage(self.pages[i], str(i + 1) if i + 1 < len(self.pages) else None)


def test_an_asset_listed_twice_keeps_its_latest_facts(db, conn):
    pages = [[asset(1), asset(2)], [asset(2, bytes=7), asset(3)], [asset(3, bytes=9)]]  # one batch, repeats
    outcome = SnapshotLister(db, PagedStore(pages), ("image", "video"), admin_api_reserve=0).list(SCOPE)

    assert outcome.complete
    rows = conn.execute("SELECT public_id, bytes FROM mediasync.listing_snapshot ORDER BY public_id").fetchall()
    assert [(r["public_id"], r["bytes"]) for r in rows] == [
        ("main-uploads/a0001", 1024), ("main-uploads/a0002", 7), ("main-uploads/a0003", 9)]


def test_a_listing_cut_short_keeps_the_pages_it_fetched(db, conn):
    pages = [[asset(n)] for n in range(5)]
    outcome = SnapshotLister(db, PagedStore(pages, fail_after=3), ("image",), admin_api_reserve=0).list(SCOPE)

    assert not outcome.complete and "rate limit" in outcome.message
    checkpoint = conn.execute("SELECT cursor, assets_listed, pages FROM mediasync.listing_checkpoints").fetchone()
    assert (checkpoint["cursor"], checkpoint["assets_listed"], checkpoint["pages"]) == ("3", 3, 3)
    assert conn.execute("SELECT count(*) AS n FROM mediasync.listing_snapshot").fetchone()["n"] == 3

    resumed = SnapshotLister(db, PagedStore(pages), ("image",), admin_api_reserve=0).list(SCOPE)
    assert resumed.complete
    assert conn.execute("SELECT count(*) AS n FROM mediasync.listing_snapshot").fetchone()["n"] == 5


def test_a_listing_too_old_to_resume_forgets_what_it_stored(db, conn):
    """A partial listing past MAX_RESUME_AGE starts over: the pages it stored are forgotten, so an
    asset deleted since is not in the snapshot (it would hide a row's missing asset)."""
    pages = [[asset(n)] for n in range(5)]
    assert not SnapshotLister(db, PagedStore(pages, fail_after=3), ("image",), admin_api_reserve=0).list(SCOPE).complete
    conn.execute("UPDATE mediasync.listing_checkpoints SET started_at = started_at - interval '25 hours'")

    now = [[asset(n)] for n in range(1, 5)]  # a0000 deleted from Cloudinary meanwhile
    assert SnapshotLister(db, PagedStore(now), ("image",), admin_api_reserve=0).list(SCOPE).complete
    listed = conn.execute("SELECT public_id FROM mediasync.listing_snapshot ORDER BY public_id").fetchall()
    assert [r["public_id"] for r in listed] == [f"main-uploads/a{n:04d}" for n in range(1, 5)]


@pytest.mark.parametrize("repeated", [False, True], ids=["straight", "merged"])
def test_every_listed_fact_reaches_the_snapshot_as_listed(db, conn, repeated):
    """The snapshot is loaded by binary COPY: each value goes in its column's exact type (a bigint
    byte count past 2^31, NULLs, a placeholder's flag, an aware time with microseconds, non-ASCII
    text), straight in or, when the batch repeats an asset, through the merge."""
    created = datetime(2024, 4, 5, 12, 34, 56, 789000, tzinfo=timezone.utc)
    full = ListedFacts(public_id="main-uploads/full", resource_type="image", type="upload", format="png",
                       bytes=5_000_000_000, version=1712345678, etag="e-1", secure_url="https://x.invalid/full.png",
                       width=3840, height=2160, created_at=created, asset_id="id-full", asset_folder="main-uploads",
                       display_name="Full ünïcode", placeholder=False)
    gone = full._replace(public_id="main-uploads/gone", bytes=0, format=None, etag=None, secure_url=None, width=None,
                         height=None, created_at=None, asset_id="id-gone", display_name=None, placeholder=True)
    pages = [[full, gone], [full, gone]] if repeated else [[full, gone]]
    assert SnapshotLister(db, PagedStore(pages), ("image",), admin_api_reserve=0).list(SCOPE).complete

    rows = conn.execute(f"SELECT {', '.join(ASSET_COLUMNS)}, folder FROM mediasync.listing_snapshot "
                        "ORDER BY public_id").fetchall()
    assert [(ListedFacts(**{k: r[k] for k in ASSET_COLUMNS}), r["folder"]) for r in rows] == [
        (full, "main-uploads"), (gone, "main-uploads")]
