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


DRIFT_CLASSES: tuple[DriftClass, ...] = (
    DriftClass("orphan_asset", "reconciliation.find_orphans", "queue_deletion",
               "asset with no row, older than the grace period", queue_reason="reconcile_orphan"),
    DriftClass("undeleted_asset", "reconciliation.find_undeleted", "queue_deletion",
               "row soft-deleted, asset still there", queue_reason="soft_delete"),
    DriftClass("missing_asset", "reconciliation.find_missing", "report",
               "active row, no asset (rows are never deleted by reconciliation)"),
    DriftClass("metadata_mismatch", "reconciliation.find_mismatches", "update_row",
               "bytes/format/version/etag differ: the row is updated from Cloudinary"),
    DriftClass("stuck_queue", "reconciliation.find_stuck_queue", "report",
               "failed or lease-expired cleanup-queue entries"),
)
DRIFT_KINDS: tuple[str, ...] = tuple(c.kind for c in DRIFT_CLASSES)


def with_action(action: Action) -> tuple[DriftClass, ...]:
    return tuple(c for c in DRIFT_CLASSES if c.action == action)


def drift_total(counts: dict[str, int]) -> int:
    """Items over every drift class in a run's counts."""
    return sum(int(counts.get(kind, 0)) for kind in DRIFT_KINDS)
