"""Images are accepted only when a real decoder (Pillow) decodes them and nothing follows their end.

Magic bytes say what a file claims to be; a polyglot (a JPEG header in front of an HTML page, a
GIF whose bytes also run as JavaScript) claims that too. So an image must open in Pillow as the
format it claims, declare at most `MAX_IMAGE_PIXELS`, decode, and — for the formats whose end is
marked (PNG's IEND chunk, GIF's trailer, JPEG's EOI, WebP's RIFF size) — end exactly there.
"""

from __future__ import annotations

import struct
import warnings
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from mediasync.errors import InvalidInput

MAX_IMAGE_PIXELS = 50_000_000  # Cloudinary's largest plans accept 50-megapixel images; nothing we accept is bigger
MAX_FRAMES = 2_000  # animated GIF/WebP frames walked (their pixels are bounded by the same budget)
_PILLOW_FORMATS = {"image/png": ("PNG",), "image/jpeg": ("JPEG", "MPO"), "image/gif": ("GIF",),
                   "image/webp": ("WEBP",), "image/avif": ("AVIF",)}
_JPEG_APP0_IDS = (b"JFIF\x00", b"JFXX\x00")


def not_an_image(mime: str, why: str) -> InvalidInput:
    return InvalidInput(f"the file is not a valid {mime.rsplit('/', maxsplit=1)[-1].upper()} image ({why})", 415)


def check_image(stream: BinaryIO, mime: str, size: int) -> None:
    """Decode the image (bounded by MAX_IMAGE_PIXELS) and check that it ends where its format says."""
    formats = _PILLOW_FORMATS.get(mime)
    if formats is None:
        return  # not a raster format Pillow decodes (HEIC is checked by structure)
    width, height = _decode(stream, mime, formats)
    if width * height > MAX_IMAGE_PIXELS:  # pragma: no cover - _decode refuses first; kept as the invariant
        raise too_many_pixels(width, height)
    ends = {"image/png": _png_end, "image/gif": _gif_end, "image/jpeg": _jpeg_end, "image/webp": _riff_end}
    if mime in ends:
        stream.seek(0)
        end = ends[mime](stream, size)
        if end != size:
            raise not_an_image(mime, f"{size - end} bytes follow the end of the image")


def too_many_pixels(width: int, height: int) -> InvalidInput:
    return InvalidInput(f"the image is {width}×{height} pixels; the limit is {MAX_IMAGE_PIXELS // 1_000_000} "
                        f"megapixels", 413)


def _decode(stream: BinaryIO, mime: str, formats: tuple[str, ...]) -> tuple[int, int]:
    Image.init()  # every format plugin registered (MPO, AVIF), not just the preloaded ones
    stream.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(stream, formats=list(formats)) as image:
                width, height = image.size
                if width <= 0 or height <= 0:
                    raise not_an_image(mime, "it declares no pixels")
                if width * height > MAX_IMAGE_PIXELS:
                    raise too_many_pixels(width, height)
                frames = getattr(image, "n_frames", 1)
                if frames > MAX_FRAMES or width * height * frames > MAX_IMAGE_PIXELS * 10:
                    raise InvalidInput(f"the image has {frames} frames of {width}×{height} pixels; too many to "
                                       f"accept", 413)
                image.draft(image.mode, (max(1, width // 8), max(1, height // 8)))  # JPEG: decode at 1/8 scale
                image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidInput(f"the image declares more pixels than the {MAX_IMAGE_PIXELS // 1_000_000}-megapixel "
                           f"limit", 413) from None
    except InvalidInput:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error, EOFError,
            IndexError, KeyError, TypeError, ZeroDivisionError, MemoryError) as exc:
        raise not_an_image(mime, f"it does not decode: {str(exc)[:80] or type(exc).__name__}") from None
    return width, height


def _read_exact(stream: BinaryIO, n: int, mime: str) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise not_an_image(mime, "it is truncated")
    return data


def _png_end(stream: BinaryIO, size: int) -> int:
    """Offset just past the IEND chunk."""
    pos = 8
    stream.seek(pos)
    while True:
        length, kind = struct.unpack(">I4s", _read_exact(stream, 8, "image/png"))
        pos += 12 + length
        if pos > size:
            raise not_an_image("image/png", "a chunk runs past the end of the file")
        if kind == b"IEND":
            return pos
        stream.seek(pos)


def _skip_sub_blocks(stream: BinaryIO) -> None:
    while True:
        length = _read_exact(stream, 1, "image/gif")[0]
        if length == 0:
            return
        stream.seek(length, 1)


def _gif_end(stream: BinaryIO, size: int) -> int:
    """Offset just past the trailer byte, walking every block of the GIF's grammar."""
    header = _read_exact(stream, 13, "image/gif")
    flags = header[10]
    if flags & 0x80:
        stream.seek(3 * (2 << (flags & 7)), 1)  # global colour table
    while True:
        introducer = _read_exact(stream, 1, "image/gif")[0]
        if introducer == 0x3B:
            return stream.tell()
        if introducer == 0x21:  # extension: label, then sub-blocks
            _read_exact(stream, 1, "image/gif")
            _skip_sub_blocks(stream)
        elif introducer == 0x2C:  # image descriptor, local colour table, LZW code size, data sub-blocks
            descriptor = _read_exact(stream, 9, "image/gif")
            if descriptor[8] & 0x80:
                stream.seek(3 * (2 << (descriptor[8] & 7)), 1)
            _read_exact(stream, 1, "image/gif")
            _skip_sub_blocks(stream)
        else:
            raise not_an_image("image/gif", f"unexpected block 0x{introducer:02x} at offset {stream.tell() - 1}")
        if stream.tell() > size:
            raise not_an_image("image/gif", "a block runs past the end of the file")


def _jpeg_end(stream: BinaryIO, size: int) -> int:
    """Offset just past the EOI marker, walking the marker segments (APP0 must be JFIF/JFXX)."""
    stream.seek(2)
    chunk = 1 << 20
    while True:
        marker = _read_exact(stream, 2, "image/jpeg")
        if marker[0] != 0xFF:
            raise not_an_image("image/jpeg", f"no marker at offset {stream.tell() - 2}")
        kind = marker[1]
        if kind == 0xD9:
            return stream.tell()
        if kind == 0xFF:  # fill byte
            stream.seek(-1, 1)
            continue
        if 0xD0 <= kind <= 0xD7 or kind == 0x01:  # markers without a payload
            continue
        (length,) = struct.unpack(">H", _read_exact(stream, 2, "image/jpeg"))
        if length < 2:
            raise not_an_image("image/jpeg", "a segment has an impossible length")
        payload_start = stream.tell()
        if kind == 0xE0 and not _read_exact(stream, min(5, length - 2), "image/jpeg").startswith(_JPEG_APP0_IDS):
            raise not_an_image("image/jpeg", "its APP0 segment is not JFIF")
        stream.seek(payload_start + length - 2)
        if kind == 0xDA:  # start of scan: entropy-coded data until the next real marker
            _skip_entropy_coded(stream, chunk)
        if stream.tell() > size:
            raise not_an_image("image/jpeg", "a segment runs past the end of the file")


def _skip_entropy_coded(stream: BinaryIO, chunk: int) -> None:
    """Leave the stream at the first marker that is not stuffing (FF00) or a restart (FFD0-FFD7)."""
    while True:
        start = stream.tell()
        data = stream.read(chunk + 1)
        if len(data) < 2:
            raise not_an_image("image/jpeg", "the scan data is truncated (no end-of-image marker)")
        pos = 0
        while (pos := data.find(b"\xff", pos)) != -1 and pos + 1 < len(data):
            following = data[pos + 1]
            if following != 0x00 and not 0xD0 <= following <= 0xD7 and following != 0xFF:
                stream.seek(start + pos)
                return
            pos += 1
        stream.seek(start + max(1, len(data) - 1))


def _riff_end(stream: BinaryIO, size: int) -> int:
    """Offset the RIFF header says the WebP file ends at."""
    header = _read_exact(stream, 12, "image/webp")
    (length,) = struct.unpack("<I", header[4:8])
    return 8 + length + (length & 1)
