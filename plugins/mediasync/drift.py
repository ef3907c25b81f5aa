"""Drift classes: every way Cloudinary and `media_files` can disagree, declared once.

Each class names the query that finds it, what an applied reconciliation does about it, and,
for deletions, the reason the cleanup queue records. The diff, the counts, the repairs, the
safety cap, the reports and the page all read this table; nothing else lists the kinds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Action = Literal["queue_deletion", "update_row", "report"]


@dataclass(frozen=True)
class DriftClass:
    kind: str
    finder: str  # named query that records this class's items for a run
    action: Action
    meaning: str
    queue_reason: str | None = None  # cleanup-queue reason, for queue_deletion
    # Cloudinary notifies this change (upload, delete, rename, move): when a run still finds it, a
    # notification did not get through, and the next run lists in full (the incremental cadence).
    notified: bool = False


DRIFT_CLASSES: tuple[DriftClass, ...] = (
    DriftClass("orphan_asset", "reconciliation.find_orphans", "queue_deletion",
               "asset with no row, older than the grace period", queue_reason="reconcile_orphan",
               notified=True),
    DriftClass("undeleted_asset", "reconciliation.find_undeleted", "queue_deletion",
               "row soft-deleted, asset still there", queue_reason="soft_delete"),
    DriftClass("missing_asset", "reconciliation.find_missing", "report",
               "active row, no asset (rows are never deleted by reconciliation)", notified=True),
    DriftClass("metadata_mismatch", "reconciliation.find_mismatches", "update_row",
               "bytes/format/version/etag differ: the row is updated from Cloudinary", notified=True),
    DriftClass("stuck_queue", "reconciliation.find_stuck_queue", "report",
               "failed or lease-expired cleanup-queue entries"),
)
DRIFT_KINDS: tuple[str, ...] = tuple(c.kind for c in DRIFT_CLASSES)


def with_action(action: Action) -> tuple[DriftClass, ...]:
    return tuple(c for c in DRIFT_CLASSES if c.action == action)


def missed_by_notifications(counts: dict[str, int]) -> int:
    """Items of a run's counts that Cloudinary had notified: the drift that got past the notifications."""
    return sum(int(counts.get(c.kind, 0)) for c in DRIFT_CLASSES if c.notified)


def drift_total(counts: dict[str, int]) -> int:
    """Items over every drift class in a run's counts."""
    return sum(int(counts.get(kind, 0)) for kind in DRIFT_KINDS)
