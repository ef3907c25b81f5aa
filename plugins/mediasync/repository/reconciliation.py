"""Reconciliation SQL: runs, the COPY-loaded listing snapshot and its checkpoints, the SQL diff."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

from mediasync.db.queries import query
from mediasync.store import ListedAsset

DRIFT_KINDS = ("orphan_asset", "undeleted_asset", "missing_asset", "metadata_mismatch", "stuck_queue")


def _q(name: str) -> str:
    return query("reconciliation", name)


class ReconciliationRepository:
    # --- runs ----------------------------------------------------------------------------

    def try_lock(self, conn: psycopg.Connection, key: str) -> bool:
        return conn.execute(_q("try_lock"), {"key": key}).fetchone()["locked"]

    def unlock(self, conn: psycopg.Connection, key: str) -> None:
        conn.execute(_q("unlock"), {"key": key})

    def create_run(self, conn: psycopg.Connection, mode: str, params: dict) -> dict:
        return conn.execute(_q("create_run"), {"mode": mode, "params": Jsonb(params)}).fetchone()

    def finish_run(self, conn: psycopg.Connection, run_id: int, *, status: str, counts: dict, message: str,
                   listing_complete: bool, assets_listed: int) -> None:
        conn.execute(_q("finish_run"), {"run_id": run_id, "status": status, "counts": Jsonb(counts),
                                        "message": message, "listing_complete": listing_complete,
                                        "assets_listed": assets_listed})

    def set_reports(self, conn: psycopg.Connection, run_id: int, csv: str | None, html: str | None,
                    url: str | None) -> None:
        conn.execute(_q("set_reports"), {"run_id": run_id, "report_csv": csv, "report_html": html,
                                         "report_url": url})

    def recent_runs(self, conn: psycopg.Connection, limit: int) -> list[dict]:
        return conn.execute(_q("recent_runs"), {"limit": limit}).fetchall()

    # --- listing snapshot ----------------------------------------------------------------

    def checkpoint(self, conn: psycopg.Connection, key: str, resource_type: str) -> dict | None:
        return conn.execute(_q("get_checkpoint"), {"key": key, "resource_type": resource_type}).fetchone()

    def start_listing(self, conn: psycopg.Connection, key: str, resource_type: str) -> None:
        """Forget any earlier listing of this kind and start over."""
        args = {"key": key, "resource_type": resource_type}
        conn.execute(_q("clear_snapshot_of_type"), args)
        conn.execute(_q("start_checkpoint"), args)

    def store_page(self, conn: psycopg.Connection, key: str, resource_type: str, assets: Sequence[ListedAsset],
                   next_cursor: str | None) -> None:
        """COPY one page into the snapshot and move the checkpoint past it, atomically."""
        conn.execute(_q("create_page_table"))
        with conn.cursor().copy(_q("copy_page")) as copy:
            for a in assets:
                copy.write_row((a.public_id, a.resource_type, a.type, a.format, a.bytes, a.version, a.etag,
                                a.secure_url, a.width, a.height, a.created_at))
        conn.execute(_q("merge_page"), {"key": key})
        conn.execute(_q("save_checkpoint"), {"key": key, "resource_type": resource_type, "cursor": next_cursor,
                                             "complete": next_cursor is None, "listed": len(assets)})

    def listing_summary(self, conn: psycopg.Connection, key: str) -> dict:
        return conn.execute(_q("listing_summary"), {"key": key}).fetchone()

    def clear_inventory(self, conn: psycopg.Connection, key: str) -> None:
        conn.execute(_q("clear_snapshot"), {"key": key})
        conn.execute(_q("clear_checkpoints"), {"key": key})

    # --- diff and repair -----------------------------------------------------------------

    def diff(self, conn: psycopg.Connection, *, run_id: int, key: str, prefix: str | None,
             resource_types: Sequence[str], grace_cutoff: datetime, listing_started_at: datetime) -> dict[str, int]:
        args = {"run_id": run_id, "key": key, "prefix": prefix, "resource_types": list(resource_types),
                "grace_cutoff": grace_cutoff, "listing_started_at": listing_started_at}
        conn.execute(_q("analyze_snapshot"))
        for name in ("find_orphans", "find_undeleted", "find_missing", "find_mismatches", "find_stuck_queue"):
            conn.execute(_q(name), args)
        conn.execute(_q("mark_reported"), {"run_id": run_id})
        return self.counts(conn, run_id)

    def counts(self, conn: psycopg.Connection, run_id: int) -> dict[str, int]:
        return {r["kind"]: r["n"] for r in conn.execute(_q("counts_by_kind"), {"run_id": run_id})}

    def queue_deletions(self, conn: psycopg.Connection, run_id: int) -> int:
        return conn.execute(_q("queue_deletions"), {"run_id": run_id}).rowcount

    def update_metadata(self, conn: psycopg.Connection, run_id: int, key: str) -> int:
        return conn.execute(_q("update_metadata"), {"run_id": run_id, "key": key}).rowcount

    def report_items(self, conn: psycopg.Connection, run_id: int, chunk: int = 10_000) -> Iterator[list[dict]]:
        """The run's items in chunks, through a server-side cursor (flat memory for big drifts)."""
        with conn.cursor(name=f"report_items_{run_id}") as cur:
            cur.execute(_q("report_items"), {"run_id": run_id})
            while rows := cur.fetchmany(chunk):
                yield rows
