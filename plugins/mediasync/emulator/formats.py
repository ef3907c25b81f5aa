"""`allowed_formats` and `format` on upload, as Cloudinary applies them.

- `allowed_formats` (list or comma-separated): a file of another format is refused — `Image file
  format png not allowed` (HTTP 400) — unless `format` is also given: then only files that would
  have been refused are converted to it.
- `format` alone: the upload is converted to that format before it is stored.

Images are converted for real (Pillow decodes and re-encodes them), so the stored bytes, `bytes`,
`etag` and delivery are the converted file's. The emulator cannot transcode video or rasterise
PDFs: asking for that is refused with a 400 that says so; `format` on a raw upload is ignored,
as Cloudinary ignores it.
"""

from __future__ import annotations

import io
from dataclasses import replace
from typing import Any

from PIL import Image

from mediasync.emulator.errors import CloudinaryError
from mediasync.emulator.media import Inspected, Source

ALIASES = {"jpeg": "jpg", "jpe": "jpg", "tif": "tiff"}
# format → (Pillow writer, whether it keeps transparency)
WRITERS = {"jpg": ("JPEG", False), "png": ("PNG", True), "gif": ("GIF", True), "webp": ("WEBP", True),
           "bmp": ("BMP", False), "tiff": ("TIFF", True), "ico": ("ICO", True)}
KIND = {"image": "Image file format", "video": "Video file format", "raw": "File format"}


def normalized(fmt: Any) -> str:
    text = str(fmt or "").strip().lower().lstrip(".")
    return ALIASES.get(text, text)


def allowed_formats(value: Any) -> list[str]:
    items = value if isinstance(value, list) else str(value or "").split(",")
    return [normalized(f) for f in items if normalized(f)]


def apply(found: Inspected, data: Source, settings: dict[str, Any]) -> tuple[Inspected, Source]:
    """(what is stored, its bytes): refused, converted, or unchanged."""
    allowed = allowed_formats(settings.get("allowed_formats"))
    target = normalized(settings.get("format"))
    current = normalized(found.format)
    if found.resource_type == "raw":
        if allowed and current not in allowed:
            raise CloudinaryError(400, f"{KIND['raw']} {current or 'unknown'} not allowed")
        return found, data  # Cloudinary ignores `format` for raw files
    if allowed and current in allowed:
        return found, data  # with allowed_formats, `format` only converts files that would be refused
    if allowed and not target:
        raise CloudinaryError(400, f"{KIND[found.resource_type]} {current} not allowed")
    if not target or target == current:
        return found, data
    return convert(found, data, target)


def convert(found: Inspected, data: Source, target: str) -> tuple[Inspected, bytes]:
    if found.resource_type != "image" or found.width is None:  # a video, or a PDF/HEIC it did not decode
        raise CloudinaryError(400, f"Converting {found.resource_type} {found.format} to {target} is not supported "
                                   "by the emulator (it converts images only)")
    if target not in WRITERS:
        raise CloudinaryError(400, f"Converting to {target} is not supported by the emulator (it writes "
                                   f"{', '.join(sorted(WRITERS))})")
    writer, keeps_alpha = WRITERS[target]
    out = io.BytesIO()
    with Image.open(data if not isinstance(data, bytes) else io.BytesIO(data)) as image:
        frame = image.convert("RGBA" if keeps_alpha and image.mode in ("RGBA", "LA", "P") else "RGB")
        frame.save(out, writer)
        converted = out.getvalue()
    return replace(found, format=target, width=frame.width, height=frame.height, pages=1), converted
