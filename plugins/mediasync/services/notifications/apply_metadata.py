"""The metadata a notification changes on a row: its display name, its tags and its contextual
metadata — each following its latest change by a clock per aspect (per tag, per context key).
Part of `ChangeApplier` (a mixin over its row lookup, scope and clocks)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from mediasync.db import Connection, Row
from mediasync.repository.notifications import NotificationRepository
from mediasync.services.notifications.events import AssetRef, ContextChanged, DisplayNameChanged, TagsChanged

if TYPE_CHECKING:
    from mediasync.services.notifications.apply import Applied


class _Applier(Protocol):
    repo: NotificationRepository

    def _row(self, conn: Connection, ref: AssetRef, public_id: str | None = None) -> Row | None: ...

    def _target(self, row: Row | None, what: str, result: Applied, destination_ours: bool = False) -> Row | None: ...

    def _fresh(self, conn: Connection, ref: AssetRef, aspect: str, event_at: datetime) -> bool: ...

    def _fresh_tags(self, conn: Connection, ref: AssetRef, tags: tuple[str, ...], event_at: datetime) -> set[str]: ...


class MetadataChanges:
    """Display name, tags and context changes, for `ChangeApplier`."""

    def _display_name(self: _Applier, conn: Connection, event_at: datetime, change: DisplayNameChanged,
                      result: Applied) -> None:
        ref = change.ref
        what = f"display name of {ref.public_id}"
        row = self._target(self._row(conn, ref), what, result)
        if row is None:
            return
        if not self._fresh(conn, ref, "display_name", event_at):
            result.add("stale", f"{what}: older than the row's")
            return
        changed = self.repo.set_display_name(conn, row["id"], change.display_name)
        result.add("applied" if changed else "no_change", what, int(changed))

    def _tags(self: _Applier, conn: Connection, event_at: datetime, change: TagsChanged, result: Applied) -> None:
        ref = change.ref
        what = f"tags of {ref.public_id}"
        row = self._target(self._row(conn, ref), what, result)
        if row is None:
            return
        fresh = self._fresh_tags(conn, ref, (*change.added, *change.removed), event_at)
        added = [t for t in dict.fromkeys(change.added) if t in fresh]
        removed = [t for t in dict.fromkeys(change.removed) if t in fresh and t not in added]
        if not added and not removed and (change.added or change.removed):
            result.add("stale", f"{what}: older than the row's")
            return
        changed = self.repo.change_tags(conn, row["id"], added, removed)
        result.add("applied" if changed else "no_change", f"{what}: +{len(added)} -{len(removed)}",
                   1 if changed else 0)

    def _context(self: _Applier, conn: Connection, event_at: datetime, change: ContextChanged, result: Applied) -> None:
        """Each context key follows its latest change (a clock per key, as tags have)."""
        ref = change.ref
        what = f"context of {ref.public_id}"
        row = self._target(self._row(conn, ref), what, result)
        if row is None:
            return
        set_ = {k: v for k, v in change.set.items() if self._fresh(conn, ref, f"context:{k}", event_at)}
        removed = [k for k in change.removed if self._fresh(conn, ref, f"context:{k}", event_at)]
        if not set_ and not removed and (change.set or change.removed):
            result.add("stale", f"{what}: older than the row's")
            return
        changed = self.repo.change_context(conn, row["id"], set_, removed)
        result.add("applied" if changed else "no_change", f"{what}: {len(set_)} set, {len(removed)} removed",
                   int(changed))
