"""Which kind of listing a reconciliation makes: full, or incremental.

A full listing of a million assets costs 2,000 Admin API calls — a paid plan's whole hour. With
Cloudinary's notifications keeping `media_files` current, most nights only need what changed: an
incremental run lists (through the Search API) the assets uploaded since the previous complete
run started, minus an overlap for clocks and uploads in flight, and diffs those. What it cannot
see — an asset deleted, renamed or moved in Cloudinary without a notification reaching us — the
full listing finds, on a slower cadence: when none completed in `full_every`, and whenever the
last run still found drift that Cloudinary had notified (the notifications let something through).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from mediasync.drift import missed_by_notifications
from mediasync.errors import InvalidInput

RunKind = Literal["full", "incremental"]
KIND_CHOICES = ("auto", "full", "incremental")
# An incremental window starts this long before the previous complete run did: an upload whose
# asset Cloudinary stamped just before that run began, but whose row came later, is still listed.
INCREMENTAL_OVERLAP = timedelta(hours=1)


@dataclass(frozen=True)
class RunPlan:
    kind: RunKind
    reason: str
    uploaded_after: datetime | None = None  # incremental: list the assets uploaded after this

    @property
    def rows_created_after(self) -> datetime | None:
        """The rows an incremental run can judge `missing_asset`: created inside its window, after
        the overlap (their assets were uploaded inside it). None: a full run judges every row."""
        return None if self.uploaded_after is None else self.uploaded_after + INCREMENTAL_OVERLAP


def check_kind(requested: str) -> None:
    """Refuse a kind that is not auto, full or incremental (before a run spends any call)."""
    if requested not in KIND_CHOICES:
        raise InvalidInput(f"kind must be one of {', '.join(KIND_CHOICES)}, got {requested!r}", 422)


def plan_run(requested: str, cadence: dict[str, Any], full_every: timedelta, now: datetime) -> RunPlan:
    """The plan for a run asked as `requested` (auto, full or incremental), given the inventory's
    history (`ReconciliationRepository.cadence`). `full_every` zero: every auto run is full."""
    check_kind(requested)
    if requested == "full":
        return RunPlan("full", "a full listing was asked for")
    last_full: datetime | None = cadence.get("last_full_started_at")
    last_complete: datetime | None = cadence.get("last_complete_started_at")
    if last_full is None or last_complete is None:
        if requested == "incremental":
            raise InvalidInput("an incremental reconciliation lists only what changed since a complete full one, "
                               "and this inventory has none yet: run kind=full (or auto) first", 422)
        return RunPlan("full", "no complete full listing of this inventory yet")
    since = last_complete - INCREMENTAL_OVERLAP
    if requested == "incremental":
        return RunPlan("incremental", "an incremental listing was asked for", since)
    if full_every <= timedelta(0):
        return RunPlan("full", "every run lists in full (MEDIASYNC_RECONCILE_FULL_EVERY_DAYS=0)")
    if now - last_full >= full_every:
        return RunPlan("full", f"the last full listing started {_age(now - last_full)} ago "
                               f"(a full listing every {_age(full_every)})")
    missed = missed_by_notifications(cadence.get("last_complete_counts") or {})
    if missed:
        return RunPlan("full", f"the last complete run found {missed} drift items Cloudinary had notified: "
                               f"notifications let drift through")
    return RunPlan("incremental", f"the last full listing started {_age(now - last_full)} ago and the last run "
                                  f"found no drift the notifications missed", since)


def _age(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"
