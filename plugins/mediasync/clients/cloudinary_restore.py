"""Restore from Cloudinary's backups (`AssetRestorer`), as calls the Cloudinary client makes.

A mixin of `CloudinaryClient`: the restores go through the client's one SDK call path (`_call`:
errors mapped to `StoreError`s, transient ones retried — a restore is safe to repeat) and report
the Admin API allowance they used like every other Admin call. Kept apart so the client stays small.

Cloudinary answers a restore per id: the restored resource (its `bytes` back), or an error for an id
it cannot restore — `{"error": "no_backup"}` in its API specification; an error object with a
`message` is read too. An id missing from the answer was not restored either.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import cloudinary.api

from mediasync.store import DELIVERY_TYPE, MAX_IDS_PER_RESTORE, RestoreOutcome

log = logging.getLogger(__name__)
T = TypeVar("T")


class _AdminCaller(Protocol):
    def _call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T: ...

    def _remember_allowance(self, response: Any) -> dict[str, Any]: ...


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def restore_outcome(answer: Any) -> RestoreOutcome:
    """One id's entry of a restore answer."""
    if not isinstance(answer, Mapping):
        return RestoreOutcome(False, "Cloudinary did not answer for this id")
    error = answer.get("error")
    if error:
        message = error.get("message") if isinstance(error, Mapping) else error
        return RestoreOutcome(False, str(message or error))
    facts: dict[str, Any] = {"public_id": answer.get("public_id"), "asset_id": answer.get("asset_id"),
                             "resource_type": answer.get("resource_type"), "type": answer.get("type"),
                             "bytes": _int(answer.get("bytes")), "version": _int(answer.get("version")),
                             "format": answer.get("format"), "etag": answer.get("etag"),
                             "secure_url": answer.get("secure_url") or answer.get("url")}
    if answer.get("placeholder") is True:
        return RestoreOutcome(False, "still a placeholder after the restore", **facts)
    return RestoreOutcome(True, None, **facts)


def _chunks(ids: Sequence[str]) -> list[list[str]]:
    unique = list(dict.fromkeys(ids))
    return [unique[i:i + MAX_IDS_PER_RESTORE] for i in range(0, len(unique), MAX_IDS_PER_RESTORE)]


def _log(what: str, where: str, outcomes: Mapping[str, RestoreOutcome]) -> None:
    restored = sum(o.restored for o in outcomes.values())
    log.info("%s (%s): %d of %d restored from backup, %d calls", what, where, restored, len(outcomes),
             -(-len(outcomes) // MAX_IDS_PER_RESTORE))


class RestoreCalls:
    """`restore` / `restore_by_asset_ids` for a client with `_call` and `_remember_allowance`."""

    def restore(self: _AdminCaller, public_ids: Sequence[str], resource_type: str = "image",
                type: str = DELIVERY_TYPE) -> dict[str, RestoreOutcome]:
        """Admin API `restore` of these public ids, MAX_IDS_PER_RESTORE a call; keyed by public_id."""
        outcomes: dict[str, RestoreOutcome] = {}
        for chunk in _chunks(public_ids):
            answer = self._call("restore", cloudinary.api.restore, chunk, resource_type=resource_type, type=type)
            self._remember_allowance(answer)
            outcomes.update({public_id: restore_outcome(answer.get(public_id)) for public_id in chunk})
        _log("restore", f"{resource_type}/{type}", outcomes)
        return outcomes

    def restore_by_asset_ids(self: _AdminCaller, asset_ids: Sequence[str]) -> dict[str, RestoreOutcome]:
        """Admin API restore by asset id, MAX_IDS_PER_RESTORE a call; keyed by asset_id."""
        outcomes: dict[str, RestoreOutcome] = {}
        for chunk in _chunks(asset_ids):
            answer = self._call("restore by asset ids", cloudinary.api.restore_by_asset_ids, chunk)
            self._remember_allowance(answer)
            outcomes.update({asset_id: restore_outcome(answer.get(asset_id)) for asset_id in chunk})
        _log("restore by asset ids", "any type", outcomes)
        return outcomes
