"""The database side of a reconciliation: the SQL diff, the safety cap, and the repairs.

What each drift class is and what an applied run does about it is declared in
`mediasync.drift`; this module only runs those declarations against a complete snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from mediasync.db import Database
from mediasync.drift import drift_total, with_action
from mediasync.repository.reconciliation import ReconciliationRepository
from mediasync.repository.runtime_settings import RuntimeSettingsRepository
from mediasync.scope import ManagedScope

MIN_DELETE_CAP = 100


@dataclass(frozen=True)
class Diff:
    counts: dict[str, int]
    assets_listed: int

    @property
    def deletions(self) -> int:
        """Assets an applied run would delete: the items of every deleting drift class."""
        return sum(self.counts.get(c.kind, 0) for c in with_action("queue_deletion"))

    @property
    def total(self) -> int:
        return drift_total(self.counts)

    def cap(self, fraction: float) -> int:
        """Most deletions one run may make: max(MIN_DELETE_CAP, fraction × assets listed)."""
        return max(MIN_DELETE_CAP, int(fraction * self.assets_listed))


@dataclass(frozen=True)
class Repairs:
    queued_deletions: int
    updated_rows: int
    deletion_batch: int | None = None
    batch_status: str | None = None
    hold_reason: str | None = None


class DriftRepair:
    def __init__(self, db: Database, repository: ReconciliationRepository | None = None) -> None:
        self.db = db
        self.repo = repository or ReconciliationRepository()

    def diff(self, *, run_id: int, scope: ManagedScope, resource_types: tuple[str, ...], grace_cutoff: datetime,
             listing_started_at: datetime, assets_listed: int, rows_created_after: datetime | None = None) -> Diff:
        """Record every drift class's items for the run (one SQL statement each, one transaction)."""
        with self.db.transaction() as conn:
            counts = self.repo.diff(conn, run_id=run_id, scope=scope, resource_types=resource_types,
                                    grace_cutoff=grace_cutoff, listing_started_at=listing_started_at,
                                    rows_created_after=rows_created_after)
        return Diff(counts, assets_listed)

    def apply(self, run_id: int, key: str, database_settings: Mapping[str, str], *, assets_listed: int,
              forced_by: str | None = None) -> Repairs:
        """Queue the deletions (with the configured attempt budget and brake, as one deletion batch)
        and update the rows, in one transaction."""
        with self.db.transaction() as conn:
            RuntimeSettingsRepository().publish(conn, database_settings)
            queued, batch = self.repo.queue_deletions(conn, run_id, assets_listed, forced_by)
            updated = self.repo.update_metadata(conn, run_id, key)
        if batch is None:
            return Repairs(queued, updated)
        return Repairs(queued, updated, batch["id"], batch["status"], batch["hold_reason"])
