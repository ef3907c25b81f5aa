"""Apply one notification's changes to media_files, inside the caller's transaction.

Rules, the same for every transport:
- only rows in the managed scope change (`ManagedScope`), and only an upload into a managed
  folder is adopted (and only with `MEDIASYNC_ADOPT_EXTERNAL_UPLOADS`);
- order-safe: each change advances a per-asset clock of what it changes (existence, location,
  display name, content, each tag); a change older than that clock is 'stale' and changes nothing;
- idempotent: a change already reflected by the row changes nothing ('no_change');
- the app's own changes are recognised: a delete of a row the app soft-deleted, or an upload made
  with mediasync's own API key, is 'own_change' (the app records those itself);
- deleted rows only ever come back through an adoption; a rename, move or retag of a deleted row
  changes nothing;
- a placeholder (a deleted asset an account with backups keeps) is no live asset: a `delete` of
  a backed-up asset marks its row deleted like any other, and an upload body that says
  `placeholder: true` is neither adopted nor followed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from mediasync.config import Settings
from mediasync.db import Connection, Row
from mediasync.repository.notifications import NotificationRepository
from mediasync.scope import ManagedScope, ResolvedFolderMode, mode_reported_by_asset, resolve_folder_mode
from mediasync.services.notifications.apply_metadata import MetadataChanges
from mediasync.services.notifications.events import (
    AssetRef,
    Change,
    ContextChanged,
    Deleted,
    DisplayNameChanged,
    FolderRenamed,
    Moved,
    Notification,
    Renamed,
    TagsChanged,
    Uploaded,
)

log = logging.getLogger(__name__)

# When a notification's changes end differently, the one that says most wins.
_PRECEDENCE = ("applied", "stale", "own_change", "out_of_scope", "no_change", "ignored")


@dataclass
class Applied:
    """What one notification did: its outcome, how many rows changed, and why, in a few words."""

    outcome: str = "ignored"
    changed_rows: int = 0
    notes: list[str] = field(default_factory=list)

    def add(self, outcome: str, note: str, changed: int = 0) -> None:
        self.changed_rows += changed
        self.notes.append(note)
        if _PRECEDENCE.index(outcome) < _PRECEDENCE.index(self.outcome):
            self.outcome = outcome

    @property
    def detail(self) -> str | None:
        return "; ".join(self.notes[:20]) or None


class Scope:
    """The managed scope, with `auto` folder mode read from the notification itself: an asset that
    reports an asset_folder is judged by it (dynamic), one that does not by its public_id (fixed)
    (`scope.resolve_folder_mode`, the resolution reconciliation uses too)."""

    def __init__(self, settings: Settings) -> None:
        self.folders = settings.owned_folders
        self.configured = settings.cloudinary_folder_mode

    def mode(self, asset_folder: str | None) -> ResolvedFolderMode:
        return resolve_folder_mode(self.configured, lambda: mode_reported_by_asset(asset_folder))

    def _scope(self, asset_folder: str | None) -> ManagedScope:
        return ManagedScope(self.folders, self.mode(asset_folder))

    def contains(self, public_id: str, asset_folder: str | None) -> bool:
        return self._scope(asset_folder).contains(public_id, asset_folder)

    def contains_row(self, row: Row) -> bool:
        return self.contains(row["public_id"], row.get("asset_folder"))

    def contains_folder(self, folder: str) -> bool:
        return ManagedScope(self.folders, "dynamic").contains_folder(folder)


def _prefix(public_id: str) -> str:
    return public_id.rpartition("/")[0]


def renamed_url(url: str | None, from_public_id: str, to_public_id: str) -> str | None:
    """The delivery URL after a rename: Cloudinary URLs end with `/<public_id>[.<format>]`."""
    if not url:
        return url
    at = url.rfind(f"/{from_public_id}.")
    if at >= 0:
        return f"{url[:at]}/{to_public_id}{url[at + 1 + len(from_public_id):]}"
    if url.endswith(f"/{from_public_id}"):
        return url[: -len(from_public_id)] + to_public_id
    return url


class ChangeApplier(MetadataChanges):
    def __init__(self, settings: Settings, own_api_key: str | None,
                 repository: NotificationRepository | None = None) -> None:
        self.settings = settings
        self.scope = Scope(settings)
        self.own_api_key = own_api_key
        self.repo = repository or NotificationRepository()

    def apply(self, conn: Connection, notification: Notification) -> Applied:
        result = Applied()
        if not notification.changes:
            result.add("ignored", f"{notification.notification_type}: not a change mediasync follows")
        for change in notification.changes:
            self._one(conn, notification, change, result)
        return result

    def _one(self, conn: Connection, n: Notification, change: Change, result: Applied) -> None:
        if isinstance(change, Deleted):
            self._deleted(conn, n.event_at, change.ref, result)
        elif isinstance(change, Renamed):
            self._renamed(conn, n.event_at, change, result)
        elif isinstance(change, Moved):
            self._moved(conn, n.event_at, change, result)
        elif isinstance(change, FolderRenamed):
            self._folder_renamed(conn, change, result)
        elif isinstance(change, DisplayNameChanged):
            self._display_name(conn, n.event_at, change, result)
        elif isinstance(change, TagsChanged):
            self._tags(conn, n.event_at, change, result)
        elif isinstance(change, ContextChanged):
            self._context(conn, n.event_at, change, result)
        else:
            self._uploaded(conn, n, change, result)

    def _row(self, conn: Connection, ref: AssetRef, public_id: str | None = None) -> Row | None:
        return self.repo.lock_row(conn, ref.asset_id, public_id or ref.public_id, ref.resource_type, ref.type)

    def _target(self, row: Row | None, what: str, result: Applied, destination_ours: bool = False) -> Row | None:
        """The active, managed row a change applies to (or one moving into a managed folder:
        `destination_ours`); None after recording why the change does nothing."""
        if row is None or row["status"] == "deleted":
            result.add("no_change", f"{what}: no active row")
            return None
        if not (self.scope.contains_row(row) or destination_ours):
            result.add("out_of_scope", f"{what}: outside the managed folders")
            return None
        return row

    def _fresh(self, conn: Connection, ref: AssetRef, aspect: str, event_at: datetime) -> bool:
        """Not older than what was applied to this aspect, nor than the asset's deletion."""
        deleted_at = self.repo.clock(conn, ref.key, "existence") if aspect != "existence" else None
        if deleted_at is not None and deleted_at > event_at:
            return False
        return self.repo.advance_clock(conn, ref.key, aspect, event_at)

    def _fresh_tags(self, conn: Connection, ref: AssetRef, tags: tuple[str, ...], event_at: datetime) -> set[str]:
        """`_fresh` for each tag's aspect (`tag:<name>`), in one statement."""
        deleted_at = self.repo.clock(conn, ref.key, "existence")
        if deleted_at is not None and deleted_at > event_at:
            return set()
        moved = self.repo.advance_clocks(conn, ref.key, [f"tag:{t}" for t in tags], event_at)
        return {aspect.removeprefix("tag:") for aspect in moved}

    # --- delete --------------------------------------------------------------------------

    def _deleted(self, conn: Connection, event_at: datetime, ref: AssetRef, result: Applied) -> None:
        if not self.repo.advance_clock(conn, ref.key, "existence", event_at):
            result.add("stale", f"delete {ref.public_id}: older than a later upload")
            return
        row = self._row(conn, ref)
        if row is None:
            result.add("no_change", f"delete {ref.public_id}: no row")
        elif not self.scope.contains_row(row):
            result.add("out_of_scope", f"delete {ref.public_id}: outside the managed folders")
        elif row["status"] == "deleted":
            own = row.get("deleted_by") == "app"
            result.add("own_change" if own else "no_change",
                       f"delete {ref.public_id}: row already deleted by {row.get('deleted_by') or 'someone'}")
        elif self.repo.mark_deleted_by_cloudinary(conn, row["id"]):
            result.add("applied", f"delete {ref.public_id}: row marked deleted", 1)
        else:
            result.add("no_change", f"delete {ref.public_id}: row already deleted")

    # --- rename / move / folder rename ---------------------------------------------------

    def _renamed(self, conn: Connection, event_at: datetime, change: Renamed, result: Applied) -> None:
        ref, to = change.ref, change.to_public_id
        what = f"rename {ref.public_id} -> {to}"
        row = self._target(
            self._row(conn, ref) or self._row(conn, AssetRef(to, ref.resource_type, change.to_type, ref.asset_id)),
            what, result, destination_ours=self.scope.contains(to, change.asset_folder))
        if row is None:
            return
        if not self._fresh(conn, ref, "location", event_at):
            result.add("stale", f"{what}: older than the row's location")
            return
        holder = self.repo.lock_key(conn, to, ref.resource_type, change.to_type)
        if holder is not None and holder["id"] != row["id"]:
            result.add("ignored", f"{what}: row {holder['id']} holds that public_id; left to reconciliation")
            return
        asset_folder = change.asset_folder if change.asset_folder is not None else (
            _prefix(to) if self.scope.mode(None) == "fixed" else row.get("asset_folder"))
        changed = self.repo.move_row(
            conn, row["id"], public_id=to, type=change.to_type, asset_folder=asset_folder,
            folder=asset_folder if asset_folder is not None else row.get("folder"),
            display_name=change.display_name if change.display_name is not None else row.get("display_name"),
            secure_url=renamed_url(row.get("secure_url"), row["public_id"], to), asset_id=ref.asset_id)
        note = "row follows" if changed else "row already there"
        result.add("applied" if changed else "no_change", f"{what}: {note}", int(changed))

    def _moved(self, conn: Connection, event_at: datetime, change: Moved, result: Applied) -> None:
        ref = change.ref
        what = f"move {ref.public_id} -> {change.to_asset_folder or '(root)'}"
        row = self._target(self._row(conn, ref), what, result,
                           destination_ours=self.scope.contains(ref.public_id, change.to_asset_folder))
        if row is None:
            return
        if not self._fresh(conn, ref, "location", event_at):
            result.add("stale", f"{what}: older than the row's location")
            return
        changed = self.repo.set_folder(conn, row["id"], change.to_asset_folder, change.to_asset_folder)
        result.add("applied" if changed else "no_change", what, int(changed))

    def _folder_renamed(self, conn: Connection, change: FolderRenamed, result: Applied) -> None:
        what = f"folder {change.from_path} -> {change.to_path}"
        if not (self.scope.contains_folder(change.from_path) or self.scope.contains_folder(change.to_path)):
            result.add("out_of_scope", f"{what}: outside the managed folders")
            return
        changed = 0
        for row in self.repo.rows_in_folder(conn, change.from_path):
            new_folder = change.to_path + row["asset_folder"][len(change.from_path):]
            folder = new_folder if row.get("folder") == row["asset_folder"] else row.get("folder")
            changed += self.repo.set_folder(conn, row["id"], new_folder, folder)
        result.add("applied" if changed else "no_change", f"{what}: {changed} row(s) follow", changed)

    # --- upload --------------------------------------------------------------------------

    def _uploaded(self, conn: Connection, n: Notification, change: Uploaded, result: Applied) -> None:
        ref = change.ref
        what = f"upload {ref.public_id}"
        own = n.source == "api" and self.own_api_key is not None and n.actor == self.own_api_key
        if change.placeholder:  # a deleted asset Cloudinary keeps a backup of: nothing to adopt or follow
            result.add("ignored", f"{what}: a placeholder (bytes 0), no live asset")
            return
        row = self._row(conn, ref)
        if row is not None and row["status"] == "active":
            if not self.scope.contains_row(row):
                result.add("out_of_scope", f"{what}: outside the managed folders")
            elif self.repo.refresh_content(conn, row["id"], {**change.fields, "asset_id": ref.asset_id}):
                result.add("applied", f"{what}: row follows the new version", 1)
            else:
                result.add("own_change" if own else "no_change", f"{what}: row already up to date")
            return
        if not self.scope.contains(ref.public_id, ref.asset_folder):
            result.add("out_of_scope", f"{what}: outside the managed folders")
        elif own:
            result.add("own_change", f"{what}: made with mediasync's API key; the app records its own uploads")
        elif not self.settings.adopt_external_uploads:
            result.add("ignored", f"{what}: adoption of external uploads is off")
        elif not self.repo.advance_clock(conn, ref.key, "existence", n.event_at):
            result.add("stale", f"{what}: older than the asset's deletion")
        else:
            folder = ref.asset_folder if ref.asset_folder is not None else _prefix(ref.public_id)
            media_id = self.repo.adopt(conn, {**change.fields, "public_id": ref.public_id,
                                              "resource_type": ref.resource_type, "type": ref.type,
                                              "asset_id": ref.asset_id, "asset_folder": ref.asset_folder,
                                              "folder": folder})
            result.add("applied" if media_id else "no_change",
                       f"{what}: {'adopted as ' + str(media_id) if media_id else 'another row holds it'}",
                       1 if media_id else 0)
