"""What the Admin API routes share: Cloudinary's paging parameters, the per-entry options of a
listing (`tags`, `context`, `metadata`, `fields`), the rendered listing, and the answer to a call
the emulator does not speak."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from mediasync.emulator.errors import CloudinaryError
from mediasync.emulator.gate import listing_answer, truthy
from mediasync.emulator.listings import Page
from mediasync.emulator.runtime import Emulator
from mediasync.emulator.shapes import ListingOptions, listed, requested_fields

MAX_LISTING = 500
MAX_IDS = 100
MAX_BULK_DELETE = 1000  # deletes by prefix, tag or all stop here: partial, with a next_cursor
RESOURCE_TYPES = ("image", "video", "raw")
# Cloudinary's delivery ("storage") types: a path segment that is none of these is not a resource call.
DELIVERY_TYPES = frozenset({"upload", "private", "authenticated", "fetch", "facebook", "twitter", "gravatar",
                            "youtube", "hulu", "vimeo", "animoto", "worldstarhiphop", "dailymotion", "list",
                            "multi", "text", "asset", "sprite", "social_profile"})


def unsupported(request: Request) -> CloudinaryError:
    """Cloudinary's JSON error for a call it has no route for (never a redirect or an empty body)."""
    return CloudinaryError(404, f"Unsupported API call - {request.method} {request.url.path} (not emulated; "
                                "see docs/emulator.md)")


def check_resource_type(resource_type: str) -> None:
    if resource_type not in RESOURCE_TYPES:
        raise CloudinaryError(400, f"Invalid resource type {resource_type}")


async def known_delivery_type(request: Request) -> None:
    """A route dependency, run before the gate: a `{type}` segment that is no delivery type means
    the call is one the emulator does not speak (e.g. `resources/image/moderations/...`) — answered
    as unsupported and not metered."""
    if request.path_params.get("type") not in DELIVERY_TYPES:
        raise unsupported(request)


def max_results(value: Any, default: int = 10) -> int:
    try:
        count = int(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        raise CloudinaryError(400, "Invalid max_results") from None
    if not 1 <= count <= MAX_LISTING:
        raise CloudinaryError(400, f"max_results must be between 1 and {MAX_LISTING}")
    return count


def newest_first(direction: Any) -> bool:
    return str(direction or "desc").lower() not in ("asc", "1")


def id_list(value: Any) -> list[str]:
    if value in (None, "", []):
        return []
    return [str(v) for v in value] if isinstance(value, list) else [s for s in str(value).split(",") if s]


def required_ids(params: dict[str, Any], name: str) -> list[str]:
    """The `name` list of a request, refused as Cloudinary refuses it when missing or too long."""
    ids = id_list(params.get(name))
    if not ids:
        raise CloudinaryError(400, f"Missing required parameter - {name}")
    if len(ids) > MAX_IDS:
        raise CloudinaryError(400, f"Too many {name}: at most {MAX_IDS} per request")
    return ids


def listing_options(params: Any) -> ListingOptions:
    return ListingOptions(tags=truthy(params.get("tags", "false")), context=truthy(params.get("context", "false")),
                          metadata=truthy(params.get("metadata", "false")),
                          fields=requested_fields(params.get("fields")))


def render(emulator: Emulator, request: Request, page: Page, gate_response: Response,
           options: ListingOptions) -> JSONResponse:
    base_url = str(request.base_url)
    body: dict[str, Any] = {"resources": [listed(emulator, base_url, a, options) for a in page.assets]}
    if page.total_count is not None:
        body["total_count"] = page.total_count
    if page.next_cursor:
        body["next_cursor"] = page.next_cursor
    return listing_answer(body, gate_response)


def deleted_answer(outcome: dict[str, str], next_cursor: str | None = None,
                   originals_kept: bool = False) -> dict[str, Any]:
    """Cloudinary's answer to every Admin delete: per id the result and the counts removed."""
    counts = {key: {"original": int(result == "deleted" and not originals_kept), "derived": 0}
              for key, result in outcome.items()}
    body: dict[str, Any] = {"deleted": outcome, "deleted_counts": counts, "partial": next_cursor is not None}
    if next_cursor:
        body["next_cursor"] = next_cursor
    return body
