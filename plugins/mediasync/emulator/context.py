"""Contextual metadata ("context"): key-value pairs on an asset, as the SDKs send and read them.

The SDKs send `key=value|key2=value2`, with `=` and `|` inside values escaped by a backslash
(`utils.encode_context`); Cloudinary answers `"context": {"custom": {key: value}}`, and only when
the asset has any. `resource_context_changed` notifications name what was added, removed and
updated as `{"name", "value"}` pairs.
"""

from __future__ import annotations

import json
from typing import Any

from mediasync.emulator.errors import CloudinaryError

MAX_PAIR_CHARS = 1024  # Cloudinary's limit for one key-value pair


def _split(text: str, separator: str, limit: int = -1) -> list[str]:
    """Split on unescaped `separator`, keeping escapes for the next step."""
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator and (limit < 0 or len(parts) < limit):
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if escaped:
        current.append("\\")
    parts.append("".join(current))
    return parts


def _unescape(text: str) -> str:
    return text.replace("\\=", "=").replace("\\|", "|")


def parse(value: Any) -> dict[str, str]:
    """A context parameter (the SDK's encoded string, or a JSON object) as a dict."""
    if value in (None, ""):
        return {}
    if isinstance(value, dict):
        pairs = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}
    else:
        pairs = {}
        for item in _split(str(value), "|"):
            if not item:
                continue
            key, *rest = _split(item, "=", limit=1)
            pairs[_unescape(key).strip()] = _unescape(rest[0]) if rest else ""
    for key, text in pairs.items():
        if not key:
            raise CloudinaryError(400, "Invalid context: empty key")
        if len(key) + len(text) > MAX_PAIR_CHARS:
            raise CloudinaryError(400, f"Invalid context: the value of {key} is too long")
    return pairs


def shown(context: dict[str, str]) -> dict[str, Any]:
    """The `context` field of an answer: absent when the asset has none."""
    return {"context": {"custom": dict(context)}} if context else {}


def changes(before: dict[str, str], after: dict[str, str]) -> dict[str, list[dict[str, str]]]:
    """What a `resource_context_changed` notification reports for one asset."""
    return {"added": [{"name": k, "value": v} for k, v in after.items() if k not in before],
            "removed": [{"name": k, "value": v} for k, v in before.items() if k not in after],
            "updated": [{"name": k, "value": v} for k, v in after.items() if k in before and before[k] != v]}
