"""The Search API (`resources/search`, POST with a JSON body as the SDK's `Search().execute()`
sends it, or GET with query params): the expression subset mediasync uses, translated to one SQL
filter over the indexed store. Metered like every Admin API call."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from mediasync.emulator.errors import CloudinaryError
from mediasync.emulator.gate import admin_gate, listing_answer, read_params
from mediasync.emulator.runtime import Emulator
from mediasync.emulator.shapes import requested_fields, search_entries

router = APIRouter()
MAX_RESULTS = 500
DEFAULT_RESULTS = 50
_TERM = re.compile(r'\s*(?P<field>[a-z_]+)\s*(?P<op>>=|<=|=|:|>|<)\s*(?P<value>"(?:[^"\\]|\\.)*"|[^\s()]+)\s*',
                   re.IGNORECASE)
_AND = re.compile(r"\s+AND\s+", re.IGNORECASE)
_RELATIVE = re.compile(r"^(\d+)([smhdwy])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}
_EQUALITY_FIELDS = {"resource_type": "resource_type", "type": "type", "public_id": "public_id",
                    "asset_id": "asset_id", "format": "format", "display_name": "display_name"}
_FOLDER_FIELDS = ("asset_folder", "folder")
_TIME_FIELDS = ("uploaded_at", "created_at")
_SORT_FIELDS = {"created_at": "created", "uploaded_at": "created", "public_id": "public_id"}


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _instant(value: str) -> str:
    """An ISO date/time or a relative age (`1d`, `12h`, `2w`) as the stored created_at format."""
    relative = _RELATIVE.match(value)
    if relative:
        moment = datetime.now(timezone.utc) - timedelta(seconds=int(relative[1]) * _UNITS[relative[2]])
    else:
        if re.search(r"T.*[+-]\d\d:?\d\d$", value):  # Cloudinary reads UTC written with Z only
            raise CloudinaryError(400, f"Invalid search expression: cannot read the date {value!r} (write UTC "
                                       f"with Z)")
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise CloudinaryError(400, f"Invalid search expression: cannot read the date {value!r}") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _term(field: str, op: str, raw: str) -> tuple[str, list[Any]]:
    quoted = raw.startswith('"')
    value = _unquote(raw)
    field = field.lower()
    if field in _FOLDER_FIELDS:
        if op not in ("=", ":"):
            raise CloudinaryError(400, f"Invalid search expression: {field} supports = and :")
        if op == ":" and not quoted and value.endswith("/*"):
            base = value[:-2].strip("/")
            return "(asset_folder = ? OR asset_folder LIKE ? ESCAPE '\\')", [base, _like_prefix(base + "/")]
        if op == ":" and not quoted and value.endswith("*"):
            return "asset_folder LIKE ? ESCAPE '\\'", [_like_prefix(value[:-1])]
        return "asset_folder = ?", [value.strip("/")]
    if field in _TIME_FIELDS:
        comparison = {">": ">", ">=": ">=", "<": "<", "<=": "<=", "=": "=", ":": "="}[op]
        if _RELATIVE.match(value) and comparison in (">", ">=", "<", "<="):
            # `uploaded_at>1d`: within the last day, i.e. after now - 1d
            return f"created_at {comparison} ?", [_instant(value)]
        return f"created_at {comparison} ?", [_instant(value)]
    if field == "tags":
        if op not in ("=", ":"):
            raise CloudinaryError(400, "Invalid search expression: tags supports = and :")
        return "tags LIKE ? ESCAPE '\\'", ["%" + _like_prefix(f'"{value}"')[:-1] + "%"]
    column = _EQUALITY_FIELDS.get(field)
    if column is None:
        raise CloudinaryError(400, f"Invalid search expression: unsupported field {field}")
    if op == ":" and not quoted and value.endswith("*"):
        return f"{column} LIKE ? ESCAPE '\\'", [_like_prefix(value[:-1])]
    if op not in ("=", ":"):
        raise CloudinaryError(400, f"Invalid search expression: {field} supports = and :")
    return f"{column} = ?", [value]


def parse_expression(expression: str) -> tuple[str, list[Any]]:
    """`a AND b AND ...` of supported terms → (SQL where, args). Empty matches everything."""
    expression = (expression or "").strip()
    if not expression:
        return "1 = 1", []
    clauses, args = [], []
    for part in _AND.split(expression):
        match = _TERM.fullmatch(part)
        if not match:
            raise CloudinaryError(400, f"Invalid search expression: {part.strip()!r} (this emulator supports "
                                       "field=value, field:value, field:prefix*, dates with < <= > >=, joined "
                                       "with AND)")
        clause, values = _term(match["field"], match["op"], match["value"])
        clauses.append(clause)
        args += values
    return " AND ".join(clauses), args


def _sort(sort_by: Any) -> tuple[str, bool]:
    entries = sort_by if isinstance(sort_by, list) else ([sort_by] if sort_by else [])
    if not entries:
        return "created", True  # Cloudinary's default: created_at, newest first
    first = entries[0]
    if isinstance(first, str):
        first = {first: "desc"}
    if not isinstance(first, dict) or len(first) != 1:
        raise CloudinaryError(400, "Invalid sort_by")
    (field, direction), = first.items()
    if field not in _SORT_FIELDS:
        raise CloudinaryError(400, f"Invalid sort_by field {field}: this emulator sorts by "
                                   f"{', '.join(_SORT_FIELDS)}")
    return _SORT_FIELDS[field], str(direction).lower() != "asc"


async def _search(request: Request, emulator: Emulator, gate_response: Response) -> JSONResponse:
    started = time.perf_counter()
    params, _ = await read_params(request)
    try:
        limit = int(params.get("max_results") or DEFAULT_RESULTS)
    except (TypeError, ValueError):
        raise CloudinaryError(400, "Invalid max_results") from None
    if not 1 <= limit <= MAX_RESULTS:
        raise CloudinaryError(400, f"max_results must be between 1 and {MAX_RESULTS}")
    where, args = parse_expression(str(params.get("expression") or ""))
    page, total = emulator.state.search(where, args, _sort(params.get("sort_by")), params.get("next_cursor") or None,
                                        limit)
    entries = search_entries(emulator, str(request.base_url), page.assets, requested_fields(params.get("with_field")),
                             requested_fields(params.get("fields")))
    body: dict[str, Any] = {"total_count": total, "time": int((time.perf_counter() - started) * 1000),
                            "resources": entries}
    if page.next_cursor:
        body["next_cursor"] = page.next_cursor
    return listing_answer(body, gate_response)


@router.post("/v1_1/{cloud}/resources/search")
async def search_post(request: Request, response: Response,
                      emulator: Emulator = Depends(admin_gate)) -> JSONResponse:
    return await _search(request, emulator, response)


@router.get("/v1_1/{cloud}/resources/search")
async def search_get(request: Request, response: Response,
                     emulator: Emulator = Depends(admin_gate)) -> JSONResponse:
    return await _search(request, emulator, response)
