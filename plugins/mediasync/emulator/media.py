"""What an uploaded file is, decided by the emulator itself: images are decoded with Pillow (a real
decoder, so a file that only looks like an image is refused as Cloudinary refuses it), videos are
recognised by their container signature, everything else is raw."""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from mediasync.emulator.errors import CloudinaryError

PILLOW_FORMATS = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp", "BMP": "bmp", "TIFF": "tiff",
                  "ICO": "ico", "AVIF": "avif", "HEIF": "heic"}
MIME = {"jpg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp", "bmp": "image/bmp",
        "tiff": "image/tiff", "ico": "image/x-icon", "avif": "image/avif", "heic": "image/heic",
        "pdf": "application/pdf", "mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm",
        "avi": "video/x-msvideo"}


@dataclass(frozen=True)
class Inspected:
    resource_type: str  # image | video | raw
    format: str | None
    width: int | None = None
    height: int | None = None
    pages: int = 1


def _signature(data: bytes) -> tuple[str, str] | None:
    """(resource_type, format) from magic bytes, for what Pillow cannot decode here."""
    head = data[:32]
    if head.startswith(b"%PDF-"):
        return "image", "pdf"  # Cloudinary treats PDFs as images
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "image", "avif"
        if brand in (b"heic", b"heix", b"mif1", b"msf1"):
            return "image", "heic"
        return "video", "mov" if brand == b"qt  " else "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video", "webm"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video", "avi"
    return None


def _looks_like_image(data: bytes) -> bool:
    head = data[:16]
    return (head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*"))
            or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"))


Source = bytes | Path  # an upload's bytes, or the file an assembled chunked upload lies in


def _head(source: Source, size: int = 32) -> bytes:
    if isinstance(source, Path):
        with source.open("rb") as stream:
            return stream.read(size)
    return source[:size]


def _size(source: Source) -> int:
    return source.stat().st_size if isinstance(source, Path) else len(source)


def decode_image(source: Source, max_pixels: int) -> Inspected:
    """Width, height, format and frame count from a full decode, refusing oversized headers first."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source if isinstance(source, Path) else io.BytesIO(source)) as image:
                width, height = image.size
                if width <= 0 or height <= 0 or width * height > max_pixels:
                    raise CloudinaryError(400, "Invalid image file")
                fmt = PILLOW_FORMATS.get(image.format or "", (image.format or "").lower() or None)
                pages = int(getattr(image, "n_frames", 1) or 1)
                image.load()  # a real decode: truncated or corrupt data fails here
    except CloudinaryError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError,
            Image.DecompressionBombWarning, EOFError, MemoryError, struct.error):
        raise CloudinaryError(400, "Invalid image file") from None
    return Inspected("image", fmt, width, height, pages)


def inspect(data: Source, requested: str, max_pixels: int, filename: str | None = None) -> Inspected:
    """What Cloudinary would store for `requested` (image | video | raw | auto); raises its 400s.
    Videos and raw files are recognised from their first bytes: a file is never read whole."""
    if not _size(data):
        raise CloudinaryError(400, "Empty file")
    head = _head(data)
    signature = _signature(head)
    if requested == "raw":
        ext = filename.rsplit(".", 1)[-1].lower() if filename and "." in filename else None
        return Inspected("raw", ext)
    if signature and signature[0] == "video":
        if requested == "image":
            raise CloudinaryError(400, "Invalid image file")
        return Inspected("video", signature[1])
    if signature and signature[0] == "image":  # PDF/HEIC/AVIF: decoded when Pillow can, accepted otherwise
        if requested == "video":
            raise CloudinaryError(400, "Invalid video file")
        try:
            return decode_image(data, max_pixels)
        except CloudinaryError:
            return Inspected("image", signature[1])
    if requested == "video":
        raise CloudinaryError(400, "Invalid video file")
    if requested == "image" or _looks_like_image(head):
        return decode_image(data, max_pixels)
    # auto: whatever Pillow can decode is an image, the rest raw
    try:
        return decode_image(data, max_pixels)
    except CloudinaryError:
        ext = filename.rsplit(".", 1)[-1].lower() if filename and "." in filename else None
        return Inspected("raw", ext)


def mime_type(fmt: str | None) -> str:
    return MIME.get(fmt or "", "application/octet-stream")
