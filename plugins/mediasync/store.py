"""The asset store the services depend on, and Cloudinary's limits, declared once.

`CloudinaryClient` implements `AssetStore` against Cloudinary (or the local emulator); the queue
engine and the services only see these protocols, so they are tested against real SQL without
caring which store sits behind them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from typing import Any, BinaryIO, Literal, NamedTuple, Protocol, runtime_checkable

DeleteOutcome = Literal["deleted", "not_found"]
RESOURCE_TYPES: tuple[str, ...] = ("image", "video", "raw")
DELIVERY_TYPE = "upload"

# Cloudinary's Admin API limits (documented; the emulator enforces the same numbers).
MAX_IDS_PER_ADMIN_DELETE = 100   # public ids per delete_resources call
MAX_LISTING_PAGE = 500           # resources per listing page (max_results)
MAX_NOTIFICATION_ACKS = 100      # receipt handles per ack_notifications call
MAX_IDS_PER_RESTORE = 100        # public ids / asset ids per restore call


@dataclass(frozen=True)
class StoredAsset:
    """What Cloudinary says about one asset — from an upload response or a listing. The columns
    of `media_files` and of the reconciliation snapshot that hold these facts use these names."""

    public_id: str
    resource_type: str
    type: str
    format: str | None
    bytes: int
    version: int
    etag: str | None
    secure_url: str | None
    width: int | None = None
    height: int | None = None
    created_at: datetime | None = None
    original_filename: str | None = None
    folder: str | None = None
    asset_id: str | None = None  # Cloudinary's immutable id: survives renames and moves
    asset_folder: str | None = None  # the folder in dynamic folder mode (in fixed mode, the public_id prefix)
    display_name: str | None = None
    # Deleted in an account that keeps backups: Cloudinary still lists it (bytes 0), but it is no
    # live asset — never an orphan, never a row's asset; `restore` can bring it back.
    placeholder: bool = False
    context: dict[str, str] | None = field(default=None, hash=False)  # contextual metadata ("custom" context)

    def as_params(self) -> dict[str, Any]:
        """The asset as named query parameters."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


FolderModeAnswer = Literal["fixed", "dynamic"]


@dataclass(frozen=True)
class ListingSource:
    """One listing of the inventory: a resource type, narrowed by a public_id `prefix` (fixed
    folder mode) or by an `asset_folder` and its subfolders (dynamic mode, through the Search API,
    which counts against the Admin API allowance like every listing). Neither: the whole account."""

    resource_type: str
    prefix: str | None = None
    asset_folder: str | None = None
    uploaded_after: datetime | None = None  # incremental: only assets uploaded after this (Search API)
    # One range of a partitioned full listing (Search API): uploaded at or after `uploaded_from`
    # and before `uploaded_before`; None leaves that side open.
    uploaded_from: datetime | None = None
    uploaded_before: datetime | None = None

    @property
    def whole_key(self) -> str:
        """The name of the listing this one is a range of (its own key when it is no range)."""
        if self.asset_folder is not None:
            key = f"{self.resource_type}:asset_folder:{self.asset_folder}"
        else:
            key = f"{self.resource_type}:prefix:{self.prefix or ''}"
        if self.uploaded_after is not None:
            key += f":uploaded_after:{search_instant(self.uploaded_after)}"
        return key

    @property
    def key(self) -> str:
        """Stable name of this listing (its checkpoint's key; a range's carries its bounds)."""
        if not self.is_range:
            return self.whole_key
        low = search_instant(self.uploaded_from) if self.uploaded_from else ""
        high = search_instant(self.uploaded_before) if self.uploaded_before else ""
        return f"{self.whole_key}@{low}..{high}"

    @property
    def is_range(self) -> bool:
        return self.uploaded_from is not None or self.uploaded_before is not None

    @property
    def searched(self) -> bool:
        """Listed through the Search API (an asset folder, an incremental window or a range), else
        through the Admin API's prefix listing."""
        return self.asset_folder is not None or self.uploaded_after is not None or self.is_range

    @property
    def folder(self) -> str | None:
        """The folder this listing covers (fixed mode: its public_id prefix), None for the whole account."""
        if self.asset_folder is not None:
            return self.asset_folder
        return self.prefix.rstrip("/") if self.prefix else None


def search_instant(moment: datetime) -> str:
    """A moment as the Search API reads it in a date comparison: UTC, whole seconds, `Z` (Cloudinary's
    expression parser rejects a `+00:00` offset)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ListedFacts(NamedTuple):
    """One asset as a listing names it: the facts the reconciliation snapshot keeps, in the order
    of its columns (which take these names). A tuple rather than a `StoredAsset`: a full listing
    builds one per asset, a million for a large library, and a frozen dataclass costs three times
    as much to build (its `__init__` sets each of its 18 fields through `object.__setattr__`)."""

    public_id: str
    resource_type: str
    type: str
    format: str | None
    bytes: int
    version: int
    etag: str | None
    secure_url: str | None
    width: int | None
    height: int | None
    created_at: datetime | None
    asset_id: str | None  # Cloudinary's immutable id: survives renames and moves
    asset_folder: str | None  # the folder in dynamic folder mode (in fixed mode, the public_id prefix)
    display_name: str | None
    placeholder: bool  # deleted in an account that keeps backups: listed (bytes 0), not live


@dataclass
class ListingPage:
    """One page of a listing plus the cursor of the next page (None when it was the last), and
    the Admin API allowance the answer reported (None where it did not say)."""

    assets: list[ListedFacts]
    next_cursor: str | None
    rate_limit_remaining: int | None = None
    rate_limit_reset_at: datetime | None = None


@dataclass(frozen=True)
class AdminAllowance:
    """The Admin API allowance the last Admin answer reported (`X-FeatureRateLimit-*` headers):
    calls left in this hour's window and when the window resets."""

    remaining: int | None
    reset_at: datetime | None
    limit: int | None = None
    seen_at: datetime | None = None


class AssetDeleter(Protocol):
    """What the cleanup queue needs: delete many assets of one resource type / delivery type."""

    def delete_many(self, public_ids: Sequence[str], resource_type: str = "image",
                    type: str = DELIVERY_TYPE) -> dict[str, DeleteOutcome]:
        """Delete the ids (Admin API, rate-limited); `not_found` counts as success. Raises `StoreError`s."""
        ...


@runtime_checkable
class AssetDestroyer(Protocol):
    """A deleter that can also delete one asset through the Upload API (`destroy`, not rate-limited),
    and says how much of the Admin API allowance is left: the cleanup queue switches between the two."""

    def destroy(self, public_id: str, resource_type: str = "image", type: str = DELIVERY_TYPE) -> DeleteOutcome: ...

    @property
    def admin_allowance(self) -> AdminAllowance | None: ...


@runtime_checkable
class AllowanceKeeper(Protocol):
    """A store that can start from an Admin allowance another process saw (mediasync keeps the last
    figure in the database), so its first Admin call need not go alone to learn it."""

    @property
    def account(self) -> str: ...  # the cloud the allowance belongs to

    @property
    def admin_allowance(self) -> AdminAllowance | None: ...

    def assume_allowance(self, allowance: AdminAllowance) -> None:
        """Take `allowance` as the last figure, unless an answer to this process already said one."""
        ...


@dataclass(frozen=True)
class RestoreOutcome:
    """What Cloudinary answered for one id of a restore: `restored`, or why not (`message`, e.g.
    Cloudinary's `no_backup`); the restored asset's facts when it gave them."""

    restored: bool
    message: str | None = None
    public_id: str | None = None
    asset_id: str | None = None
    resource_type: str | None = None
    type: str | None = None
    bytes: int | None = None
    version: int | None = None
    format: str | None = None
    etag: str | None = None
    secure_url: str | None = None


@runtime_checkable
class AssetRestorer(Protocol):
    """Brings deleted assets back from Cloudinary's backups (Admin API `restore`, rate-limited,
    MAX_IDS_PER_RESTORE ids a call; longer inputs take several calls). Ids Cloudinary cannot restore
    (no backup, unknown) come back `restored=False` with its message; a failed call raises a
    `StoreError` (`StoreRateLimited` for the rate limit) — restoring twice is harmless, so a caller
    retries the whole input."""

    def restore(self, public_ids: Sequence[str], resource_type: str = "image",
                type: str = DELIVERY_TYPE) -> dict[str, RestoreOutcome]:
        """By public_id (one resource type and delivery type), keyed by public_id."""
        ...

    def restore_by_asset_ids(self, asset_ids: Sequence[str]) -> dict[str, RestoreOutcome]:
        """By asset_id (any resource type, delivery type, folder or name), keyed by asset_id."""
        ...


class AssetStore(AssetDeleter, Protocol):
    """The full store interface used by the media library and the reconciler."""

    def upload(self, file: BinaryIO | bytes, *, upload_preset: str | None = None, folder: str | None = None,
               resource_type: str = "auto", filename: str | None = None, tags: Sequence[str] = (),
               context: Mapping[str, str] | None = None, chunk_size: int | None = None) -> StoredAsset:
        """Upload one file, streamed; with `chunk_size`, as a chunked upload in parts of that size."""
        ...

    def destroy(self, public_id: str, resource_type: str = "image", type: str = DELIVERY_TYPE) -> DeleteOutcome: ...

    def iter_pages(self, resource_type: str = "image", type: str = DELIVERY_TYPE, prefix: str | None = None,
                   cursor: str | None = None) -> Iterator[ListingPage]:
        """Pages of the full listing (MAX_LISTING_PAGE assets each), resumable from `cursor`."""
        ...

    def iter_resources(self, resource_type: str = "image", type: str = DELIVERY_TYPE, prefix: str | None = None,
                       cursor: str | None = None) -> Iterator[ListedFacts]: ...

    def iter_source_pages(self, source: ListingSource, cursor: str | None = None) -> Iterator[ListingPage]:
        """Pages (MAX_LISTING_PAGE assets each) of one listing source, resumable from `cursor`."""
        ...

    def folder_mode(self) -> FolderModeAnswer | None:
        """The account's folder mode as Cloudinary answers it; None when it cannot tell (an empty
        account answers nothing either way)."""
        ...

    def ping(self) -> None:
        """One cheap authenticated call; raises a store error when the store cannot be used."""
        ...
