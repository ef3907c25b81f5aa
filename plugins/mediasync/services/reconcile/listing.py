"""The Cloudinary side of a reconciliation: a checkpointed listing of the scope, streamed into the snapshot.

The scope (`mediasync.scope.ManagedScope`) says which listings cover it — per resource type, each
managed folder by public_id prefix (fixed folders) or by asset folder (dynamic folders), or the
whole account when explicitly asked. Each listing goes page by page into `mediasync.listing_snapshot`
with COPY; an asset the listing returns outside the scope is only counted (`unmanaged`), never
stored, so it can never become drift. Pages are stored a few at a time (`PAGES_PER_COMMIT`), each
batch and the cursor after it committing together — never a checkpoint ahead of stored rows —
while the next pages are already being fetched (`prefetch.ReadAhead`). Both tables are UNLOGGED,
so a crash empties them together and the next run lists afresh instead of trusting a cursor past
pages it lost. A listing cut short (rate limit, outage, allowance kept for the
cleanup queue) resumes where it stopped on the next run. The listing also pauses while Cloudinary
still allows a few Admin API calls this hour, leaving them for the cleanup queue's deletes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

from mediasync.db import Connection, Database
from mediasync.errors import StoreError, StorePermanentError, StoreRateLimited
from mediasync.repository.reconciliation import ListedAsset, ReconciliationRepository
from mediasync.scope import ManagedScope
from mediasync.services.reconcile.partitions import AllowanceMeter, Metered, parts_of, ranges_of
from mediasync.services.reconcile.prefetch import ReadAhead
from mediasync.store import AssetStore, ListingPage, ListingSource

log = logging.getLogger(__name__)

MAX_RESUME_AGE = timedelta(hours=24)  # an older partial listing is too stale to finish
PROGRESS_EVERY_SECONDS = 30.0  # long listings log their progress this often
PAGES_PER_COMMIT = 20  # pages stored (and checkpointed) per transaction: a crash re-lists at most these
READ_AHEAD_PAGES = 2 * PAGES_PER_COMMIT  # fetched pages waiting to be stored, at most
MIN_RANGE_ASSETS = 25 * 500  # a listing splits into ranges of at least 25 pages: ≤ 1 extra call in 25
RANGE_CONNECTIONS = 4  # database connections the ranges listed side by side share for their commits

Sessions = Callable[[], AbstractContextManager[Connection]]  # a connection for one piece of work


@dataclass(frozen=True)
class ListingOutcome:
    complete: bool
    message: str = ""
    resume_at: datetime | None = None  # when Cloudinary's allowance resets, if that is what stopped it
    # a complete full listing: the keys each listing's assets are stored under (itself, or its
    # ranges), by `ListingSource.whole_key` — what `SnapshotLister.plan_ranges` plans the next one from
    stored_under: Mapping[str, list[str]] | None = None


AdminAllowance = AllowanceMeter  # the listing's meter of Cloudinary's Admin API allowance


@dataclass
class ListingProgress:
    """Pages, assets and rate of a long listing, logged every `every` seconds (and at the end of
    each source) so an operator watching the task log sees it move and what allowance is left."""

    every: float = PROGRESS_EVERY_SECONDS
    pages: int = 0
    assets: int = 0
    unmanaged: int = 0
    started: float = field(default_factory=time.monotonic)
    last_log: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)  # ranges listed side by side

    def page(self, source: ListingSource, stored: int, unmanaged: int, allowance: AdminAllowance) -> None:
        with self._lock:
            self.pages += 1
            self.assets += stored
            self.unmanaged += unmanaged
            due = time.monotonic() - self.last_log >= self.every
        if due:
            self.log(source, allowance)

    def log(self, source: ListingSource, allowance: AdminAllowance) -> None:
        self.last_log = time.monotonic()
        elapsed = max(self.last_log - self.started, 1e-6)
        left = "unknown" if allowance.remaining is None else str(allowance.remaining)
        log.info("listing %s: %d pages, %d assets in scope, %d unmanaged, %.0f assets/s, "
                 "Admin API calls left this hour: %s", source.key, self.pages, self.assets, self.unmanaged,
                 (self.assets + self.unmanaged) / elapsed, left)


class SnapshotLister:
    """Lists one scope's inventory into the snapshot. `guard` runs before every write and raises
    when the writer may no longer write (the run lost its inventory lock: `HeldLock.ensure`).
    A full listing runs each listing as `concurrency` cursors over the upload-time ranges the last
    complete one planned (`partitions`); the first one, or one too small to split, as one cursor.
    The cursors mostly wait on Cloudinary; they borrow one of `RANGE_CONNECTIONS` connections only
    to commit, so more cursors never hold more of a pooler's connections."""

    def __init__(self, db: Database, store: AssetStore, resource_types: tuple[str, ...], admin_api_reserve: int,
                 repository: ReconciliationRepository | None = None,
                 progress_every: float = PROGRESS_EVERY_SECONDS, guard: Callable[[], None] | None = None,
                 concurrency: int = 1, min_range_assets: int = MIN_RANGE_ASSETS) -> None:
        self.db = db
        self.store = store
        self.resource_types = resource_types
        self.admin_api_reserve = admin_api_reserve
        self.repo = repository or ReconciliationRepository()
        self.progress_every = progress_every
        self.guard = guard or (lambda: None)
        self.concurrency = max(1, concurrency)
        self.min_range_assets = min_range_assets

    def list(self, scope: ManagedScope, uploaded_after: datetime | None = None, *,
             plan_ranges: bool = True) -> ListingOutcome:
        """Stream every source of the scope into the snapshot, resuming from checkpoints; with
        `uploaded_after`, only the assets uploaded since (an incremental run's Search API listing).
        A complete full listing plans the next one's ranges, unless `plan_ranges` is false: the
        caller then does (`plan_ranges`), beside its own work on the snapshot."""
        allowance = AdminAllowance(self.admin_api_reserve)
        progress = ListingProgress(self.progress_every)
        sources = scope.sources(self.resource_types, uploaded_after)
        key, full = scope.inventory_key, uploaded_after is None
        with self.db.session() as conn:
            self.guard()
            with conn.transaction():
                plans = self.repo.listing_plans(conn, key) if full and self.concurrency > 1 else {}
                split = [ranges_of(source, plans.get(source.whole_key, [])) for source in sources]
                listed_as = {source.whole_key: parts_of(*parts) for source, parts in zip(sources, split, strict=True)}
                self.repo.keep_only_sources(conn, key, [part for parts in listed_as.values() for part in parts])
            for ranges, last in split:
                outcome = self._list_ranges(conn, scope, ranges, allowance, progress)
                if outcome.complete and last is not None:  # what moved into it meanwhile, too
                    outcome = self._list_source(lambda: nullcontext(conn), scope, last, allowance, progress)
                if not outcome.complete:
                    return outcome
        stored_under = ({whole: [part.key for part in parts] for whole, parts in listed_as.items()}
                        if full and self.concurrency > 1 else None)
        listed = ListingOutcome(True, stored_under=stored_under)
        if plan_ranges:
            self.plan_ranges(scope, listed)
        return listed

    def plan_ranges(self, scope: ManagedScope, listed: ListingOutcome) -> None:
        """Plan the ranges of the scope's next full listing from what the complete full listing
        `listed` stored (nothing to do for any other listing). Reads the snapshot only, on its own
        connection: it may run while the diff reads the same snapshot."""
        if not listed.complete or listed.stored_under is None:
            return
        self.guard()
        with self.db.transaction() as conn:
            self.repo.plan_listings(conn, scope.inventory_key, listed.stored_under, self.concurrency,
                                    self.min_range_assets)

    def _list_ranges(self, conn: Connection, scope: ManagedScope, ranges: Sequence[ListingSource],
                     allowance: AdminAllowance, progress: ListingProgress) -> ListingOutcome:
        """The ranges side by side, at most `concurrency` at once, each checkpointed on its own and
        committing on one of `RANGE_CONNECTIONS` shared connections; the first incomplete range's
        outcome, if any."""
        if len(ranges) == 1:
            return self._list_source(lambda: nullcontext(conn), scope, ranges[0], allowance, progress)
        stopped = threading.Event()  # a range came back incomplete: ranges not yet begun wait for the next run
        connections = threading.BoundedSemaphore(RANGE_CONNECTIONS)

        @contextmanager
        def shared_session() -> Iterator[Connection]:
            with connections, self.db.session() as own:
                yield own

        def one(source: ListingSource) -> ListingOutcome | None:
            if stopped.is_set():
                return None
            outcome = self._list_source(shared_session, scope, source, allowance, progress)
            if not outcome.complete:
                stopped.set()
            return outcome

        with ThreadPoolExecutor(min(self.concurrency, len(ranges)), thread_name_prefix="listing-range") as pool:
            outcomes = list(pool.map(one, ranges))
        incomplete = [o for o in outcomes if o is not None and not o.complete]
        return incomplete[0] if incomplete else ListingOutcome(True)

    def _list_source(self, sessions: Sessions, scope: ManagedScope, source: ListingSource,
                     allowance: AdminAllowance, progress: ListingProgress, restarted: bool = False) -> ListingOutcome:
        """One listing (a whole source or one range) from its checkpoint on; `sessions` hands out
        the connection for each transaction."""
        key = scope.inventory_key
        with sessions() as conn, conn.transaction():
            checkpoint = self.repo.checkpoint(conn, key, source)
        fresh = checkpoint is None or restarted or _too_old(checkpoint["started_at"])
        if checkpoint is not None and not fresh and checkpoint["complete"]:
            return ListingOutcome(True)
        if paused := allowance.pause_message():
            return ListingOutcome(False, paused, allowance.reset_at)
        cursor = None if fresh or checkpoint is None else checkpoint["cursor"]
        if fresh:
            self.guard()
            with sessions() as conn, conn.transaction():
                self.repo.start_listing(conn, key, source, listed_before=checkpoint is not None)
        else:
            log.info("resuming the listing %s of %s from its checkpoint (%d assets, %d pages so far)", source.key,
                     key, checkpoint["assets_listed"] if checkpoint else 0, checkpoint["pages"] if checkpoint else 0)
        try:
            paused_outcome = self._stream(sessions, scope, source, cursor, allowance, progress)
            if paused_outcome is not None:
                return paused_outcome
        except StoreRateLimited as exc:
            when = exc.reset_at.isoformat() if exc.reset_at else "later"
            return ListingOutcome(False, f"listing of {source.resource_type} assets stopped by Cloudinary's rate "
                                         f"limit; no action taken; the next run resumes from the checkpoint "
                                         f"(limit resets {when})", exc.reset_at)
        except StorePermanentError as exc:
            if cursor and not restarted:
                log.warning("resuming the listing %s failed (%s); listing it from the start", source.key, exc)
                return self._list_source(sessions, scope, source, allowance, progress, restarted=True)
            return ListingOutcome(False, f"listing of {source.resource_type} assets failed: {exc}; no action taken")
        except StoreError as exc:
            return ListingOutcome(False, f"listing of {source.resource_type} assets failed: {exc}; no action taken; "
                                         f"the next run resumes from the checkpoint")
        progress.log(source, allowance)
        return ListingOutcome(True)

    def _stream(self, sessions: Sessions, scope: ManagedScope, source: ListingSource, cursor: str | None,
                allowance: AdminAllowance, progress: ListingProgress) -> ListingOutcome | None:
        """Store the source's pages from `cursor` on, PAGES_PER_COMMIT pages a transaction, while the
        read-ahead fetches the next ones with calls the allowance meter hands out; the paused
        outcome when the meter stops it. A store error first commits the pages listed before it,
        then goes up."""
        key = scope.inventory_key
        batch = _Batch()
        pages = Metered(self.store.iter_source_pages(source, cursor), allowance)
        finished = False
        try:
            with ReadAhead(pages, READ_AHEAD_PAGES) as ahead:
                for page in ahead:
                    finished = not page.next_cursor
                    owned, unmanaged = _split(scope, page)
                    batch.add(owned, unmanaged, page.next_cursor)
                    progress.page(source, len(owned), unmanaged, allowance)
                    if finished or batch.pages >= PAGES_PER_COMMIT:
                        self._commit(sessions, key, source, batch)
        except StoreError:
            self._commit(sessions, key, source, batch)
            raise
        self._commit(sessions, key, source, batch)  # a no-op after the last page's commit
        if finished or not pages.refused:
            return None
        paused = allowance.pause_message() or (f"listing paused: Admin API calls left this hour are down to the "
                                               f"reserve ({allowance.reserve}); no action taken; the next run "
                                               f"resumes from the checkpoint")
        log.warning("listing %s of %s: %s", source.key, key, paused)
        return ListingOutcome(False, paused, allowance.reset_at)

    def _commit(self, sessions: Sessions, key: str, source: ListingSource, batch: _Batch) -> None:
        """The batch's assets and the cursor after its last page, in one transaction: the checkpoint
        is never ahead of the stored rows (a crash loses both, and the pages are listed again)."""
        if batch.pages or batch.empty_listing:
            self.guard()
            with sessions() as conn, conn.transaction():
                self.repo.store_page(conn, key, source, batch.assets, batch.next_cursor, batch.unmanaged,
                                     pages=batch.pages or 1)
        batch.clear()


@dataclass
class _Batch:
    """Pages listed since the last commit."""

    assets: list[ListedAsset] = field(default_factory=list)
    unmanaged: int = 0
    pages: int = 0
    next_cursor: str | None = None
    empty_listing: bool = True  # nothing committed yet and nothing listed: the empty listing's checkpoint

    def add(self, owned: list[ListedAsset], unmanaged: int, next_cursor: str | None) -> None:
        self.assets.extend(owned)
        self.unmanaged += unmanaged
        self.pages += 1
        self.next_cursor = next_cursor
        self.empty_listing = False

    def clear(self) -> None:
        self.assets, self.unmanaged, self.pages = [], 0, 0


def _split(scope: ManagedScope, page: ListingPage) -> tuple[list[ListedAsset], int]:
    """The page's assets inside the scope (with their folder; placeholders too, the diff tells them
    apart), and how many live assets it had outside the managed folders (`unmanaged`: dropped here;
    in an account-scope run kept, but still counted). An asset whose public_id is not a safe path
    (`public_ids`) is in no scope: counted, never kept."""
    managed = replace(scope, whole_account=False)
    listed: list[ListedAsset] = []
    unmanaged = 0
    for asset in page.assets:
        folder = managed.owned_folder(asset.public_id, asset.asset_folder)
        if folder is None:
            unmanaged += not asset.placeholder
            if scope.whole_account:
                folder = scope.owned_folder(asset.public_id, asset.asset_folder)
        if folder is not None:
            listed.append((asset, folder))
    return listed, unmanaged


def _too_old(started_at: datetime) -> bool:
    return datetime.now(timezone.utc) - started_at > MAX_RESUME_AGE
