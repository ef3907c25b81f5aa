"""Cloudinary notification bodies, read into typed changes (shapes as Cloudinary documents them).

One body may carry several changes (a bulk `delete` lists every resource; `move` and
`resource_display_name_changed` key theirs by public_id). Types mediasync does not act on parse
to no changes: they are stored and ignored. A body that is not a JSON object with a
`notification_type`, or whose resources lack their identity, is malformed (400).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from mediasync.services.notifications.signature import RejectedNotification


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


def _malformed(why: str) -> RejectedNotification:
    return RejectedNotification(f"malformed notification body: {why}", 400)


def _time(value: Any) -> datetime | None:
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _ref(item: Mapping[str, Any], public_id: str | None = None, folder_key: str = "asset_folder") -> AssetRef:
    pid = item.get("public_id") or public_id
    if not isinstance(pid, str) or not pid:
        raise _malformed("a resource has no public_id")
    asset_id = item.get("asset_id")
    folder = item.get(folder_key)
    return AssetRef(pid, str(item.get("resource_type") or "image"), str(item.get("type") or "upload"),
                    str(asset_id) if asset_id else None, str(folder) if isinstance(folder, str) else None)


def _resources(body: Mapping[str, Any]) -> Iterator[tuple[str | None, Mapping[str, Any]]]:
    """`resources` as a list of objects, or an object keyed by public_id."""
    resources = body.get("resources")
    if isinstance(resources, list):
        for item in resources:
            if not isinstance(item, Mapping):
                raise _malformed("resources must hold objects")
            yield None, item
    elif isinstance(resources, Mapping):
        for public_id, item in resources.items():
            if not isinstance(item, Mapping):
                raise _malformed("resources must hold objects")
            yield str(public_id), item
    else:
        raise _malformed(f"{body.get('notification_type')} without resources")


def _tags(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise _malformed("tag lists must be lists of strings")
    return tuple(t for t in value if t)


UPLOAD_COLUMNS = ("format", "bytes", "width", "height", "version", "etag", "secure_url", "original_filename",
                  "display_name")


def _pairs(value: Any, what: str) -> dict[str, str]:
    """A context change's `[{"name", "value"}]` list as a dict."""
    if value is None:
        return {}
    if not isinstance(value, list) or not all(isinstance(p, Mapping) and isinstance(p.get("name"), str)
                                              for p in value):
        raise _malformed(f"context {what} must be a list of name/value objects")
    return {p["name"]: "" if p.get("value") is None else str(p["value"]) for p in value}


def _context(body: Mapping[str, Any]) -> dict[str, str] | None:
    """An upload's `context` (`{"custom": {...}}`) as the row stores it."""
    custom = (body.get("context") or {}).get("custom") if isinstance(body.get("context"), Mapping) else None
    return {str(k): str(v) for k, v in custom.items()} if isinstance(custom, Mapping) else None


def _changes(kind: str, body: Mapping[str, Any]) -> list[Change]:
    if kind in DELETE_TYPES:
        return [Deleted(_ref(item, pid)) for pid, item in _resources(body)]
    if kind == "rename":
        if not isinstance(body.get("from_public_id"), str) or not isinstance(body.get("to_public_id"), str):
            raise _malformed("rename without from_public_id/to_public_id")
        ref = _ref(body, body["from_public_id"])
        ref = AssetRef(body["from_public_id"], ref.resource_type, ref.type, ref.asset_id, None)
        return [Renamed(ref, body["to_public_id"], str(body.get("to_type") or ref.type),
                        body.get("asset_folder"), body.get("display_name"))]
    if kind == "move":
        return [Moved(_ref(item, pid, "from_asset_folder"), item.get("from_asset_folder"),
                      str(item.get("to_asset_folder") or "").strip("/")) for pid, item in _resources(body)]
    if kind == "move_or_rename_asset_folder":
        if not isinstance(body.get("from_path"), str) or not isinstance(body.get("to_path"), str):
            raise _malformed("move_or_rename_asset_folder without from_path/to_path")
        return [FolderRenamed(body["from_path"].strip("/"), body["to_path"].strip("/"))]
    if kind == "resource_display_name_changed":
        return [DisplayNameChanged(_ref(item, pid), item.get("new_display_name")) for pid, item in _resources(body)]
    if kind == "resource_tags_changed":
        return [TagsChanged(_ref(item, pid), _tags(item.get("added")), _tags(item.get("removed")))
                for pid, item in _resources(body)]
    if kind == "resource_context_changed":
        return [ContextChanged(_ref(item, pid), {**_pairs(item.get("added"), "added"),
                                                 **_pairs(item.get("updated"), "updated")},
                               tuple(_pairs(item.get("removed"), "removed"))) for pid, item in _resources(body)]
    if kind == "upload":
        ref = _ref(body)
        fields: dict[str, Any] = {c: body.get(c) for c in UPLOAD_COLUMNS}
        fields["context"] = _context(body)
        if not isinstance(fields["version"], int):
            raise _malformed("upload without a version")
        return [Uploaded(ref, fields)]
    return []


def parse(raw: bytes, signed_at: datetime) -> Notification:
    """The notification in `raw` (the exact signed bytes); raises `RejectedNotification` (400)."""
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise _malformed("not JSON (truncated?)") from None
    if not isinstance(body, dict) or not isinstance(body.get("notification_type"), str):
        raise _malformed("no notification_type")
    kind = body["notification_type"]
    context: dict[str, Any] = body.get("notification_context") or {}
    context = context if isinstance(context, dict) else {}
    by: dict[str, Any] = context.get("triggered_by") or {}
    by = by if isinstance(by, dict) else {}
    event_at = _time(context.get("triggered_at")) or _time(body.get("timestamp")) or signed_at
    request_id = body.get("request_id")
    return Notification(kind, event_at, by.get("source") or body.get("source"), by.get("id"),
                        str(request_id) if request_id else None, body, _changes(kind, body))
