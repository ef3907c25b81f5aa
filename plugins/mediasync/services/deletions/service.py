"""Deletes you can stop and undo: list deletion batches, release a held one, undo any one.

The brake itself lives in the database (a psql `DELETE` with no mediasync process running is
held too); this service is where an operator decides. Both decisions lock the batch row, so a
release and an undo racing each other are serialised: an undo that comes first leaves nothing to
release, a release that comes first is overtaken by the undo (which cancels what has not been
deleted yet and restores from Cloudinary's backups what has).

An undo runs in three short transactions, never holding one open across a Cloudinary call:
  1. take the batch's undo lease (a lease, not a session lock: it survives a transaction pooler and
     a crashed undo is taken over once it lapses), mark it `undone`, cancel its open entries;
  2. read what became of each journaled row's asset, and ask Cloudinary's backups for the gone ones;
  3. put the rows back with every column, their tags and usage, and record the result.
A second undo of the same batch returns the first one's result; one that was cut short resumes.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from mediasync.config import Settings
from mediasync.db import Database, Row
from mediasync.errors import Conflict, InvalidInput, MediasyncError, NotFound
from mediasync.repository.deletions import DeletionRepository
from mediasync.services.deletions.models import (
    BATCH_STATUSES,
    DeletionBatch,
    DeletionBatchDetail,
    DeletionPage,
    ReleaseResult,
    UndoResult,
)
from mediasync.services.deletions.restore import AssetRecovery, UndoPlan

log = logging.getLogger(__name__)

UNDO_LEASE = timedelta(minutes=5)
MAX_PAGE = 200


class DeletionService:
    def __init__(self, db: Database, store: object, settings: Settings | None = None,
                 repository: DeletionRepository | None = None, undo_lease: timedelta = UNDO_LEASE) -> None:
        self.db = db
        self.settings = settings or Settings()
        self.repo = repository or DeletionRepository()
        self.recovery = AssetRecovery(store)
        self.undo_lease = undo_lease

    # --- reading -------------------------------------------------------------------------

    def _batch(self, row: Row) -> DeletionBatch:
        return DeletionBatch.from_row(row, self.settings.undo_days)

    def list_batches(self, status: str | None = None, limit: int = 50,
                     cursor: str | None = None) -> DeletionPage:
        if status is not None and status not in BATCH_STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(BATCH_STATUSES)} (or omitted for all)", 422)
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}", 422)
        before = _cursor(cursor)
        with self.db.transaction() as conn:
            rows = self.repo.page(conn, status, limit + 1, before)
        items = [self._batch(r) for r in rows[:limit]]
        return DeletionPage(items=items, next_cursor=str(items[-1].id) if len(rows) > limit else None)

    def get(self, batch_id: int) -> DeletionBatchDetail:
        with self.db.transaction() as conn:
            row = self.repo.get(conn, batch_id)
            if row is None:
                raise NotFound(f"deletion batch {batch_id} not found")
            sample = self.repo.sample(conn, batch_id)
        return DeletionBatchDetail.model_validate({**self._batch(row).model_dump(), "undo_result": row["undo_result"],
                                                     "sample": [_jsonable(s) for s in sample]})

    def take_new_holds(self) -> list[DeletionBatch]:
        """Held batches no cleanup run reported yet, now reported (what the DAG alerts about)."""
        with self.db.transaction() as conn:
            return [self._batch(r) for r in self.repo.take_new_holds(conn)]

    def held(self) -> dict[str, int]:
        with self.db.transaction() as conn:
            summary = self.repo.held_summary(conn)
        return {"batches": int(summary["batches"]), "assets": int(summary["assets"])}

    # --- deciding ------------------------------------------------------------------------

    def release(self, batch_id: int, who: str) -> ReleaseResult:
        """Let a held batch flow (its entries become pending); a second release is a no-op."""
        with self.db.transaction() as conn:
            row = self.repo.lock(conn, batch_id)
            if row is None:
                raise NotFound(f"deletion batch {batch_id} not found")
            if row["status"] == "released":
                return ReleaseResult(batch=self._batch(row), released_entries=0, already_released=True)
            if row["status"] == "undone":
                raise Conflict(f"deletion batch {batch_id} was undone by {row['decided_by']} at "
                               f"{row['decided_at']:%Y-%m-%d %H:%M:%S %Z}; there is nothing to release")
            if row["status"] != "held":
                raise Conflict(f"deletion batch {batch_id} is not held (it is {row['status']}); nothing to release")
            released = self.repo.release(conn, batch_id, who)
            row = self.repo.get(conn, batch_id)
        log.warning("deletion batch %d released by %s: %d entries flow", batch_id, who, released)
        assert row is not None
        return ReleaseResult(batch=self._batch(row), released_entries=released)

    def undo(self, batch_id: int, who: str) -> UndoResult:
        """Undo a batch: rows back as they were, open entries cancelled, gone assets restored from
        Cloudinary's backups where it keeps them; what can come back neither way is reported."""
        deadline = time.monotonic() + self.undo_lease.total_seconds() + 30
        while True:
            started, finished = self._begin_undo(batch_id, who)
            if finished is not None:
                return finished
            if started is not None:
                break
            if time.monotonic() > deadline:
                raise Conflict(f"deletion batch {batch_id} is being undone by another request; try again shortly")
            time.sleep(0.2)  # another undo holds the lease: wait for its result (or for the lease to lapse)
        batch, cancelled = started
        try:
            return self._finish_undo(batch, cancelled)
        except MediasyncError:
            with self.db.transaction() as conn:
                self.repo.drop_undo_lease(conn, batch_id)
            raise

    def _begin_undo(self, batch_id: int, who: str) -> tuple[tuple[Row, int] | None, UndoResult | None]:
        """(batch, entries cancelled) when this call now holds the undo; a result when one is recorded."""
        with self.db.transaction() as conn:
            row = self.repo.lock(conn, batch_id)
            if row is None:
                raise NotFound(f"deletion batch {batch_id} not found")
            if row["undo_finished_at"] is not None:
                return None, UndoResult.model_validate({**(row["undo_result"] or {}), "already_undone": True})
            horizon = datetime.now(timezone.utc) - timedelta(days=self.settings.undo_days)
            if row["journal_purged_at"] is not None or row["created_at"] < horizon:
                raise Conflict(f"deletion batch {batch_id} is older than MEDIASYNC_UNDO_DAYS "
                               f"({self.settings.undo_days}); it can no longer be undone")
            leased = self.repo.take_undo_lease(conn, batch_id, who, self.undo_lease.total_seconds())
            if leased is None:
                return None, None
            cancelled = self.repo.cancel_entries(conn, batch_id, f"cancelled: batch {batch_id} undone by {who}")
        log.warning("deletion batch %d undone by %s: %d queue entries cancelled", batch_id, who, cancelled)
        return (leased, cancelled), None

    def _finish_undo(self, batch: Row, cancelled: int) -> UndoResult:
        with self.db.transaction() as conn:
            plan = UndoPlan.of(batch, self.repo.journaled_rows(conn, batch["id"]),
                               self.repo.assets_without_rows(conn, batch["id"]))
        restored_assets = self.recovery.recover(plan)  # Cloudinary calls, no transaction open
        with self.db.transaction() as conn:
            restored_rows = self.repo.restore_rows(conn, batch["id"], plan.rows_to_restore(restored_assets))
            result = plan.result(batch, cancelled, restored_assets, restored_rows)
            self.repo.finish_undo(conn, batch["id"], result.as_dict())
        log.warning("deletion batch %d undo: %d rows restored, %d assets kept, %d restored from backups, "
                    "%d not restorable", batch["id"], result.rows_restored, result.assets_kept,
                    result.assets_restored, len(result.not_restorable))
        return result


def _cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not cursor.isdigit():
        raise InvalidInput("cursor is malformed; use the next_cursor of a previous page", 422)
    return int(cursor)


def _jsonable(row: Row) -> dict[str, Any]:
    return {k: (str(v) if v is not None and not isinstance(v, str | int | float | bool) else v)
            for k, v in row.items()}
