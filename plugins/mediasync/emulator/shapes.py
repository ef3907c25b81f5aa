"""The JSON Cloudinary answers with, built from a stored asset: upload responses, Admin API
resource details and listing entries, Search API entries. One place, so every route agrees."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mediasync.emulator.context import shown as shown_context
from mediasync.emulator.signing import response_signature
from mediasync.emulator.state import Asset

if TYPE_CHECKING:
    from mediasync.emulator.runtime import Emulator


def delivery_url(emulator: Emulator, base_url: str, asset: Asset) -> str:
    return delivery_base(emulator, base_url) + delivery_path(asset)


def delivery_base(emulator: Emulator, base_url: str) -> str:
    """What every delivery URL of the account starts with."""
    return f"{(emulator.settings.public_url or base_url).rstrip('/')}/{emulator.credentials.cloud_name}/"


def delivery_path(asset: Asset) -> str:
    suffix = f".{asset.format}" if asset.format and asset.resource_type != "raw" else ""
    return f"{asset.resource_type}/{asset.type}/v{asset.version}/{asset.public_id}{suffix}"


def display_name(asset: Asset) -> str:
    return asset.display_name or asset.public_id.rsplit("/", 1)[-1]


def resource(emulator: Emulator, base_url: str, asset: Asset, *, detail: bool = False) -> dict[str, Any]:
    """Admin API resource: listing entries carry no etag or tags; `resource` details do. Fixed-mode
    accounts also name the `folder` (the public_id's path); both modes carry `asset_folder`. A
    placeholder (deleted, backed up) says so, with `bytes` 0, in details and listings alike."""
    url = delivery_url(emulator, base_url, asset)
    body: dict[str, Any] = {"asset_id": asset.asset_id, "public_id": asset.public_id, "format": asset.format,
                            "version": asset.version, "resource_type": asset.resource_type, "type": asset.type,
                            "created_at": asset.created_at, "bytes": asset.bytes, "width": asset.width,
                            "height": asset.height}
    if emulator.settings.folder_mode == "fixed":
        body["folder"] = asset.public_id.rpartition("/")[0]
    body.update({"asset_folder": asset.asset_folder, "display_name": display_name(asset), "url": url,
                 "secure_url": url})
    if asset.format is None:
        del body["format"]
    if asset.width is None:
        del body["width"], body["height"]
    if detail:
        if asset.tags:  # an asset without tags has no `tags` key (pycloudinary's test_remove_all_tags)
            body["tags"] = asset.tags
        body.update({"pages": asset.pages, "etag": asset.etag, "placeholder": asset.placeholder,
                     "version_id": asset.version_id, **shown_context(asset.context),
                     "derived": []})  # eager/derived transformations are not made here
        if asset.original_filename is not None:
            body["original_filename"] = asset.original_filename
    elif asset.placeholder:
        body["placeholder"] = True
    return body


def requested_fields(value: Any) -> frozenset[str]:
    """The field names of a `fields` parameter: a list (as the SDKs send it in a JSON body) or one
    comma-separated string (a query parameter)."""
    names = value if isinstance(value, list) else str(value or "").split(",")
    return frozenset(n.strip() for n in map(str, names) if n.strip())


@dataclass(frozen=True)
class ListingOptions:
    """What a listing call asks each entry to carry: `tags`, `context`, `metadata` (true/false),
    or exactly `fields` (Cloudinary's selective response: public_id, asset_id, the fixed-mode
    folder, and the fields named)."""

    tags: bool = False
    context: bool = False
    metadata: bool = False
    fields: frozenset[str] = field(default_factory=frozenset)


def listed(emulator: Emulator, base_url: str, asset: Asset, options: ListingOptions) -> dict[str, Any]:
    body = resource(emulator, base_url, asset)
    if options.fields:
        full = {**resource(emulator, base_url, asset, detail=True), "metadata": {}}
        keep = {"public_id", "asset_id", "folder", *options.fields}
        return {k: v for k, v in full.items() if k in keep}
    if options.tags:
        body["tags"] = asset.tags
    if options.context:
        body.update(shown_context(asset.context))
    if options.metadata:
        body["metadata"] = {}  # structured metadata is not emulated: no asset has any
    return body


def upload_response(emulator: Emulator, base_url: str, asset: Asset, *, overwritten: bool = False,
                    existing: bool = False) -> dict[str, Any]:
    """Every field Cloudinary's upload answer carries for this request, in its order."""
    url = delivery_url(emulator, base_url, asset)
    body: dict[str, Any] = {
        "asset_id": asset.asset_id, "public_id": asset.public_id, "version": asset.version,
        "version_id": asset.version_id,
        "signature": response_signature(asset.public_id, asset.version, emulator.credentials.api_secret),
        "width": asset.width, "height": asset.height, "format": asset.format,
        "resource_type": asset.resource_type, "created_at": asset.created_at, "tags": asset.tags,
        "pages": asset.pages, "bytes": asset.bytes, "type": asset.type, "etag": asset.etag, "placeholder": False,
        "url": url, "secure_url": url, "asset_folder": asset.asset_folder, "display_name": display_name(asset),
    }
    if asset.width is None:
        del body["width"], body["height"]
    if asset.format is None:
        del body["format"]
    if asset.resource_type != "image":
        del body["pages"]
    body.update(shown_context(asset.context))
    if existing:
        body["existing"] = True
    if overwritten:
        body["overwritten"] = True
    if asset.original_filename is not None:
        body["original_filename"] = asset.original_filename
    body["api_key"] = emulator.credentials.api_key
    return body


# What a Search API entry always carries when the call names its `fields` (Cloudinary's Search
# reference: "The following fields are always included in the response").
ALWAYS_SEARCHED = frozenset({"public_id", "asset_id", "asset_folder", "created_at", "status", "type",
                             "resource_type"})


def search_entries(emulator: Emulator, base_url: str, assets: list[Asset], with_fields: frozenset[str],
                   fields: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """A Search API page's entries. A full listing asks for a million, so what every entry of the
    page shares (the delivery URL's base, the folder mode, the fields asked for) is settled once.
    `fields`, when named, takes precedence over `with_field`: each entry then carries exactly the
    fields always included and those named (and a placeholder stays marked as one)."""
    base = delivery_base(emulator, base_url)
    fixed = emulator.settings.folder_mode == "fixed"
    with_tags = "tags" in (fields or with_fields)
    entries = [_search_entry(asset, base + delivery_path(asset), fixed, with_tags) for asset in assets]
    if not fields:
        return entries
    keep = ALWAYS_SEARCHED | fields | {"placeholder"}
    return [{k: v for k, v in entry.items() if k in keep} for entry in entries]


def _search_entry(asset: Asset, url: str, fixed: bool, with_tags: bool) -> dict[str, Any]:
    """One entry; a field the asset has no value for (a raw file's format, dimensions) is left out."""
    width, height = asset.width, asset.height
    aspect_ratio, pixels = (round(width / height, 5), width * height) if width and height else (None, None)
    body: dict[str, Any] = {
        "asset_id": asset.asset_id, "public_id": asset.public_id, "asset_folder": asset.asset_folder,
        "filename": asset.public_id.rsplit("/", 1)[-1], "display_name": display_name(asset),
        "format": asset.format, "version": asset.version, "resource_type": asset.resource_type,
        "type": asset.type, "created_at": asset.created_at, "uploaded_at": asset.created_at, "bytes": asset.bytes,
        "backup_bytes": 0, "width": width, "height": height,
        "aspect_ratio": aspect_ratio, "pixels": pixels,
        "url": url, "secure_url": url, "status": "active", "access_mode": "public", "etag": asset.etag,
    }
    if fixed:
        body["folder"] = asset.public_id.rpartition("/")[0]
    if with_tags:
        body["tags"] = asset.tags
    if asset.placeholder:
        body["placeholder"] = True
    if pixels is not None and asset.format is not None:
        return body
    return {k: v for k, v in body.items() if v is not None}
