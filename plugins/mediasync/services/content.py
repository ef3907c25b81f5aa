"""Upload validation: what a file really is — by its content, not its name — and safe names.

`inspect_upload` is the one check an upload passes: size, then the kind its first bytes claim
(`sniff`), then proof that it is that kind — images decoded by Pillow within a pixel limit
(`content_images`), videos, HEIC and PDFs by their structure, and no web markup anywhere
(`content_containers`). Whatever fails is an `InvalidInput` with the HTTP code to answer.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import BinaryIO

import filetype

from mediasync.errors import InvalidInput
from mediasync.services.content_containers import check_iso_bmff, check_no_markup, check_pdf, check_webm
from mediasync.services.content_images import check_image

HEAD_BYTES = 8192  # what the detector reads of a file's start


@dataclass(frozen=True)
class ContentKind:
    mime: str
    resource_type: str  # Cloudinary's: image | video | raw
    extension: str


# The project's allow-list over what `filetype` detects: MIME type → (Cloudinary resource type, extension).
ALLOWED: dict[str, tuple[str, str]] = {
    "image/png": ("image", "png"),
    "image/jpeg": ("image", "jpg"),
    "image/gif": ("image", "gif"),
    "image/webp": ("image", "webp"),
    "image/avif": ("image", "avif"),
    "image/heic": ("image", "heic"),
    "application/pdf": ("image", "pdf"),  # Cloudinary treats PDFs as images
    "video/mp4": ("video", "mp4"),
    "video/quicktime": ("video", "mov"),
    "video/webm": ("video", "webm"),
}


def sniff(head: bytes) -> ContentKind | None:
    """Identify the file from its content (a maintained detector, not its name); None when it is
    not one of the allowed media types."""
    detected = filetype.guess(head[:HEAD_BYTES])
    if detected is None or detected.mime not in ALLOWED:
        return None
    resource_type, extension = ALLOWED[detected.mime]
    return ContentKind(detected.mime, resource_type, extension)


def require_media(head: bytes, size: int, max_bytes: int) -> ContentKind:
    """The file's kind, or an InvalidInput with the HTTP code an API should answer."""
    if size == 0:
        raise InvalidInput("the file is empty", status_code=400)
    if size > max_bytes:
        raise InvalidInput(f"the file is {size} bytes; the limit is {max_bytes} bytes", status_code=413)
    kind = sniff(head)
    if kind is None:
        raise InvalidInput("file type not allowed: only images (PNG, JPEG, GIF, WebP, AVIF, HEIC, PDF) and "
                           "videos (MP4, MOV, WebM) are accepted", status_code=415)
    return kind


def stream_size(stream: BinaryIO) -> int:
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(0)
    return size


def inspect_upload(stream: BinaryIO, max_bytes: int) -> ContentKind:
    """The kind of a seekable upload, proven by decoding or by structure; the stream is left at 0."""
    size = stream_size(stream)
    kind = require_media(stream.read(HEAD_BYTES), size, max_bytes)
    if kind.mime == "application/pdf":
        check_pdf(stream, size)
    elif kind.mime == "video/webm":
        check_webm(stream, size)
    elif kind.mime in ("video/mp4", "video/quicktime"):
        check_iso_bmff(stream, size, b"moov", "video")
    elif kind.mime == "image/heic":
        check_iso_bmff(stream, size, b"meta", "HEIC image")
    else:
        check_image(stream, kind.mime, size)
    check_no_markup(stream)
    stream.seek(0)
    return kind


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(name: str | None, extension: str) -> str:
    """A name safe for Cloudinary and the file system: no path, no control or special characters,
    at most 100 characters, the extension the content really has."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    stem = base.rsplit(".", 1)[0] if "." in base.strip(".") else base
    stem = _UNSAFE.sub("-", stem).strip(".-_")[:90] or "upload"
    return f"{stem}.{extension}"


_FOLDER = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$")


def safe_folder(folder: str) -> str:
    folder = folder.strip().strip("/")
    if not _FOLDER.match(folder) or len(folder) > 200:
        raise InvalidInput(f"folder {folder!r} is not allowed: use letters, digits, '-', '_' and '/'", 422)
    return folder


CONTEXT_KEYS = ("alt", "caption")  # the contextual metadata an upload through mediasync may carry
MAX_CONTEXT_CHARS = 500


def clean_context(context: Mapping[str, str | None]) -> dict[str, str]:
    """Alt text and caption as Cloudinary will store them: trimmed, NFC, no control characters,
    at most 500 characters; empty values are left out."""
    cleaned: dict[str, str] = {}
    for key, value in context.items():
        if key not in CONTEXT_KEYS:
            raise InvalidInput(f"context {key!r} is not accepted: only {', '.join(CONTEXT_KEYS)}", 422)
        text = unicodedata.normalize("NFC", value or "").strip()
        if not text:
            continue
        if len(text) > MAX_CONTEXT_CHARS or any(unicodedata.category(c) == "Cc" for c in text):
            raise InvalidInput(f"{key} must be at most {MAX_CONTEXT_CHARS} characters without control characters",
                               422)
        cleaned[key] = text
    return cleaned


def clean_tags(tags: list[str] | tuple[str, ...]) -> list[str]:
    cleaned = sorted({t.strip() for t in tags if t and t.strip()})
    for tag in cleaned:
        if len(tag) > 100 or any(c in tag for c in ",\x00"):
            raise InvalidInput(f"tag {tag[:40]!r} is not allowed (at most 100 characters, no commas)", 422)
    return cleaned
