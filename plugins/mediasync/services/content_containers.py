"""Videos, HEIC and PDFs are accepted by their structure; nothing accepted may carry active content.

- ISO base media (MP4, MOV, HEIC): the top-level boxes tile the file exactly, a video has a `moov`
  box, a HEIC image a `meta` box.
- WebM: an EBML header, then one Segment holding Info and Tracks; nothing after a sized Segment.
- PDF: a header, a cross-reference pointer and `%%EOF` at the end, and none of the names that make
  a PDF act (JavaScript, launch, embedded files, XFA forms...), also inside compressed object streams
  and behind `#xx` name escapes.
- Every file: no HTML/SVG/script markup anywhere in it (what makes a polyglot run in a browser).
"""

from __future__ import annotations

import re
import struct
import zlib
from typing import BinaryIO

from mediasync.errors import InvalidInput

SCAN_CHUNK = 1 << 20
_MARKUP = (b"<script", b"<html", b"<!doctype html", b"<svg", b"<?php", b"<iframe", b"<object", b"<embed",
           b"<body", b"javascript:", b"vbscript:")
_OVERLAP = max(len(m) for m in _MARKUP)


def refused(what: str, why: str) -> InvalidInput:
    return InvalidInput(f"the file is not an acceptable {what} ({why})", 415)


def check_no_markup(stream: BinaryIO) -> None:
    """Refuse a file that contains HTML/SVG/script markup anywhere (case-insensitive)."""
    stream.seek(0)
    tail = b""
    offset = 0
    while chunk := stream.read(SCAN_CHUNK):
        window = (tail + chunk).lower()
        for marker in _MARKUP:
            at = window.find(marker)
            if at != -1:
                raise InvalidInput(f"the file contains markup ({marker.decode()!r} at offset "
                                   f"{offset - len(tail) + at}): a media file with a web page or script inside "
                                   f"is not accepted", 415)
        offset += len(chunk)
        tail = chunk[-_OVERLAP:]


# --- ISO base media (MP4, MOV, HEIC) -----------------------------------------------------------

def check_iso_bmff(stream: BinaryIO, size: int, required: bytes, what: str) -> None:
    """The top-level boxes tile the file exactly and include `required`."""
    pos, seen, count = 0, set(), 0
    while pos < size:
        stream.seek(pos)
        header = stream.read(8)
        if len(header) < 8:
            raise refused(what, f"a truncated box header at offset {pos}")
        (length,), kind = struct.unpack(">I", header[:4]), header[4:]
        if not all(0x20 <= b <= 0x7E for b in kind):
            raise refused(what, f"a box with an invalid type at offset {pos}")
        if length == 1:
            large = stream.read(8)
            if len(large) < 8:
                raise refused(what, "a truncated 64-bit box size")
            (length,) = struct.unpack(">Q", large)
        elif length == 0:
            length = size - pos  # the last box runs to the end of the file
        if length < 8 or pos + length > size:
            raise refused(what, f"box {kind.decode()!r} at offset {pos} runs past the end of the file")
        seen.add(kind)
        count += 1
        if count > 100_000:
            raise refused(what, "too many boxes")
        pos += length
    if required not in seen:
        raise refused(what, f"no {required.decode()!r} box")


# --- WebM (EBML) -------------------------------------------------------------------------------

_EBML, _SEGMENT, _INFO, _TRACKS, _CLUSTER = 0x1A45DFA3, 0x18538067, 0x1549A966, 0x1654AE6B, 0x1F43B675


def _vint(stream: BinaryIO, keep_marker: bool) -> tuple[int, int, bool]:
    """(value, length in bytes, all value bits set i.e. unknown size)."""
    first = stream.read(1)
    if not first:
        raise refused("WebM video", "it is truncated")
    length = 1
    while length <= 8 and not first[0] & (0x80 >> (length - 1)):
        length += 1
    if length > 8:
        raise refused("WebM video", "an invalid element header")
    rest = stream.read(length - 1)
    if len(rest) != length - 1:
        raise refused("WebM video", "it is truncated")
    value = first[0] if keep_marker else first[0] & (0xFF >> length)
    for b in rest:
        value = (value << 8) | b
    unknown = not keep_marker and value == (1 << (7 * length)) - 1
    return value, length, unknown


def check_webm(stream: BinaryIO, size: int) -> None:
    """EBML header, then a Segment with Info and Tracks before any Cluster; nothing after it."""
    stream.seek(0)
    ident, _, _ = _vint(stream, keep_marker=True)
    header_size, _, unknown = _vint(stream, keep_marker=False)
    if ident != _EBML or unknown:
        raise refused("WebM video", "no EBML header")
    stream.seek(header_size, 1)
    ident, _, _ = _vint(stream, keep_marker=True)
    segment_size, _, unknown = _vint(stream, keep_marker=False)
    if ident != _SEGMENT:
        raise refused("WebM video", "no Segment after the header")
    start = stream.tell()
    end = size if unknown else start + segment_size
    if end > size or (not unknown and end != size):
        raise refused("WebM video", "the Segment does not end where the file does")
    seen: set[int] = set()
    while stream.tell() < end and not {_INFO, _TRACKS} <= seen:
        ident, _, _ = _vint(stream, keep_marker=True)
        length, _, child_unknown = _vint(stream, keep_marker=False)
        if ident == _CLUSTER or child_unknown:
            break
        seen.add(ident)
        stream.seek(length, 1)
    if not {_INFO, _TRACKS} <= seen:
        raise refused("WebM video", "no Info and Tracks before the media data")


# --- PDF ---------------------------------------------------------------------------------------

# Names that make a PDF run code, open other files or carry files (PDF 2.0, §12.6 actions, §7.11).
_ACTIVE_NAMES = frozenset({b"JavaScript", b"JS", b"Launch", b"EmbeddedFile", b"EmbeddedFiles", b"RichMedia",
                           b"XFA", b"SubmitForm", b"ImportData", b"GoToE", b"Sound", b"Movie"})
_NAME = re.compile(rb"/([^\s/<>\[\]()%{}]+)")
_HEX_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_STREAM = re.compile(rb"stream\r?\n")
MAX_INFLATED = 64 * 1024 * 1024  # total bytes of object streams inflated for the scan


def _active_name(data: bytes) -> bytes | None:
    for match in _NAME.finditer(data):
        name = _HEX_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), match.group(1))
        if name in _ACTIVE_NAMES:
            return name
    return None


def check_pdf(stream: BinaryIO, size: int) -> None:
    """Structure (header, startxref, %%EOF) and no active content, compressed object streams included."""
    stream.seek(0)
    data = stream.read()
    if not data.startswith(b"%PDF-"):
        raise refused("PDF", "no %PDF header")
    if b"%%EOF" not in data[-2048:] or b"startxref" not in data[-4096:]:
        raise refused("PDF", "no cross-reference pointer and %%EOF at its end")
    if b" obj" not in data and b"\nobj" not in data:
        raise refused("PDF", "no objects")
    name = _active_name(data)
    budget = MAX_INFLATED
    for match in _STREAM.finditer(data):
        if name is not None:
            break
        dictionary = data[max(0, match.start() - 1024):match.start()]
        dictionary = dictionary[dictionary.rfind(b"obj"):]
        if b"/ObjStm" not in dictionary and b"/XRef" not in dictionary:
            continue  # page content and images cannot hold actions; object streams can
        inflated = _inflate(data, match.end(), dictionary, budget)
        budget -= len(inflated)
        name = _active_name(inflated)
    if name is not None:
        raise refused("PDF", f"it contains /{name.decode(errors='replace')}, which can run code or carry files")


def _inflate(data: bytes, start: int, dictionary: bytes, budget: int) -> bytes:
    end = data.find(b"endstream", start)
    if end == -1:
        raise refused("PDF", "a stream without endstream")
    raw = data[start:end]
    filters = set(re.findall(rb"/(\w+Decode)", dictionary))
    if not filters:
        return raw
    if filters != {b"FlateDecode"}:
        raise refused("PDF", "an object stream with a filter that cannot be checked")
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(raw, budget + 1)
    except zlib.error:
        raise refused("PDF", "an object stream that does not inflate") from None
    if len(out) > budget:
        raise refused("PDF", "object streams too large to check")
    return out
