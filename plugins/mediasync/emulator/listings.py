"""The store's listing queries: every page is an index range scan from the cursor's key, so page N
of a million assets costs what page 1 costs. Cursors are opaque to clients: they name the order
they belong to and the last key served, so a cursor of one listing is refused by another.

A mixin of `AssetStore` (it needs `query`); the rows come back as `Asset`s.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mediasync.emulator.errors import CloudinaryError

if TYPE_CHECKING:
    from mediasync.emulator.state import Asset

SEARCH_EXTENTS_KEPT = 256  # searches whose count and public_id span are remembered (until the store changes)
SearchExtent = tuple[int, str | None, str | None]  # a search's total_count, first and last public_id
TOP = "\U0010ffff"  # sorts after every public_id: the open end of a prefix range
HAS_TAG = "EXISTS (SELECT 1 FROM json_each(assets.tags) WHERE json_each.value = ?)"
HAS_CONTEXT_KEY = "EXISTS (SELECT 1 FROM json_each(assets.context) WHERE json_each.key = ?)"
HAS_CONTEXT_PAIR = "EXISTS (SELECT 1 FROM json_each(assets.context) WHERE json_each.key = ? AND json_each.value = ?)"


def encode_cursor(order: str, key: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps([order, list(key)]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, order: str) -> list[Any]:
    try:
        kind, key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError, UnicodeDecodeError):
        raise CloudinaryError(400, f"Invalid next_cursor {cursor}") from None
    if kind != order or not isinstance(key, list):
        raise CloudinaryError(400, f"Invalid next_cursor {cursor}")
    return key


@dataclass
class Page:
    assets: list[Asset]
    next_cursor: str | None
    total_count: int | None = None


class ListingQueries:
    """Listings in Cloudinary's orders: creation (newest first by default), public_id (with a
    prefix), per asset folder, per tag, per context key, and the Search API's filter."""

    select: str  # "SELECT <columns> FROM assets", set by AssetStore
    query: Callable[..., list[tuple]]
    row_to_asset: Callable[[Sequence[Any]], Asset]
    generation: int  # bumped by every write (AssetStore.tx)
    search_extents: dict[tuple, tuple[int, SearchExtent]]  # (where, args) -> (generation, extent)

    def _page(self, sql: str, args: list[Any], limit: int, order: str, key_of: Callable[[Asset], list]) -> Page:
        rows = self.query(f"{sql} LIMIT ?", (*args, limit + 1))
        assets = [self.row_to_asset(r) for r in rows[:limit]]
        more = len(rows) > limit
        return Page(assets, encode_cursor(order, key_of(assets[-1])) if more and assets else None)

    def _by_seq(self, order: str, clauses: list[str], args: list[Any], cursor: str | None, limit: int,
                newest_first: bool) -> Page:
        """Creation order over any filter: `seq` is the creation sequence."""
        order = f"{order}_{'desc' if newest_first else 'asc'}"
        if cursor:
            clauses = [*clauses, "seq < ?" if newest_first else "seq > ?"]
            args = [*args, int(decode_cursor(cursor, order)[0])]
        sql = f"{self.select} WHERE {' AND '.join(clauses)} ORDER BY seq {'DESC' if newest_first else 'ASC'}"
        return self._page(sql, args, limit, order, lambda a: [a.seq])

    def list_by_creation(self, resource_type: str, type: str | None, cursor: str | None, limit: int,
                         newest_first: bool = True) -> Page:
        """Cloudinary's order without a prefix: creation time, newest first unless `direction` says."""
        clauses, args = ["resource_type = ?"], [resource_type]
        if type:
            clauses.append("type = ?")
            args.append(type)
        return self._by_seq("created", clauses, args, cursor, limit, newest_first)

    def list_by_public_id(self, resource_type: str, type: str | None, prefix: str, cursor: str | None, limit: int,
                          descending: bool = False) -> Page:
        """Cloudinary's order with a prefix: by public_id."""
        order = "public_id_desc" if descending else "public_id_asc"
        upper = prefix + TOP
        after = decode_cursor(cursor, order) if cursor else None
        clauses, args = ["resource_type = ?"], [resource_type]
        if type:
            # one bound per side, so SQLite's range scan starts at the cursor, not at the prefix
            clauses.append("type = ?")
            args.append(type)
            if after and descending:
                clauses += ["public_id >= ?", "public_id < ?"]
                args += [prefix, str(after[1])]
            elif after:
                clauses += ["public_id > ?", "public_id < ?"]
                args += [str(after[1]), upper]
            else:
                clauses += ["public_id >= ?", "public_id < ?"]
                args += [prefix, upper]
        else:
            clauses += ["public_id >= ?", "public_id < ?"]
            args += [prefix, upper]
            if after:
                clauses.append("(type, public_id) < (?, ?)" if descending else "(type, public_id) > (?, ?)")
                args += [str(after[0]), str(after[1])]
        direction = "DESC" if descending else "ASC"
        sql = f"{self.select} WHERE {' AND '.join(clauses)} ORDER BY type {direction}, public_id {direction}"
        return self._page(sql, args, limit, order, lambda a: [a.type, a.public_id])

    def list_by_asset_folder(self, asset_folder: str, cursor: str | None, limit: int,
                             newest_first: bool = True) -> Page:
        """Newest first within the folder, with the folder's `total_count` as Cloudinary reports it."""
        page = self._by_seq("folder", ["asset_folder = ?"], [asset_folder], cursor, limit, newest_first)
        page.total_count = self.query("SELECT count(*) FROM assets WHERE asset_folder = ?", (asset_folder,))[0][0]
        return page

    def list_by_tag(self, resource_type: str, tag: str, type: str | None, cursor: str | None, limit: int,
                    newest_first: bool = True) -> Page:
        clauses, args = ["resource_type = ?", HAS_TAG], [resource_type, tag]
        if type:
            clauses.append("type = ?")
            args.append(type)
        return self._by_seq("tag", clauses, args, cursor, limit, newest_first)

    def list_by_context(self, resource_type: str, key: str, value: str | None, type: str | None,
                        cursor: str | None, limit: int, newest_first: bool = True) -> Page:
        clauses = ["resource_type = ?", HAS_CONTEXT_KEY if value is None else HAS_CONTEXT_PAIR]
        args: list[Any] = [resource_type, key] + ([] if value is None else [value])
        if type:
            clauses.append("type = ?")
            args.append(type)
        return self._by_seq("context", clauses, args, cursor, limit, newest_first)

    def by_public_ids(self, resource_type: str, type: str, public_ids: Sequence[str]) -> list[Asset]:
        """The assets among `public_ids` that exist, in the order asked."""
        if not public_ids:
            return []
        rows = self.query(f"{self.select} WHERE resource_type = ? AND type = ? AND public_id IN "
                          f"({','.join('?' * len(public_ids))})", [resource_type, type, *public_ids])
        found = {a.public_id: a for a in map(self.row_to_asset, rows)}
        return [found[p] for p in dict.fromkeys(public_ids) if p in found]

    def matching(self, resource_type: str, type: str | None, *, prefix: str | None = None, tag: str | None = None,
                 after: str | None = None, limit: int) -> list[Asset]:
        """Up to `limit` assets by public_id (after `after`): what a bulk delete takes next."""
        clauses, args = ["resource_type = ?"], [resource_type]
        if type:
            clauses.append("type = ?")
            args.append(type)
        if prefix:
            clauses += ["public_id >= ?", "public_id < ?"]
            args += [prefix, prefix + TOP]
        if tag is not None:
            clauses.append(HAS_TAG)
            args.append(tag)
        if after is not None:
            clauses.append("public_id > ?")
            args.append(after)
        rows = self.query(f"{self.select} WHERE {' AND '.join(clauses)} ORDER BY public_id LIMIT ?", (*args, limit))
        return [self.row_to_asset(r) for r in rows]

    def tags(self, resource_type: str, prefix: str, after: str | None, limit: int) -> tuple[list[str], bool]:
        """(tags in name order, more?) of one resource type."""
        rows = self.query("SELECT DISTINCT json_each.value FROM assets, json_each(assets.tags) "
                          "WHERE assets.resource_type = ? AND json_each.value >= ? AND json_each.value < ? "
                          "AND (? IS NULL OR json_each.value > ?) ORDER BY 1 LIMIT ?",
                          (resource_type, prefix, prefix + TOP, after, after, limit + 1))
        return [str(r[0]) for r in rows[:limit]], len(rows) > limit

    def resource_types(self) -> list[str]:
        return [r[0] for r in self.query("SELECT DISTINCT resource_type FROM assets ORDER BY 1")]

    def totals(self) -> tuple[int, int]:
        """(assets, bytes) in the store."""
        count, total = self.query("SELECT count(*), coalesce(sum(bytes), 0) FROM assets")[0]
        return int(count), int(total)

    def search(self, where: str, args: list[Any], sort: tuple[str, bool], cursor: str | None,
               limit: int) -> tuple[Page, int]:
        """One Search API page plus total_count; `sort` is (created | public_id, descending). In
        public_id order the page's walk is bounded by the first and last public_id the search
        matches: a search narrowed by upload time (a range of a partitioned listing) then walks
        its own span of the index, not the whole index up to it and past it."""
        field, descending = sort
        order = f"search_{field}_{'desc' if descending else 'asc'}"
        key = decode_cursor(cursor, order) if cursor else None
        total, first, last = self._search_extent(where, args)
        if first is None or last is None:  # nothing matches
            return Page([], None), 0
        op, direction = ("<", "DESC") if descending else (">", "ASC")
        page_where, page_args = where, list(args)
        if field == "public_id":
            start, end = (last, first) if descending else (first, last)
            if key is not None:  # from the cursor on, where it lies inside the span
                start = min(start, str(key[0])) if descending else max(start, str(key[0]))
            # spelled so the public_id index seeks straight to the start (a row value scans)
            page_where += f" AND public_id {op}= ? AND public_id {'>' if descending else '<'}= ?"
            page_args += [start, end]
            if key is not None:
                page_where += f" AND (public_id {op} ? OR seq {op} ?)"
                page_args += [str(key[0]), int(key[1])]
            sql = f"{self.select} WHERE {page_where} ORDER BY public_id {direction}, seq {direction}"
            return self._page(sql, page_args, limit, order, lambda a: [a.public_id, a.seq]), total
        if key is not None:
            page_where += f" AND seq {op} ?"
            page_args.append(int(key[0]))
        sql = f"{self.select} WHERE {page_where} ORDER BY seq {direction}"
        return self._page(sql, page_args, limit, order, lambda a: [a.seq]), total

    def _search_extent(self, where: str, args: list[Any]) -> SearchExtent:
        """A search's total_count and its first and last public_id, counted once per state of the
        store: every page of a listing reports the count, and counting a large range on every page
        would cost more than the page."""
        key = (where, tuple(args))
        cached = self.search_extents.get(key)
        if cached is not None and cached[0] == self.generation:
            return cached[1]
        generation = self.generation
        total, first, last = self.query(f"SELECT count(*), min(public_id), max(public_id) FROM assets WHERE {where}",
                                        args)[0]
        extent: SearchExtent = (int(total), first, last)
        if len(self.search_extents) >= SEARCH_EXTENTS_KEPT:
            self.search_extents.clear()
        self.search_extents[key] = (generation, extent)
        return extent
