"""Drift classes: every way Cloudinary and `media_files` can disagree, declared once — with the
one outcome a reconciliation reports that is not drift.

Each class names the query that finds it, what an applied reconciliation does about it, and,
for deletions, the reason the cleanup queue records. The diff, the counts, the repairs, the
safety cap, the reports and the page (through the API) all read this table; nothing else lists
the kinds. `identity_filled` is no disagreement: a row written before mediasync recorded
Cloudinary's identity (asset_id, asset_folder, display_name) only lacks it, and the run fills it
in. It is counted and reported as its own outcome, never as drift.
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
    drift: bool = True  # False: an outcome the run reports beside the drift, not a disagreement


DRIFT_CLASSES: tuple[DriftClass, ...] = (
    DriftClass("orphan_asset", "reconciliation.find_orphans", "queue_deletion",
               "asset with no row, older than the grace period", queue_reason="reconcile_orphan",
               notified=True),
    DriftClass("undeleted_asset", "reconciliation.find_undeleted", "queue_deletion",
               "row soft-deleted, asset still there", queue_reason="soft_delete"),
    DriftClass("missing_asset", "reconciliation.find_missing", "report",
               "active row, no asset (rows are never deleted by reconciliation)", notified=True),
    DriftClass("metadata_mismatch", "reconciliation.find_mismatches", "update_row",
               "bytes/format/version/etag, name or place differ: the row is updated from Cloudinary", notified=True),
    # After metadata_mismatch: a row that also differs is a mismatch (whose repair fills its identity too).
    DriftClass("identity_filled", "reconciliation.find_identity_gaps", "update_row",
               "the row lacks asset_id/asset_folder/display_name Cloudinary reports: filled in (not drift)",
               drift=False),
    DriftClass("stuck_queue", "reconciliation.find_stuck_queue", "report",
               "failed or lease-expired cleanup-queue entries"),
)
DRIFT_KINDS: tuple[str, ...] = tuple(c.kind for c in DRIFT_CLASSES if c.drift)  # what counts as drift
OUTCOME_KINDS: tuple[str, ...] = tuple(c.kind for c in DRIFT_CLASSES if not c.drift)  # reported beside it
ITEM_KINDS: tuple[str, ...] = tuple(c.kind for c in DRIFT_CLASSES)  # every kind a run records items of


def with_action(action: Action) -> tuple[DriftClass, ...]:
    return tuple(c for c in DRIFT_CLASSES if c.action == action)


def missed_by_notifications(counts: dict[str, int]) -> int:
    """Items of a run's counts that Cloudinary had notified: the drift that got past the notifications."""
    return sum(int(counts.get(c.kind, 0)) for c in DRIFT_CLASSES if c.notified)


def drift_total(counts: dict[str, int]) -> int:
    """Items over every drift class in a run's counts."""
    return sum(int(counts.get(kind, 0)) for kind in DRIFT_KINDS)
