"""Upload API requests whose file is streamed, whole or in parts, never read into memory.

`cloudinary.uploader.upload` reads the whole file and builds the whole multipart body beside it;
`upload_large` does the same for every 20 MB part. Here the SDK still builds and signs the
parameters, and the body streams from the file (64 KiB at a time): a 300 MB video costs the
server no more memory than a thumbnail. A chunked upload sends the parts Cloudinary's way — one
request each, with the same `X-Unique-Upload-Id` and their `Content-Range` — as the SDKs do.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from typing import Any, BinaryIO, cast

import cloudinary
import cloudinary.exceptions
import cloudinary.utils
from cloudinary.api_client.execute_request import EXCEPTION_CODES

from mediasync.errors import StorePermanentError

# One call of the store's retrying wrapper: (what, function, **options) -> the answer.
Caller = Callable[..., dict[str, Any]]


def streamed_upload(stream: BinaryIO, filename: str, options: dict[str, Any],
                    headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The request `cloudinary.uploader.upload` makes, with the multipart body streamed from `stream`."""
    import httpx  # uploads only: a drain or a listing starts without it (60 ms of imports)

    params = cloudinary.utils.sign_request(cloudinary.utils.build_upload_params(**options), options)
    fields: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, list):
            fields[f"{key}[]"] = [str(v) for v in value]
        elif value:
            fields[key] = str(value)
    try:
        response = httpx.post(cloudinary.utils.cloudinary_api_url("upload", **options), data=fields,
                              files={"file": (filename, stream, "application/octet-stream")},
                              headers={"User-Agent": cloudinary.get_user_agent(), **(headers or {})},
                              timeout=options.get("timeout"))
    except httpx.HTTPError as exc:
        raise cloudinary.exceptions.Error(f"Socket error: {exc!r}") from exc
    try:
        result: dict[str, Any] = response.json()
    except ValueError:
        raise cloudinary.exceptions.Error(f"Error parsing server response ({response.status_code}) - "
                                          f"{response.text[:200]}") from None
    if "error" in result:
        raise (EXCEPTION_CODES.get(response.status_code) or cloudinary.exceptions.Error)(result["error"]["message"])
    if response.headers.get("x-request-id"):
        result["request_id"] = response.headers["x-request-id"]  # as the SDK reports it
    return result


class FilePart(io.RawIOBase):
    """`length` bytes of a seekable stream from `start`, as a seekable file of its own (so the
    multipart encoder knows its length and reads it in small blocks)."""

    def __init__(self, stream: BinaryIO, start: int, length: int) -> None:
        super().__init__()
        self._stream, self._start, self._length, self._pos = stream, start, length, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._length}[whence]
        self._pos = max(0, min(self._length, base + offset))
        return self._pos

    def read(self, size: int = -1) -> bytes:
        left = self._length - self._pos
        size = left if size is None or size < 0 else min(size, left)
        if size <= 0:
            return b""
        self._stream.seek(self._start + self._pos)
        data = self._stream.read(size)
        self._pos += len(data)
        return data


def stream_size(stream: BinaryIO) -> int:
    position = stream.tell()
    size = stream.seek(0, os.SEEK_END)
    stream.seek(position)
    return size


def _part_sender(part: FilePart, filename: str, headers: dict[str, str]) -> Callable[..., dict[str, Any]]:
    def send(**options: Any) -> dict[str, Any]:
        part.seek(0)  # a retried part is sent again from its start
        return streamed_upload(cast(BinaryIO, part), filename, options, headers)

    return send


def upload_in_parts(call: Caller, stream: BinaryIO, filename: str, options: dict[str, Any],
                    chunk_size: int) -> dict[str, Any]:
    """A chunked upload: one request per `chunk_size` part (each retried on its own by `call`);
    the asset exists once the last part is in, and its answer is the upload's."""
    size = stream_size(stream)
    upload_id = cloudinary.utils.random_public_id()
    result: dict[str, Any] = {}
    starts = range(0, size, chunk_size)
    for number, start in enumerate(starts, start=1):
        length = min(chunk_size, size - start)
        headers = {"X-Unique-Upload-Id": upload_id, "Content-Range": f"bytes {start}-{start + length - 1}/{size}"}
        send = _part_sender(FilePart(stream, start, length), filename, headers)
        # Every part carries the same parameters (as the Node SDK's upload_chunked_stream sends
        # them); the upload id, not a public_id, ties the parts together.
        result = call(f"upload part {number}/{len(starts)}", send, **options)
    if not result.get("version"):
        raise StorePermanentError(f"chunked upload {upload_id}: Cloudinary did not finish the asset ({result!r})")
    return result
