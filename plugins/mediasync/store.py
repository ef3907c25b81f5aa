"""The asset-store interface the services depend on.

`CloudinaryHook` implements it against Cloudinary (or the local emulator); the queue engine and
the services only see this protocol, so they are tested against real SQL without caring which
store sits behind it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Literal, Protocol

DeleteOutcome = Literal["deleted", "not_found"]
RESOURCE_TYPES: tuple[str, ...] = ("image", "video", "raw")


@dataclass(frozen=True)
class UploadedAsset:
    """The fields of Cloudinary's upload response that `media_files` keeps."""

    public_id: str
    resource_type: str
    type: str
    format: str | None
    bytes: int
    width: int | None
    height: int | None
    version: int
    etag: str | None
    secure_url: str
    original_filename: str | None
    folder: str | None
    created_at: datetime | None = None


@dataclass(frozen=True)
class ListedAsset:
    """One asset of an Admin API listing."""

    public_id: str
    resource_type: str
    type: str
    format: str | None
    bytes: int
    version: int
    etag: str | None
    secure_url: str | None
    created_at: datetime | None
    width: int | None = None
    height: int | None = None


@dataclass
class ListingPage:
    """One page of a listing plus the cursor of the next page (None when it was the last), and
    the Admin API allowance the answer reported (None where it did not say)."""

    assets: list[ListedAsset]
    next_cursor: str | None
    rate_limit_remaining: int | None = None
    rate_limit_reset_at: datetime | None = None


class AssetDeleter(Protocol):
    """What the cleanup queue needs: delete many assets of one resource type / delivery type."""

    def delete_many(
        self, public_ids: Sequence[str], resource_type: str = "image", type: str = "upload"
    ) -> dict[str, DeleteOutcome]:
        """Delete the ids; `not_found` counts as success. Raises `StoreError` subclasses."""
        ...


class AssetStore(AssetDeleter, Protocol):
    """The full store interface used by the media library and the reconciler."""

    def upload(
        self,
        file: BinaryIO | bytes,
        *,
        upload_preset: str | None = None,
        folder: str | None = None,
        resource_type: str = "auto",
        filename: str | None = None,
        tags: Sequence[str] = (),
    ) -> UploadedAsset: ...

    def destroy(self, public_id: str, resource_type: str = "image", type: str = "upload") -> DeleteOutcome: ...

    def iter_pages(
        self,
        resource_type: str = "image",
        type: str = "upload",
        prefix: str | None = None,
        cursor: str | None = None,
    ) -> Iterator[ListingPage]:
        """Pages of the full listing (500 assets each), resumable from `cursor`."""
        ...

    def iter_resources(
        self,
        resource_type: str = "image",
        type: str = "upload",
        prefix: str | None = None,
        cursor: str | None = None,
    ) -> Iterator[ListedAsset]: ...
