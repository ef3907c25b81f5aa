"""The shapes of Cloudinary's notification bodies as typed models, with limits.

A notification is signed, but a signature proves who sent the bytes, not that they are sane: a
body nested 10,000 deep, a `display_name` that is an object, a `format` that is a list or 100,000
tags would otherwise reach the database (or blow the parser's stack). So before anything is
stored, a body must be:
- at most `MAX_DEPTH` arrays/objects deep (checked on the raw bytes, before `json.loads` recurses);
- of the documented types, field by field (strict: no "5" for 5, no list for a string) — a wrong
  type is malformed (400), never coerced into text;
- within counts: `MAX_RESOURCES` resources per notification, `MAX_TAGS_PER_ASSET` tags added or
  removed per asset (Cloudinary allows 1000 tags on an asset, each up to 255 characters) and
  `MAX_TAG_CHANGES` in all;
- naming only safe public ids and folders (`mediasync.public_ids`).
Only the fields mediasync reads are typed; others are kept in the stored body as they came.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from mediasync.public_ids import folder_problem, public_id_problem
from mediasync.services.notifications.signature import RejectedNotification

MAX_DEPTH = 32  # Cloudinary's bodies are about 4 deep
MAX_RESOURCES = 1000  # a bulk operation's notification lists at most this many assets
MAX_TAGS_PER_ASSET = 1000  # Cloudinary: "Each asset can be assigned up to 1000 tags"
MAX_TAG_LENGTH = 255  # Cloudinary: "A tag is a short name (up to 255 characters)"
MAX_TAG_CHANGES = 10_000  # tags added + removed over every asset of one notification
MAX_TEXT = 1024  # display names, file names, etags, request ids
MAX_CONTEXT_CHARS = 1024  # Cloudinary: one contextual metadata key-value pair is at most 1024 characters
MAX_CONTEXT_KEYS = 1000  # keys of contextual metadata one notification may name per asset


def _public_id(value: str) -> str:
    if problem := public_id_problem(value):
        raise ValueError(f"public_id {problem}")
    return value


def _folder(value: str) -> str:
    value = value.strip("/")
    if problem := folder_problem(value):
        raise ValueError(f"folder {problem}")
    return value


PublicId = Annotated[str, AfterValidator(_public_id)]
Folder = Annotated[str, AfterValidator(_folder)]
Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z_]{0,31}$")]  # resource type, delivery type
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT)]
Tag = Annotated[str, StringConstraints(max_length=MAX_TAG_LENGTH)]
Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS_PER_ASSET)]
Moment = str | int | float  # ISO 8601 text or unix seconds


class _Model(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class TriggeredBy(_Model):
    source: Annotated[str, StringConstraints(max_length=64)] | None = None
    id: Text | None = None


class Context(_Model):
    triggered_at: Moment | None = None
    triggered_by: TriggeredBy | None = None


class Envelope(_Model):
    """What every notification has, whatever its type."""

    notification_type: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z_]{0,63}$")]
    notification_context: Context | None = None
    timestamp: Moment | None = None
    request_id: Text | int | None = None
    source: Annotated[str, StringConstraints(max_length=64)] | None = None


class Resource(_Model):
    """One asset of a `delete`, `move`, `resource_display_name_changed` or `resource_tags_changed`."""

    public_id: PublicId | None = None
    resource_type: Name | None = None  # absent: image
    type: Name | None = None  # absent: upload
    asset_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,128}$")] | None = None
    asset_folder: Folder | None = None
    from_asset_folder: Folder | None = None
    to_asset_folder: Folder | None = None
    new_display_name: Text | None = None
    added: Tags | None = None
    removed: Tags | None = None


class ResourceList(_Model):
    """`resources` as a list (delete, resource_tags_changed)."""

    resources: Annotated[list[Resource], Field(max_length=MAX_RESOURCES)]


class ResourcesByPublicId(_Model):
    """`resources` as an object keyed by public_id (move, resource_display_name_changed)."""

    resources: Annotated[dict[PublicId, Resource], Field(max_length=MAX_RESOURCES)]


class Rename(Resource):
    from_public_id: PublicId
    to_public_id: PublicId
    to_type: Name | None = None
    display_name: Text | None = None


class FolderRename(_Model):
    from_path: Folder
    to_path: Folder


class ContextPair(_Model):
    """One key of a `resource_context_changed`: its name and (added or updated) value."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=MAX_CONTEXT_CHARS)]
    value: Annotated[str, StringConstraints(max_length=MAX_CONTEXT_CHARS)] | None = None


ContextPairs = Annotated[list[ContextPair], Field(max_length=MAX_CONTEXT_KEYS)]


class ContextResource(_Model):
    """One asset of a `resource_context_changed`: the keys added, updated and removed."""

    public_id: PublicId | None = None
    resource_type: Name | None = None
    type: Name | None = None
    asset_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,128}$")] | None = None
    asset_folder: Folder | None = None
    added: ContextPairs | None = None
    updated: ContextPairs | None = None
    removed: ContextPairs | None = None


class ContextResourceList(_Model):
    resources: Annotated[list[ContextResource], Field(max_length=MAX_RESOURCES)]


class ContextResourcesByPublicId(_Model):
    resources: Annotated[dict[PublicId, ContextResource], Field(max_length=MAX_RESOURCES)]


class UploadContext(_Model):
    """An upload's contextual metadata as Cloudinary answers it: `{"custom": {key: value}}`."""

    custom: Annotated[dict[Annotated[str, StringConstraints(max_length=MAX_CONTEXT_CHARS)],
                           Annotated[str, StringConstraints(max_length=MAX_CONTEXT_CHARS)]],
                      Field(max_length=MAX_CONTEXT_KEYS)] | None = None


class Upload(Resource):
    public_id: PublicId
    version: Annotated[int, Field(ge=0)]
    format: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{0,16}$")] | None = None
    bytes: Annotated[int, Field(ge=0)] | None = None
    width: Annotated[int, Field(ge=0)] | None = None
    height: Annotated[int, Field(ge=0)] | None = None
    etag: Text | None = None
    secure_url: Annotated[str, StringConstraints(pattern=r"^https?://", max_length=2048)] | None = None
    original_filename: Text | None = None
    display_name: Text | None = None
    placeholder: bool | None = None  # Cloudinary's backup placeholder of a deleted asset: no live asset
    context: UploadContext | None = None


def malformed(why: str) -> RejectedNotification:
    return RejectedNotification(f"malformed notification body: {why}", 400)


_STRING_OR_BRACKET = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def check_depth(raw: bytes, limit: int = MAX_DEPTH) -> None:
    """Refuse a body nested deeper than `limit` before a recursive parser sees it (strings are
    skipped, so brackets inside them do not count)."""
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(raw):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > limit:
                raise malformed(f"nested deeper than {limit} levels")
        elif token in (b"]", b"}"):
            depth -= 1


M = TypeVar("M", bound=BaseModel)


def validated(model: type[M], data: Any) -> M:
    """`data` as `model`, or `RejectedNotification` naming the first few fields that are wrong
    (never echoing their values)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        parts: list[str] = []
        for error in exc.errors():
            # a union's branches appear in the location as `list[Resource]`, `function-after[...]`: not field names
            where = ".".join(str(p) for p in error.get("loc", ()) if not ("[" in str(p) or "(" in str(p)))
            part = f"{where or 'body'}: {str(error.get('msg', 'invalid')).removeprefix('Value error, ')}"
            if part not in parts:
                parts.append(part)
        raise malformed("; ".join(parts[:3])) from None


def tag_changes(resources: list[Resource]) -> int:
    return sum(len(r.added or ()) + len(r.removed or ()) for r in resources)
