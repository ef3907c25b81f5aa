"""Reconciliation SQL: runs, the COPY-loaded listing snapshot and its checkpoints, the SQL diff."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime

from mediasync.db import Connection, Row
from mediasync.drift import DRIFT_CLASSES, ITEM_KINDS, with_action
from mediasync.errors import Conflict
from mediasync.repository.deletions import DeletionRepository
from mediasync.scope import ManagedScope
from mediasync.store import ListedFacts, ListingSource

LISTING_PAGE = 500  # assets per listing page (Cloudinary's most): a range holds whole pages

ListedAsset = tuple[ListedFacts, str]  # an asset (or a placeholder) and its folder, as the scope's mode defines it


# The listed facts of an asset: the fields of `ListedFacts`, in order, and columns of
# mediasync.listing_snapshot (and of the per-transaction listing_page) of the same names. Declared
# once: the COPY column lists are its field names and the rows fed to them are its tuples, so they
# cannot drift apart by position.
ASSET_COLUMNS: tuple[str, ...] = ListedFacts._fields
PAGE_COLUMNS = (*ASSET_COLUMNS, "folder")  # the folder as the scope's mode defines it
SNAPSHOT_COLUMNS = ("inventory_key", "source", *PAGE_COLUMNS)


def _page_rows(assets: Iterable[ListedAsset]) -> Iterator[tuple]:
    return ((*facts, folder) for facts, folder in assets)


def _snapshot_rows(key: str, source: str, assets: Iterable[ListedAsset]) -> Iterator[tuple]:
    return ((key, source, *facts, folder) for facts, folder in assets)


_COLUMN_TYPES: dict[tuple[str, ...], tuple[str, ...]] = {}


def _column_types(conn: Connection, columns: tuple[str, ...]) -> tuple[str, ...]:
    """The snapshot's types of `columns` (listing_page copies them), as the migrations declared
    them: read from the catalog once per process, not declared again here."""
    if columns not in _COLUMN_TYPES:
        types = tuple(r["type"] for r in conn.all("reconciliation.snapshot_column_types", {"columns": list(columns)}))
        if len(types) != len(columns):
            raise RuntimeError(f"mediasync.listing_snapshot lacks some of the columns {columns}: migrate first")
        _COLUMN_TYPES[columns] = types
    return _COLUMN_TYPES[columns]


class ReconciliationRepository:
    # --- runs ----------------------------------------------------------------------------

    def try_lock(self, conn: Connection, key: str) -> bool:
        """The inventory's lock, for as long as `conn`'s transaction stays open (`db.held_lock`)."""
        return bool(conn.scalar("reconciliation.try_lock", {"key": key}))

    def create_run(self, conn: Connection, mode: str, params: dict, key: str, kind: str = "full",
                   listed_since: datetime | None = None, triggered_by: str | None = None) -> Row:
        row = conn.one("reconciliation.create_run", {"mode": mode, "params": params, "key": key, "kind": kind,
                                                     "listed_since": listed_since, "triggered_by": triggered_by})
        assert row is not None
        return row

    def cadence(self, conn: Connection, key: str) -> Row:
        """The inventory's last complete full listing and last complete run (see `cadence.plan_run`)."""
        row = conn.one("reconciliation.cadence", {"key": key})
        assert row is not None
        return row

    def close_interrupted_runs(self, conn: Connection, key: str, run_id: int) -> int:
        """Mark `failed` the runs of this inventory a crash left `running` (call holding its lock)."""
        return conn.execute("reconciliation.close_interrupted_runs", {"key": key, "run_id": run_id})

    def finish_run(self, conn: Connection, run_id: int, *, status: str, counts: dict, message: str,
                   listing_complete: bool, assets_listed: int) -> None:
        conn.execute("reconciliation.finish_run", {"run_id": run_id, "status": status, "counts": counts,
                                                   "message": message, "listing_complete": listing_complete,
                                                   "assets_listed": assets_listed})

    def set_reports(self, conn: Connection, run_id: int, csv: str | None, html: str | None,
                    url: str | None) -> None:
        conn.execute("reconciliation.set_reports", {"run_id": run_id, "report_csv": csv, "report_html": html,
                                                    "report_url": url})

    def recent_runs(self, conn: Connection, limit: int) -> list[Row]:
        return conn.all("reconciliation.recent_runs", {"limit": limit})

    def ensure_ready(self, conn: Connection) -> None:
        """Raise SchemaNotReady (with the command that fixes it) when migrations have not run."""
        conn.scalar("reconciliation.ready")

    def previous_complete_run_start(self, conn: Connection, key: str, run_id: int) -> datetime | None:
        value: datetime | None = conn.scalar("reconciliation.previous_complete_run_start",
                                             {"key": key, "run_id": run_id})
        return value

    # --- listing snapshot ----------------------------------------------------------------

    def checkpoint(self, conn: Connection, key: str, source: ListingSource) -> Row | None:
        return conn.one("reconciliation.get_checkpoint", {"key": key, "source": source.key})

    def start_listing(self, conn: Connection, key: str, source: ListingSource, *, listed_before: bool) -> None:
        """Forget any earlier listing of this source and start over. A snapshot row is only ever
        stored with its source's checkpoint and removed with it, so a source without a checkpoint
        (`listed_before` false: the common case, every range of a run after the last one's clear)
        has nothing to forget — and skipping that DELETE spares a scan of the whole snapshot, which
        the ranges listed side by side are filling meanwhile."""
        args = {"key": key, "source": source.key, "resource_type": source.resource_type}
        if listed_before:
            conn.execute("reconciliation.clear_snapshot_of_source", args)
        conn.execute("reconciliation.start_checkpoint", args)

    def store_page(self, conn: Connection, key: str, source: ListingSource, assets: Sequence[ListedAsset],
                   next_cursor: str | None, unmanaged: int, pages: int = 1) -> None:
        """Store `pages` listing pages' in-scope assets in the snapshot and move the checkpoint past
        them, atomically (call inside a transaction); `unmanaged` counts their assets outside the
        scope (not stored). An asset listed twice keeps its latest facts."""
        try:
            with conn.transaction():  # a savepoint: straight into the snapshot, the common case
                conn.copy_rows("reconciliation.copy_snapshot", _snapshot_rows(key, source.key, assets),
                               columns=SNAPSHOT_COLUMNS, types=_column_types(conn, SNAPSHOT_COLUMNS))
        except Conflict:  # an asset listed twice (the listing shifted under uploads): merge, the last one wins
            latest = {(a.resource_type, a.type, a.public_id): (a, folder) for a, folder in assets}
            conn.execute("reconciliation.create_page_table", columns=PAGE_COLUMNS)
            conn.copy_rows("reconciliation.copy_page", _page_rows(latest.values()), columns=PAGE_COLUMNS,
                           types=_column_types(conn, PAGE_COLUMNS))
            conn.execute("reconciliation.merge_page", {"key": key, "source": source.key}, columns=PAGE_COLUMNS)
        conn.execute("reconciliation.save_checkpoint", {"key": key, "source": source.key, "cursor": next_cursor,
                                                        "complete": next_cursor is None, "listed": len(assets),
                                                        "unmanaged": unmanaged, "pages": pages})

    def listing_summary(self, conn: Connection, key: str) -> Row:
        row = conn.one("reconciliation.listing_summary", {"key": key})
        assert row is not None
        return row

    def keep_only_sources(self, conn: Connection, key: str, sources: Sequence[ListingSource]) -> None:
        """Forget snapshot rows and checkpoints of listings that are not this run's."""
        args = {"key": key, "sources": [s.key for s in sources]}
        conn.execute("reconciliation.clear_other_sources", args)
        conn.execute("reconciliation.clear_other_checkpoints", args)

    def clear_inventory(self, conn: Connection, key: str) -> None:
        conn.execute("reconciliation.clear_snapshot", {"key": key})
        conn.execute("reconciliation.clear_checkpoints", {"key": key})

    def listing_plans(self, conn: Connection, key: str) -> dict[str, list[datetime]]:
        """The range bounds planned for each listing of the inventory (by `ListingSource.whole_key`)."""
        return {r["source"]: list(r["bounds"]) for r in conn.all("reconciliation.listing_plans", {"key": key})}

    def plan_listings(self, conn: Connection, key: str, listings: Mapping[str, Sequence[str]], shares: int,
                      min_share: int) -> None:
        """Plan the ranges of each listing's next full listing (by `ListingSource.whole_key`) from
        what its complete listing just stored under its parts' keys (itself, or its ranges): up to
        `shares` equal shares of at least `min_share` assets, each a whole number of listing pages;
        none (one cursor) when the listing is too small to split."""
        stored = {r["source"]: r["n"] for r in conn.all("reconciliation.listed_assets_by_source", {"key": key})}
        for whole, parts in listings.items():
            args = {"key": key, "source": whole}
            assets = sum(stored.get(part, 0) for part in parts)
            split_into = min(shares, assets // max(min_share, 1))
            if split_into < 2:
                conn.execute("reconciliation.forget_listing_plan", args)
                continue
            step = -(-assets // (split_into * LISTING_PAGE)) * LISTING_PAGE
            conn.execute("reconciliation.save_listing_plan",
                         {**args, "parts": list(parts), "step": step, "assets": assets})

    # --- diff and repair -----------------------------------------------------------------

    def diff(self, conn: Connection, *, run_id: int, scope: ManagedScope, resource_types: Sequence[str],
             grace_cutoff: datetime, listing_started_at: datetime,
             rows_created_after: datetime | None = None) -> dict[str, int]:
        """Record every drift class's items for the run (one transaction); returns the count per kind.
        `rows_created_after`: an incremental run's bound on the rows whose asset it must have listed."""
        key = scope.inventory_key
        args = {"run_id": run_id, "key": key, "resource_types": list(resource_types), "folders": list(scope.folders),
                "mode": scope.mode, "whole_account": scope.whole_account, "grace_cutoff": grace_cutoff,
                "listing_started_at": listing_started_at, "rows_created_after": rows_created_after}
        conn.execute("reconciliation.diff_memory")
        conn.execute("reconciliation.analyze_snapshot")
        conn.execute("reconciliation.match_snapshot", {"key": key})
        conn.execute("reconciliation.pair_by_name", {"key": key})
        conn.execute("reconciliation.analyze_match")
        for drift in DRIFT_CLASSES:
            conn.execute(drift.finder, {**args, "kind": drift.kind})
        conn.execute("reconciliation.mark_reported", {"run_id": run_id,
                                                      "kinds": [c.kind for c in with_action("report")]})
        return self.counts(conn, run_id)

    def counts(self, conn: Connection, run_id: int) -> dict[str, int]:
        rows = conn.all("reconciliation.counts_by_kind", {"run_id": run_id, "kinds": list(ITEM_KINDS)})
        return {r["kind"]: r["n"] for r in rows}

    def queue_deletions(self, conn: Connection, run_id: int, assets_listed: int,
                        forced_by: str | None = None) -> tuple[int, Row | None]:
        """Queue the assets of every deleting drift class, with that class's queue reason, as one
        deletion batch (source `reconcile`) that the delete brake may hold — unless the run was
        forced, which is a decision: a held batch is then released at once in `forced_by`'s name.
        Returns the items queued and the batch (None when nothing was to be deleted)."""
        deleting = with_action("queue_deletion")
        kinds = {"run_id": run_id, "kinds": [c.kind for c in deleting], "reasons": [c.queue_reason for c in deleting]}
        marked = conn.execute("reconciliation.mark_deletions", kinds)
        if not marked:
            return 0, None
        batches = DeletionRepository()
        batch = batches.open(conn, operation="RECONCILE", reason="reconcile", rows=0, assets=marked,
                             source="reconcile", requested_by=forced_by, library=assets_listed)
        batches.add_queued(conn, batch["id"], conn.execute("reconciliation.queue_marked_deletions",
                                                           {**kinds, "batch_id": batch["id"]}))
        if batch["status"] == "held" and forced_by:
            batches.release(conn, batch["id"], forced_by)
            batch = batches.get(conn, batch["id"]) or batch
        return marked, batch

    def update_metadata(self, conn: Connection, run_id: int, key: str) -> int:
        """Copy Cloudinary's facts onto the rows of every row-updating drift class."""
        return sum(conn.execute("reconciliation.update_metadata", {"run_id": run_id, "key": key, "kind": c.kind})
                   for c in with_action("update_row"))

    def items(self, conn: Connection, run_id: int, kinds: Sequence[str]) -> list[Row]:
        return conn.all("reconciliation.items_of_kinds", {"run_id": run_id, "kinds": list(kinds)})

    def report_items(self, conn: Connection, run_id: int, chunk: int = 10_000) -> Iterator[list[Row]]:
        """The run's items in chunks, through a server-side cursor (flat memory for big drifts)."""
        return conn.stream("reconciliation.report_items", {"run_id": run_id}, chunk)
