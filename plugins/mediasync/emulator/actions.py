"""The asset-changing operations, written once and used by the Upload API, the Admin API and the
console control call alike — so a change made "by someone else in the console" is the same change,
with the same notification, as one made through the API. Deletions are counted here."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mediasync.emulator import context as contexts
from mediasync.emulator import formats
from mediasync.emulator.backups import wants_backup
from mediasync.emulator.errors import CloudinaryError
from mediasync.emulator.gate import truthy
from mediasync.emulator.media import Source, inspect
from mediasync.emulator.naming import filename_stem, resolve, source_filename
from mediasync.emulator.state import Asset

if TYPE_CHECKING:
    from mediasync.emulator.runtime import Emulator


@dataclass
class Deletions:
    """What clients asked to delete, so tests can prove no asset was deleted twice."""

    per_id: Counter = field(default_factory=Counter)
    deleted: int = 0
    not_found: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, outcome: dict[str, str]) -> None:
        with self.lock:
            for public_id, result in outcome.items():
                self.per_id[public_id] += 1
                if result == "deleted":
                    self.deleted += 1
                else:
                    self.not_found += 1

    def report(self) -> dict[str, int]:
        with self.lock:
            return {"ids": len(self.per_id), "requests": sum(self.per_id.values()), "deleted": self.deleted,
                    "not_found": self.not_found, "max_per_id": max(self.per_id.values(), default=0)}

    def reset(self) -> None:
        with self.lock:
            self.per_id.clear()
            self.deleted = self.not_found = 0


def _resource_ref(asset: Asset) -> dict[str, Any]:
    return {"resource_type": asset.resource_type, "type": asset.type, "asset_id": asset.asset_id,
            "public_id": asset.public_id, "version": asset.version, "asset_folder": asset.asset_folder,
            "display_name": asset.display_name or asset.public_id.rsplit("/", 1)[-1]}


class Actions:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.store = emulator.state
        self.deletions = Deletions()

    def _emit(self, kind: str, payload: dict, source: str, notification_url: str | None = None) -> None:
        self.emulator.notifier.emit(kind, payload, source=source, notification_url=notification_url)

    # --- upload --------------------------------------------------------------------------

    def upload(self, data: Source, filename: str | None, resource_type: str, settings: dict[str, Any],
               *, source: str = "api", unsigned: bool = False) -> tuple[Asset, bool, bool]:
        """Store an upload by the account's folder mode; (asset, overwritten, existing). `data` is
        the bytes, or the file an assembled chunked upload lies in (moved into the store)."""
        found = inspect(data, resource_type, self.emulator.settings.max_image_pixels, filename)
        found, data = formats.apply(found, data, settings)
        naming = resolve(self.emulator.settings.folder_mode, settings, filename, found.resource_type,
                         found.format if found.resource_type == "raw" else None)
        context = contexts.parse(settings.get("context"))
        delivery_type = str(settings.get("type") or "upload")
        current = self.store.get(found.resource_type, delivery_type, naming.public_id)
        overwrite = str(settings.get("overwrite", "0" if unsigned else "1")).lower() in ("1", "true")
        if current and not overwrite:
            return current, False, True  # Cloudinary answers with the asset that is already there
        tags = settings.get("tags") or []
        tags = sorted({str(t).strip() for t in (tags if isinstance(tags, list) else str(tags).split(",")) if t
                       and str(t).strip()})
        original = None if truthy(settings.get("discard_original_filename", "0")) else (
            filename_stem(source_filename(settings, filename)) or "file")
        asset, overwritten = self.store.put(
            resource_type=found.resource_type, type=delivery_type, public_id=naming.public_id, data=data,
            format=found.format if found.resource_type != "raw" else None, width=found.width, height=found.height,
            pages=found.pages, asset_folder=naming.asset_folder, display_name=naming.display_name,
            original_filename=original, tags=tags, context=context)
        if wants_backup(self.emulator.settings.backups, settings):
            kept = data if isinstance(data, bytes | bytearray) else self.store.blob_path(asset)  # moved into the store
            self.emulator.backups.keep(asset, kept)
        return asset, overwritten, False

    # --- delete --------------------------------------------------------------------------

    def delete(self, resource_type: str, type: str, public_ids: Sequence[str], *, source: str = "api",
               notification_url: str | None = None) -> dict[str, str]:
        outcome, gone = self.store.delete(resource_type, type, list(public_ids))
        self.deletions.record(outcome)
        if gone:
            self._emit("delete", {"resources": [_resource_ref(a) for a in gone]}, source, notification_url)
        return outcome

    def delete_matching(self, resource_type: str, type: str | None, *, prefix: str | None = None,
                        tag: str | None = None, after: str | None = None, limit: int,
                        notification_url: str | None = None) -> tuple[dict[str, str], str | None]:
        """A bulk delete (by prefix, tag or all): up to `limit` assets by public_id; returns the
        outcome and, when more remain, the last public_id deleted (the next call's cursor)."""
        batch = self.store.matching(resource_type, type, prefix=prefix, tag=tag, after=after, limit=limit + 1)
        gone, more = batch[:limit], len(batch) > limit
        self.store.delete_assets(gone)
        outcome = {a.public_id: "deleted" for a in gone}
        self.deletions.record(outcome)
        if gone:
            self._emit("delete", {"resources": [_resource_ref(a) for a in gone]}, "api", notification_url)
        return outcome, gone[-1].public_id if more and gone else None

    def delete_by_asset_ids(self, asset_ids: Sequence[str], *, source: str = "api",
                            notification_url: str | None = None) -> dict[str, str]:
        found = {a.asset_id: a for a in self.store.by_asset_ids(list(asset_ids))}
        outcome = {aid: "deleted" if aid in found else "not_found" for aid in asset_ids}
        gone = list(found.values())
        self.store.delete_assets(gone)
        self.deletions.record({(found[aid].public_id if aid in found else aid): result
                               for aid, result in outcome.items()})
        if gone:
            self._emit("delete", {"resources": [_resource_ref(a) for a in gone]}, source, notification_url)
        return outcome

    # --- rename / move / display name / tags ---------------------------------------------

    def rename(self, resource_type: str, type: str, from_public_id: str, to_public_id: str, *,
               to_type: str | None = None, overwrite: bool = False, source: str = "api",
               notification_url: str | None = None) -> Asset:
        """New public_id (and type), same asset_id. Fixed mode: the folder follows the new path."""
        with self.store.lock:
            asset = self.store.get(resource_type, type, from_public_id)
            if asset is None:
                raise CloudinaryError(404, f"Resource not found - {from_public_id}")
            new_type = to_type or type
            if (new_type, to_public_id) == (type, from_public_id):
                return asset
            target = self.store.get(resource_type, new_type, to_public_id)
            if target is not None:
                if not overwrite:
                    raise CloudinaryError(409, f"Resource already exists - {to_public_id}")
                self.store.delete_assets([target])
            changes: dict[str, Any] = {"public_id": to_public_id, "type": new_type}
            if self.emulator.settings.folder_mode == "fixed":
                changes["asset_folder"] = to_public_id.rpartition("/")[0]
                changes["display_name"] = to_public_id.rsplit("/", 1)[-1]
            renamed = self.store.update(asset, **changes)
        self._emit("rename", {"resource_type": renamed.resource_type, "type": renamed.type,
                              "asset_id": renamed.asset_id, "from_public_id": from_public_id,
                              "to_public_id": to_public_id, "asset_folder": renamed.asset_folder,
                              "display_name": renamed.display_name, "version": renamed.version},
                   source, notification_url)
        return renamed

    def update(self, asset: Asset, *, asset_folder: str | None = None, display_name: str | None = None,
               tags: list[str] | None = None, context: dict[str, str] | None = None, source: str = "api",
               notification_url: str | None = None) -> Asset:
        """Admin API update / console edits: move between asset folders, rename for display, retag,
        add context (the keys given are set, the others kept). In fixed mode a move changes the
        public_id (the folder is its path): that is a rename."""
        if asset_folder is not None:
            asset_folder = asset_folder.strip("/")
            if self.emulator.settings.folder_mode == "fixed":
                if asset_folder != asset.asset_folder:
                    name = asset.public_id.rsplit("/", 1)[-1]
                    asset = self.rename(asset.resource_type, asset.type, asset.public_id,
                                        f"{asset_folder}/{name}" if asset_folder else name, source=source)
            elif asset_folder != asset.asset_folder:
                before = asset.asset_folder
                asset = self.store.update(asset, asset_folder=asset_folder)
                self._emit("move", {"source": source, "resources": {asset.public_id: {
                    "asset_id": asset.asset_id, "public_id": asset.public_id, "resource_type": asset.resource_type,
                    "type": asset.type, "display_name": asset.display_name, "from_asset_folder": before,
                    "to_asset_folder": asset_folder}}}, source, notification_url)
        if display_name is not None and display_name != (asset.display_name or ""):
            before_name = asset.display_name
            asset = self.store.update(asset, display_name=display_name)
            self._emit("resource_display_name_changed", {"source": source, "resources": {asset.public_id: {
                "asset_id": asset.asset_id, "public_id": asset.public_id, "resource_type": asset.resource_type,
                "type": asset.type, "asset_folder": asset.asset_folder,
                "previous_display_name": before_name or asset.public_id.rsplit("/", 1)[-1],
                "new_display_name": display_name}}}, source, notification_url)
        if tags is not None:
            asset = self.set_tags(asset, tags, source=source, notification_url=notification_url)
        if context:
            asset = self.set_context(asset, {**asset.context, **context}, source=source,
                                     notification_url=notification_url)
        return asset

    def set_tags(self, asset: Asset, tags: list[str], *, source: str = "api",
                 notification_url: str | None = None) -> Asset:
        """Cloudinary keeps an asset's tags unique and in name order."""
        tags = sorted({t for t in tags if t})
        added = [t for t in tags if t not in asset.tags]
        removed = [t for t in asset.tags if t not in tags]
        if not added and not removed:
            return asset
        asset = self.store.update(asset, tags=tags)
        self._emit("resource_tags_changed", {"source": source, "resources": [{
            "asset_id": asset.asset_id, "public_id": asset.public_id, "resource_type": asset.resource_type,
            "type": asset.type, "added": added, "removed": removed, "updated": []}]}, source, notification_url)
        return asset

    def set_context(self, asset: Asset, context: dict[str, str], *, source: str = "api",
                    notification_url: str | None = None) -> Asset:
        """Replace the asset's contextual metadata; a `resource_context_changed` notification says
        what was added, removed and updated."""
        change = contexts.changes(asset.context, context)
        if not any(change.values()):
            return asset
        asset = self.store.update(asset, context=dict(context))
        self._emit("resource_context_changed", {"source": source, "resources": {asset.public_id: {
            "asset_id": asset.asset_id, "public_id": asset.public_id, "resource_type": asset.resource_type,
            "type": asset.type, **change}}}, source, notification_url)
        return asset

    def move_folder(self, from_path: str, to_path: str, *, source: str = "api") -> int:
        """Rename an asset folder (dynamic mode): every asset in it follows; one folder notification."""
        from_path, to_path = from_path.strip("/"), to_path.strip("/")
        if self.emulator.settings.folder_mode == "fixed":
            raise CloudinaryError(400, "Renaming folders is not supported in fixed folder mode")
        with self.store.tx() as db:
            moved = db.execute("UPDATE assets SET asset_folder = ? || substr(asset_folder, ?) "
                               "WHERE asset_folder = ? OR asset_folder LIKE ? ESCAPE '\\'",
                               (to_path, len(from_path) + 1, from_path,
                                from_path.replace("%", "\\%").replace("_", "\\_") + "/%")).rowcount
        self._emit("move_or_rename_asset_folder", {"from_path": from_path, "to_path": to_path}, source)
        return moved
