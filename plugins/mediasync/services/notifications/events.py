"""Cloudinary notification bodies, read into typed changes (shapes as Cloudinary documents them).

One body may carry several changes (a bulk `delete` lists every resource; `move` and
`resource_display_name_changed` key theirs by public_id). Types mediasync does not act on parse
to no changes: they are stored and ignored. A body that is not a JSON object with a
`notification_type`, whose fields have other types than Cloudinary's, that is nested too deep or
lists too much (`models.py`), or whose resources lack their identity, is malformed (400).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from mediasync.services.notifications.models import (
    MAX_TAG_CHANGES,
    ContextResource,
    ContextResourceList,
    ContextResourcesByPublicId,
    Envelope,
    FolderRename,
    Rename,
    Resource,
    ResourceList,
    ResourcesByPublicId,
    Upload,
    check_depth,
    malformed,
    tag_changes,
    validated,
)


@dataclass(frozen=True)
class AssetRef:
    """Which asset a change is about."""

    public_id: str
    resource_type: str = "image"
    type: str = "upload"
    asset_id: str | None = None
    asset_folder: str | None = None

    @property
    def key(self) -> str:
        """The asset's identity for order-safety clocks: asset_id survives renames and moves."""
        return self.asset_id or f"{self.resource_type}/{self.type}/{self.public_id}"


@dataclass(frozen=True)
class Deleted:
    ref: AssetRef


@dataclass(frozen=True)
class Renamed:
    ref: AssetRef  # where it was
    to_public_id: str
    to_type: str
    asset_folder: str | None
    display_name: str | None


@dataclass(frozen=True)
class Moved:
    ref: AssetRef
    from_asset_folder: str | None
    to_asset_folder: str


@dataclass(frozen=True)
class FolderRenamed:
    from_path: str
    to_path: str


@dataclass(frozen=True)
class DisplayNameChanged:
    ref: AssetRef
    display_name: str | None


@dataclass(frozen=True)
class TagsChanged:
    ref: AssetRef
    added: tuple[str, ...]
    removed: tuple[str, ...]


@dataclass(frozen=True)
class ContextChanged:
    ref: AssetRef
    set: dict[str, str]  # keys added or updated, with their new values
    removed: tuple[str, ...]


@dataclass(frozen=True)
class Uploaded:
    ref: AssetRef
    fields: dict[str, Any]  # the media_files columns the upload response gives
    placeholder: bool = False  # Cloudinary says the asset is a placeholder: no live asset to follow


Change = Deleted | Renamed | Moved | FolderRenamed | DisplayNameChanged | TagsChanged | ContextChanged | Uploaded
DELETE_TYPES = ("delete", "delete_by_token")
ACTED_ON = (*DELETE_TYPES, "rename", "move", "move_or_rename_asset_folder", "resource_display_name_changed",
            "resource_tags_changed", "resource_context_changed", "upload")


@dataclass(frozen=True)
class Notification:
    notification_type: str
    event_at: datetime
    source: str | None  # notification_context.triggered_by.source: "api", "ui", ...
    actor: str | None   # triggered_by.id: the API key (source api) or the console user
    request_id: str | None
    body: dict[str, Any]
    changes: list[Change] = field(default_factory=list)

    @property
    def asset_ids(self) -> list[str]:
        return list(dict.fromkeys(c.ref.asset_id for c in self.changes if not isinstance(c, FolderRenamed)
                                  and c.ref.asset_id))

    @property
    def public_ids(self) -> list[str]:
        return list(dict.fromkeys(c.ref.public_id for c in self.changes if not isinstance(c, FolderRenamed)))


def _time(value: Any) -> datetime | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _ref(item: Resource | ContextResource, public_id: str | None = None, folder: str | None = None) -> AssetRef:
    pid = item.public_id or public_id
    if not pid:
        raise malformed("a resource has no public_id")
    return AssetRef(pid, item.resource_type or "image", item.type or "upload", item.asset_id, folder)


def _resources(body: dict[str, Any]) -> list[tuple[str | None, Resource]]:
    """`resources` as a list of objects, or an object keyed by public_id."""
    resources = body.get("resources")
    listed: list[tuple[str | None, Resource]]
    if isinstance(resources, dict):
        listed = list(validated(ResourcesByPublicId, body).resources.items())
    elif isinstance(resources, list):
        listed = [(None, r) for r in validated(ResourceList, body).resources]
    else:
        raise malformed(f"{body.get('notification_type')} without resources")
    if tag_changes([r for _, r in listed]) > MAX_TAG_CHANGES:
        raise malformed(f"more than {MAX_TAG_CHANGES} tag changes in one notification")
    return listed


def _context_resources(body: dict[str, Any]) -> list[tuple[str | None, ContextResource]]:
    """A `resource_context_changed` body's resources (keyed by public_id, or a list)."""
    resources = body.get("resources")
    if isinstance(resources, dict):
        return list(validated(ContextResourcesByPublicId, body).resources.items())
    if isinstance(resources, list):
        return [(None, r) for r in validated(ContextResourceList, body).resources]
    raise malformed("resource_context_changed without resources")


UPLOAD_COLUMNS = ("format", "bytes", "width", "height", "version", "etag", "secure_url", "original_filename",
                  "display_name")


def _changes(kind: str, body: dict[str, Any]) -> list[Change]:
    if kind in DELETE_TYPES:
        return [Deleted(_ref(item, pid, item.asset_folder)) for pid, item in _resources(body)]
    if kind == "rename":
        rename = validated(Rename, body)
        ref = AssetRef(rename.from_public_id, rename.resource_type or "image", rename.type or "upload",
                       rename.asset_id, None)
        return [Renamed(ref, rename.to_public_id, rename.to_type or ref.type, rename.asset_folder,
                        rename.display_name)]
    if kind == "move":
        return [Moved(_ref(item, pid, item.from_asset_folder), item.from_asset_folder, item.to_asset_folder or "")
                for pid, item in _resources(body)]
    if kind == "move_or_rename_asset_folder":
        folders = validated(FolderRename, body)
        return [FolderRenamed(folders.from_path, folders.to_path)]
    if kind == "resource_display_name_changed":
        return [DisplayNameChanged(_ref(item, pid, item.asset_folder), item.new_display_name)
                for pid, item in _resources(body)]
    if kind == "resource_tags_changed":
        return [TagsChanged(_ref(item, pid, item.asset_folder), tuple(t for t in item.added or () if t),
                            tuple(t for t in item.removed or () if t)) for pid, item in _resources(body)]
    if kind == "resource_context_changed":
        return [ContextChanged(_ref(item, pid, item.asset_folder),
                               {p.name: p.value or "" for p in (*(item.added or ()), *(item.updated or ()))},
                               tuple(p.name for p in item.removed or ())) for pid, item in _context_resources(body)]
    if kind == "upload":
        upload = validated(Upload, body)
        fields: dict[str, Any] = {c: getattr(upload, c) for c in UPLOAD_COLUMNS}
        fields["context"] = dict(upload.context.custom) if upload.context and upload.context.custom else None
        return [Uploaded(_ref(upload, None, upload.asset_folder), fields, upload.placeholder is True)]
    return []


def parse(raw: bytes, signed_at: datetime) -> Notification:
    """The notification in `raw` (the exact signed bytes); raises `RejectedNotification` (400)."""
    check_depth(raw)
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise malformed("not JSON (truncated?)") from None
    if not isinstance(body, dict) or not isinstance(body.get("notification_type"), str):
        raise malformed("no notification_type")
    envelope = validated(Envelope, body)
    context = envelope.notification_context
    by = context.triggered_by if context else None
    event_at = _time(context.triggered_at if context else None) or _time(envelope.timestamp) or signed_at
    request_id = envelope.request_id
    return Notification(envelope.notification_type, event_at, (by.source if by else None) or envelope.source,
                        by.id if by else None, str(request_id) if request_id else None, body,
                        _changes(envelope.notification_type, body))
