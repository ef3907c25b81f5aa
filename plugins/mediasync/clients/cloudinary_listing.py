"""Listing a Cloudinary account: the Admin API's prefix listing, the Search API for asset folders
and incremental runs, and the account's folder mode. Part of `CloudinaryClient` (a mixin over its
retrying, error-mapping `_call`), kept apart so the client's file holds one job."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any, Protocol, TypeVar

import cloudinary.api
import cloudinary.exceptions
import cloudinary.search

from mediasync.clients.cloudinary_errors import map_sdk_error
from mediasync.errors import StorePermanentError
from mediasync.store import (
    MAX_LISTING_PAGE,
    RESOURCE_TYPES,
    FolderModeAnswer,
    ListedFacts,
    ListingPage,
    ListingSource,
    search_instant,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

_SEARCH_SAFE_FOLDER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_/-]*$")


def search_term(folder: str) -> str:
    """A folder path as one unquoted Search API term. Managed folders are letters, digits, '-', '_'
    and '/' (validated with the settings); anything else is refused rather than escaped by guess."""
    folder = folder.strip("/")
    if not _SEARCH_SAFE_FOLDER.match(folder):
        raise StorePermanentError(f"folder {folder!r} cannot be searched: use letters, digits, '-', '_' and '/'")
    return folder


def search_expression(source: ListingSource) -> str:
    """The Search API expression of a listing source: its folder and subfolders (`asset_folder` in
    dynamic mode, `folder` — the public_id's path — in fixed mode), its resource type, for an
    incremental listing only what was uploaded after the given moment, and for one range of a
    partitioned listing its upload-time bounds (Cloudinary documents `>`, `>=`, `<` on dates; UTC
    with `Z`, whole seconds, so adjacent ranges `>= a AND < b`, `>= b ...` neither overlap nor gap)."""
    terms = []
    if source.asset_folder is not None:
        terms.append(f"asset_folder:{search_term(source.asset_folder)}/*")
    elif source.folder is not None:
        terms.append(f"folder:{search_term(source.folder)}/*")
    terms += [f"resource_type:{source.resource_type}", "type:upload"]
    if source.uploaded_after is not None:
        terms.append(f'uploaded_at>"{search_instant(source.uploaded_after)}"')
    if source.uploaded_from is not None:
        terms.append(f'uploaded_at>="{search_instant(source.uploaded_from)}"')
    if source.uploaded_before is not None:
        terms.append(f'uploaded_at<"{search_instant(source.uploaded_before)}"')
    return " AND ".join(terms)


def parse_time(value: str | None) -> datetime | None:
    """A time Cloudinary answers with, always UTC (`2024-05-01T10:00:00Z`): a time without an offset
    is read as UTC too, not in whatever time zone a database session happens to have."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


# The fields a searched listing asks each entry for: those `listed_asset` reads beyond the ones the
# Search API always includes once `fields` is named (public_id, asset_id, asset_folder, created_at,
# status, type, resource_type). Naming them leaves out what no listing reads (url, filename,
# uploaded_at, aspect_ratio, pixels, backup_bytes, access_mode): a third of every page's JSON, which
# the client decodes a million times in a full listing.
SEARCHED_FIELDS = ("format", "version", "bytes", "width", "height", "secure_url", "etag", "display_name")


def listed_asset(r: dict[str, Any], resource_type: str, type: str) -> ListedFacts:
    """One resource of a listing or search answer as its `ListedFacts`. Built positionally, in the
    fields' order (a keyword call costs twice as much, a million times a full listing; a unit test
    checks each field against its name)."""
    get = r.get
    return ListedFacts(r["public_id"], get("resource_type", resource_type), get("type", type), get("format"),
                       int(get("bytes", 0)), int(get("version", 0)), get("etag"), get("secure_url"), get("width"),
                       get("height"), parse_time(get("created_at")), get("asset_id"), get("asset_folder"),
                       get("display_name"), get("placeholder") is True or get("status") == "deleted")


class _Caller(Protocol):
    def _call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T: ...

    def _options(self) -> dict[str, Any]: ...

    def _remember_allowance(self, response: Any) -> dict[str, Any]: ...

    def iter_pages(self, resource_type: str = "image", type: str = "upload", prefix: str | None = None,
                   cursor: str | None = None) -> Iterator[ListingPage]: ...


class ListingCalls:
    """The listing calls of `CloudinaryClient`."""

    def iter_pages(self: _Caller, resource_type: str = "image", type: str = "upload", prefix: str | None = None,
                   cursor: str | None = None) -> Iterator[ListingPage]:
        """The full listing, MAX_LISTING_PAGE per page; each page carries the cursor to resume after it."""
        while True:
            params: dict[str, Any] = {"resource_type": resource_type, "type": type, "max_results": MAX_LISTING_PAGE}
            if prefix:
                params["prefix"] = prefix
            if cursor:
                params["next_cursor"] = cursor
            result = self._call("list resources", cloudinary.api.resources, **params)
            cursor = result.get("next_cursor")
            yield ListingPage([listed_asset(r, resource_type, type) for r in result.get("resources", [])], cursor,
                              **self._remember_allowance(result))
            if not cursor:
                return

    def iter_source_pages(self: _Caller, source: ListingSource, cursor: str | None = None) -> Iterator[ListingPage]:
        """One listing source: a prefix listing (fixed folders, or the whole account) or, for an asset
        folder (dynamic folders), the Search API over that folder and its subfolders — a `prefix`
        listing cannot find those assets, their public_ids carry no folder."""
        if not source.searched:
            yield from self.iter_pages(source.resource_type, "upload", source.prefix, cursor)
            return
        expression = search_expression(source)
        while True:
            search = (cloudinary.search.Search().expression(expression).max_results(MAX_LISTING_PAGE)
                      .sort_by("public_id", "asc").fields(list(SEARCHED_FIELDS)))
            if cursor:
                search = search.next_cursor(cursor)
            result = self._call("search resources", search.execute)
            cursor = result.get("next_cursor")
            yield ListingPage([listed_asset(r, source.resource_type, "upload") for r in result.get("resources", [])],
                              cursor, **self._remember_allowance(result))
            if not cursor:
                return

    def folder_mode(self: _Caller) -> FolderModeAnswer | None:
        """Cloudinary's answer: the account settings (Admin API `config?settings=true`), else what a
        small listing shows (fixed-folder accounts name each asset's `folder`; dynamic ones don't)."""
        try:
            config = cloudinary.api.config(settings=True, **self._options())
            mode = (config.get("settings") or {}).get("folder_mode")
            if mode in ("fixed", "dynamic"):
                return mode
        except cloudinary.exceptions.RateLimited as exc:
            raise map_sdk_error(exc) from exc
        except Exception as exc:  # noqa: BLE001 - not every plan (nor the emulator) answers config: the listing tells
            log.info("Cloudinary did not tell its folder mode in the account config (%s); sampling a listing", exc)
        for resource_type in RESOURCE_TYPES:
            sample = self._call("list resources", cloudinary.api.resources, resource_type=resource_type,
                                max_results=10).get("resources", [])
            if sample:
                return "fixed" if any("folder" in r for r in sample) else "dynamic"
        return None

    def iter_resources(self: _Caller, resource_type: str = "image", type: str = "upload", prefix: str | None = None,
                       cursor: str | None = None) -> Iterator[ListedFacts]:
        for page in self.iter_pages(resource_type, type, prefix, cursor):
            yield from page.assets
