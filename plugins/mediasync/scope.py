"""What mediasync owns in a Cloudinary account: its managed folders, in either folder mode.

A Cloudinary account is usually shared (other apps' folders, console uploads, the root). Every
path that lists, adopts, changes or deletes assets asks `ManagedScope.contains` first; an asset
outside the scope is never an orphan, never queued, never deleted, never adopted. The whole
account is in scope only when an operator explicitly asks (`--scope account`).

Fixed folder mode: an asset's folder is its public_id's path prefix. Dynamic folder mode (every
account created since June 2024): the folder is the asset's `asset_folder`, and the public_id
carries none.

Containment is decided on path segments (`public_ids.within`; for checked paths, the folder itself
or the folder and a '/' as prefix, the same thing), never bare string prefixes, and an asset whose
public_id or folder is not a safe path (`public_ids`: dot segments, control characters, ...) is
in no scope at all — not even the whole account's: mediasync never acts on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property, lru_cache
from typing import Literal

from mediasync.config import FolderMode, Settings
from mediasync.errors import InvalidInput
from mediasync.public_ids import checked_folder, is_valid_folder, is_valid_public_id, within
from mediasync.store import DELIVERY_TYPE, ListingSource

ResolvedFolderMode = Literal["fixed", "dynamic"]
ScopeName = Literal["managed", "account"]
SCOPES: tuple[ScopeName, ...] = ("managed", "account")


def resolve_folder_mode(configured: FolderMode,
                        reported: Callable[[], ResolvedFolderMode | None]) -> ResolvedFolderMode:
    """The one resolution of MEDIASYNC_CLOUDINARY_FOLDER_MODE: fixed or dynamic as configured; for
    `auto`, what Cloudinary `reported` — the account's answer for a listing (`AssetStore.folder_mode`),
    the asset's own fields for a notification (`mode_reported_by_asset`) — and fixed when nothing
    tells (an account with no assets lists the same either way). `reported` is only called for auto."""
    if configured != "auto":
        return configured
    return reported() or "fixed"


def mode_reported_by_asset(asset_folder: str | None) -> ResolvedFolderMode:
    """What one asset says of its account: only a dynamic-folder account reports an asset_folder."""
    return "dynamic" if asset_folder is not None else "fixed"


@lru_cache(maxsize=4096)
def _is_valid_asset_folder(asset_folder: str) -> bool:
    """Whether an asset's asset_folder (slashes at its ends aside) is a safe path. A listing's
    million assets share a few folders: each is checked once, not once per asset."""
    return is_valid_folder(asset_folder.strip("/"))


def folder_of(public_id: str, asset_folder: str | None, mode: ResolvedFolderMode) -> str:
    """The folder an asset lives in, as the account's folder mode defines it ('' for the root)."""
    if mode == "dynamic":
        return (asset_folder or "").strip("/")
    return public_id.rpartition("/")[0]


@dataclass(frozen=True)
class ManagedScope:
    folders: tuple[str, ...]
    mode: ResolvedFolderMode
    whole_account: bool = False

    @classmethod
    def from_settings(cls, settings: Settings, mode: ResolvedFolderMode, *,
                      whole_account: bool = False) -> ManagedScope:
        return cls(settings.owned_folders, mode, whole_account)

    def contains(self, public_id: str, asset_folder: str | None = None) -> bool:
        """Whether mediasync owns this asset (never one whose public_id is not a safe path)."""
        return self.owned_folder(public_id, asset_folder) is not None

    def owned_folder(self, public_id: str, asset_folder: str | None = None) -> str | None:
        """The folder of an asset this scope contains ('' for the root), None for any other: the
        check and the folder a listing needs for each of a million assets, computed once."""
        if not is_valid_public_id(public_id) or not _is_valid_asset_folder(asset_folder or ""):
            return None
        folder = folder_of(public_id, asset_folder, self.mode)
        if self.whole_account:
            return folder
        # The folder is the checked public_id's prefix or the checked asset_folder: a safe path, so
        # `within`'s own checks are not asked again for each of the million assets a listing keeps.
        # Two safe paths have no empty segment: one lies in the other segment by segment exactly
        # when it equals it or starts with it and a '/' ('main-uploads2' is not in 'main-uploads').
        folders, below, everything = self._managed_paths
        return folder if everything or folder in folders or folder.startswith(below) else None

    @cached_property
    def _managed_paths(self) -> tuple[frozenset[str], tuple[str, ...], bool]:
        """The managed folders, the prefixes of what lies below them, and whether the root is one
        of them (then every folder is); a folder that is not a safe path contains nothing (`within`)."""
        folders = frozenset(folder for folder in self.folders if is_valid_folder(folder))
        return folders, tuple(f"{folder}/" for folder in sorted(folders) if folder), "" in folders

    def contains_folder(self, folder: str) -> bool:
        folder = folder.strip("/")
        if not is_valid_folder(folder):
            return False
        return self.whole_account or any(within(folder, managed) for managed in self.folders)

    def narrowed_to(self, folder: str) -> ManagedScope:
        """The scope of one folder; refused when the folder is outside what mediasync manages
        (a manual run cannot widen the scope past the managed folders without `--scope account`)."""
        folder = checked_folder(folder.strip("/"))
        if not self.contains_folder(folder):
            raise InvalidInput(f"folder {folder!r} is outside the managed folders ({', '.join(self.folders)}); "
                               f"use scope 'account' to look beyond them", 422)
        return ManagedScope((folder,), self.mode, whole_account=False)

    @property
    def name(self) -> ScopeName:
        return "account" if self.whole_account else "managed"

    @property
    def inventory_key(self) -> str:
        """Names this scope's listing (checkpoints, snapshot, the per-inventory lock)."""
        if self.whole_account:
            return f"{DELIVERY_TYPE}:account"
        return f"{DELIVERY_TYPE}:{self.mode}:{','.join(sorted(self.folders))}"

    def sources(self, resource_types: tuple[str, ...], uploaded_after: datetime | None = None) -> list[ListingSource]:
        """The listings that together cover this scope: per resource type, the whole account, or
        each folder by public_id prefix (fixed mode) or by asset folder (dynamic mode) — or, for an
        incremental run, only what was uploaded there after `uploaded_after`."""
        if self.whole_account:
            return [ListingSource(rt, uploaded_after=uploaded_after) for rt in resource_types]
        folders = _outermost(self.folders)
        if self.mode == "dynamic":
            return [ListingSource(rt, asset_folder=f, uploaded_after=uploaded_after)
                    for rt in resource_types for f in folders]
        return [ListingSource(rt, prefix=f"{f}/", uploaded_after=uploaded_after)
                for rt in resource_types for f in folders]


def _outermost(folders: tuple[str, ...]) -> tuple[str, ...]:
    """The folders without those inside another one (their listing already covers them)."""
    return tuple(f for f in folders if not any(f != g and within(f, g) for g in folders))
