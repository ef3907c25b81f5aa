"""Upload presets: stored with typed settings, as Cloudinary answers them.

The SDKs send a preset's settings as upload parameters — booleans as "1"/"0" or "true"/"false",
numbers as text — and Cloudinary keeps and returns them typed (`{"use_filename": true}`, as the
Node SDK's own integration test expects). A mixin of `AssetStore` (it needs `query` and `tx`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from sqlite3 import Connection
from typing import Any

from mediasync.emulator.errors import CloudinaryError

DEFAULT_PRESETS = {"tap2go-uploads": {"unsigned": True, "settings": {"folder": "main-uploads"}}}
# Upload parameters (and preset options) that are booleans in Cloudinary's answers.
BOOLEAN_SETTINGS = frozenset({
    "use_filename", "unique_filename", "overwrite", "use_asset_folder_as_public_id_prefix",
    "use_filename_as_display_name", "unique_display_name", "discard_original_filename", "invalidate", "backup",
    "return_delete_token", "async", "eager_async", "faces", "colors", "image_metadata", "media_metadata", "exif",
    "phash", "quality_analysis", "accessibility_analysis", "cinemagraph_analysis", "disallow_public_id", "live",
    "auto_chaptering", "visual_search",
})
NUMBER_SETTINGS = frozenset({"auto_tagging"})
# What a create/update call carries that is no setting of the preset.
NOT_SETTINGS = frozenset({"name", "unsigned", "timestamp", "signature", "api_key", "signature_algorithm"})
MAX_PRESETS_PAGE = 500


def typed_setting(name: str, value: Any) -> Any:
    """One setting as Cloudinary returns it: booleans and numbers typed, everything else as sent."""
    if name in BOOLEAN_SETTINGS and not isinstance(value, bool):
        text = str(value).strip().lower()
        if text in ("1", "true"):
            return True
        if text in ("0", "false"):
            return False
        raise CloudinaryError(400, f"Invalid value for {name}: {value}")
    if name in NUMBER_SETTINGS and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise CloudinaryError(400, f"Invalid value for {name}: {value}") from None
    return value


def preset_settings(params: dict[str, Any]) -> dict[str, Any]:
    """The settings a create/update call names (empty values dropped, as the SDK drops them)."""
    return {k: typed_setting(k, v) for k, v in params.items() if k not in NOT_SETTINGS and v not in (None, "")}


def _row(row: tuple) -> dict:
    return {"name": row[0], "unsigned": bool(row[1]), "settings": json.loads(row[2])}


class PresetStore:
    query: Callable[..., list[tuple]]
    tx: Callable[[], AbstractContextManager[Connection]]

    def ensure_default_presets(self) -> None:
        with self.tx() as db:
            for name, preset in DEFAULT_PRESETS.items():
                db.execute("INSERT OR IGNORE INTO presets VALUES (?, ?, ?)",
                           (name, int(bool(preset["unsigned"])), json.dumps(preset["settings"])))

    def preset(self, name: str) -> dict | None:
        rows = self.query("SELECT name, unsigned, settings FROM presets WHERE name = ?", (name,))
        return _row(rows[0]) if rows else None

    def presets(self, after: str | None = None, limit: int = MAX_PRESETS_PAGE) -> tuple[list[dict], bool]:
        """(presets in name order after `after`, more?)."""
        rows = self.query("SELECT name, unsigned, settings FROM presets WHERE (? IS NULL OR name > ?) "
                          "ORDER BY name LIMIT ?", (after, after, limit + 1))
        return [_row(r) for r in rows[:limit]], len(rows) > limit

    def save_preset(self, name: str, unsigned: bool, settings: dict) -> None:
        with self.tx() as db:
            db.execute("INSERT OR REPLACE INTO presets VALUES (?, ?, ?)", (name, int(unsigned), json.dumps(settings)))

    def update_preset(self, name: str, unsigned: bool | None, settings: dict) -> bool:
        """Merge `settings` into the preset (and change `unsigned` when given); False when unknown."""
        with self.tx() as db:
            row = db.execute("SELECT name, unsigned, settings FROM presets WHERE name = ?", (name,)).fetchone()
            if row is None:
                return False
            current = _row(row)
            merged = {**current["settings"], **settings}
            db.execute("UPDATE presets SET unsigned = ?, settings = ? WHERE name = ?",
                       (int(current["unsigned"] if unsigned is None else unsigned), json.dumps(merged), name))
        return True

    def delete_preset(self, name: str) -> bool:
        with self.tx() as db:
            return db.execute("DELETE FROM presets WHERE name = ?", (name,)).rowcount > 0
