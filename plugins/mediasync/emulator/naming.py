"""Where an upload lands — public_id, asset_folder, display_name — by Cloudinary's rules for each
folder mode. Fixed: the folder is the public_id's path and asset_folder mirrors it. Dynamic (every
account since June 2024): `folder`/`asset_folder` only place the asset; the public_id carries no
folder unless `use_asset_folder_as_public_id_prefix` says so."""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from typing import Any

from mediasync.emulator.gate import truthy

# What `use_filename` replaces in a file name: Cloudinary keeps letters of any script
# (`üni_näme_lögö.png` → `üni_näme_lögö`, pycloudinary's test_upload_unicode_filename).
_UNSAFE_ID = re.compile(r"[^\w\-/.]+")
_RANDOM_ALPHABET = string.ascii_lowercase + string.digits
# Names the SDK gives a stream or bytes it was told nothing about (utils.handle_file_parameter).
GENERIC_FILENAMES = {"file", "stream", "blob"}


@dataclass(frozen=True)
class Naming:
    public_id: str
    asset_folder: str
    display_name: str


def random_public_id() -> str:
    return "".join(secrets.choice(_RANDOM_ALPHABET) for _ in range(20))


def filename_stem(filename: str | None) -> str | None:
    """Cloudinary's `original_filename`: the uploaded file's base name without its extension."""
    if not filename:
        return None
    base = filename.replace("\\", "/").rsplit("/", 1)[-1].split("?", 1)[0]
    return base.rsplit(".", 1)[0] if "." in base.strip(".") else base


def source_filename(settings: dict[str, Any], filename: str | None) -> str | None:
    """The file name Cloudinary goes by: `filename_override` when given, else the uploaded file's."""
    return str(settings["filename_override"]) if settings.get("filename_override") else filename


def _name(settings: dict[str, Any], filename: str | None) -> str:
    if settings.get("public_id"):
        return str(settings["public_id"]).strip("/")
    stem = filename_stem(filename)
    if truthy(settings.get("use_filename", "0")) and stem:
        safe = _UNSAFE_ID.sub("_", stem) or "file"
        unique = settings.get("unique_filename", "1")
        return f"{safe}_{''.join(secrets.choice(_RANDOM_ALPHABET) for _ in range(6))}" if truthy(unique) else safe
    return random_public_id()


def resolve(mode: str, settings: dict[str, Any], filename: str | None, resource_type: str,
            extension: str | None) -> Naming:
    filename = source_filename(settings, filename)
    name = _name(settings, filename)
    if resource_type == "raw" and extension and not settings.get("public_id") and not name.endswith(f".{extension}"):
        name = f"{name}.{extension}"  # raw public_ids keep the file's extension
    if mode == "fixed":
        folder = str(settings.get("folder") or "").strip("/")
        public_id = f"{folder}/{name}" if folder and not name.startswith(f"{folder}/") else name
        return Naming(public_id, public_id.rpartition("/")[0], public_id.rsplit("/", 1)[-1])
    asset_folder = str(settings.get("asset_folder") or settings.get("folder") or "").strip("/")
    public_id = name
    if asset_folder and truthy(settings.get("use_asset_folder_as_public_id_prefix", "0")):
        public_id = f"{asset_folder}/{name}"
    if settings.get("display_name"):
        shown = str(settings["display_name"])
    elif settings.get("public_id") and not truthy(settings.get("use_filename_as_display_name", "0")):
        shown = public_id.rsplit("/", 1)[-1]
    else:
        stem = filename_stem(filename)
        shown = stem if stem and stem not in GENERIC_FILENAMES else public_id.rsplit("/", 1)[-1]
    return Naming(public_id, asset_folder, shown)
