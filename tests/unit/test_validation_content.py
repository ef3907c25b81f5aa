"""Upload content is proven, not guessed: real decoders for images, structure for the rest, no markup."""

from __future__ import annotations

import io

import pytest

from fixtures import polyglots as p
from fixtures.media import tiny_png
from mediasync.errors import InvalidInput
from mediasync.services.content import inspect_upload
from mediasync.services.content_images import MAX_IMAGE_PIXELS

LIMIT = 10 * 1024 * 1024


def inspect(data: bytes):
    return inspect_upload(io.BytesIO(data), LIMIT)


def refusal(data: bytes) -> InvalidInput:
    with pytest.raises(InvalidInput) as refused:
        inspect(data)
    return refused.value


@pytest.mark.parametrize(("data", "mime"), [
    (tiny_png(1), "image/png"),
    (p.image_bytes("PNG"), "image/png"),
    (p.image_bytes("JPEG"), "image/jpeg"),
    (p.image_bytes("GIF"), "image/gif"),
    (p.image_bytes("WEBP"), "image/webp"),
    (p.image_bytes("AVIF"), "image/avif"),
    (p.PLAIN_PDF, "application/pdf"),
    (p.mp4(), "video/mp4"),
    (p.webm(), "video/webm"),
])
def test_real_media_is_accepted(data, mime):
    stream = io.BytesIO(data)
    assert inspect_upload(stream, LIMIT).mime == mime
    assert stream.tell() == 0  # ready to be sent on


@pytest.mark.parametrize("data", [
    p.JPEG_HEADER_AND_HTML,
    p.jpeg_with_html_appended(),
    p.jpeg_with_script_in_app0(),
    p.gif_js_polyglot(),
    p.gif_with_trailing_script(),
    p.image_bytes("PNG") + b"<svg onload=alert(1)>",
    p.image_bytes("PNG") + b"\0\0trailing bytes",
    p.image_bytes("WEBP") + b"*/alert(1)",
    p.PDF_WITH_SCRIPT,
    p.PDF_WITH_ESCAPED_SCRIPT,
    p.pdf_with_script_in_object_stream(),
    p.PLAIN_PDF[:-40],  # truncated: no startxref / %%EOF
    p.mp4() + b"<html><script>alert(1)</script>",
    p.mp4()[:-10],  # the last box runs past the end
    p.mp4([(b"ftyp", b"isom\0\0\2\0isom"), (b"mdat", b"\0" * 8)]),  # no movie header
    p.webm(trailing=b"garbage after the segment"),
    tiny_png(1)[:40],  # truncated PNG
])
def test_polyglots_and_broken_files_are_415(data):
    refused = refusal(data)
    assert refused.status_code == 415, refused


@pytest.mark.parametrize(("width", "height"), [(4_294_967_295, 4_294_967_295), (2**31 - 1, 1), (20_000, 20_000)])
def test_an_image_claiming_too_many_pixels_is_a_4xx(width, height):
    refused = refusal(p.png_claiming(width, height))
    assert 400 <= refused.status_code < 500 and refused.status_code in (413, 415)


def test_pixel_limit_is_enforced_before_decoding():
    side = int(MAX_IMAGE_PIXELS ** 0.5) + 1
    assert refusal(p.png_claiming(side, side)).status_code == 413


def test_size_is_checked_before_anything_is_decoded():
    assert refusal(b"").status_code == 400
    big = io.BytesIO(tiny_png(1) + b"\0" * 100)
    with pytest.raises(InvalidInput) as refused:
        inspect_upload(big, 50)
    assert refused.value.status_code == 413
