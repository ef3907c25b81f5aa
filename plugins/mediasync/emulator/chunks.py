"""Chunked uploads (`upload_large`, `upload_chunked_stream`): parts of one file, sent as separate
Upload API requests to the same endpoint, assembled into one asset.

Cloudinary's rules ("Guidelines for self-implementing chunked upload", and what the SDKs send):
- every part carries the same `X-Unique-Upload-Id` and a `Content-Range: bytes start-end/total`;
  the Python and Go SDKs name the total on every part, the Node SDK only on the last (`/-1`
  before it; `/*` is accepted too);
- every part except the last must be at least 5 MB ("All parts except EOF-chunk must be larger
  than 5mb"); the part whose end is the total is the last, and it must arrive after all others;
- parts in between may arrive in any order (or again: a retried part rewrites its range);
- the asset exists once the last part has arrived; every part before answers
  `{"done": false, "bytes": <received so far>}` (plus `resource_type` and `public_id` when the
  request named them), as Cloudinary's published API description has it.

Parts are written at their offsets into one file under the data dir, never held in memory; the
upload's parameters are the first part's. Sessions live in memory: a restart forgets unfinished
uploads (their parts are removed at start).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from mediasync.emulator.errors import CloudinaryError

MIN_PART_BYTES = 5 * 1024 * 1024  # "All parts except EOF-chunk must be larger than 5mb"
MAX_REQUEST_BYTES = 100 * 1024 * 1024  # one request's file: "File size too large. Got N. Maximum is 104857600."
_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*|-1)$")


def too_large(size: int, limit: int) -> CloudinaryError:
    return CloudinaryError(400, f"File size too large. Got {size}. Maximum is {limit}.")


@dataclass(frozen=True)
class Part:
    start: int
    end: int  # inclusive, as in the header
    total: int | None  # None: not said yet (`/-1`, `/*`)

    @classmethod
    def parse(cls, header: str) -> Part:
        match = _RANGE.match(header.strip())
        if not match:
            raise CloudinaryError(400, f"Invalid Content-Range header {header!r}: expected 'bytes start-end/total'")
        start, end = int(match[1]), int(match[2])
        total = int(match[3]) if match[3].isdigit() else None
        if end < start or (total is not None and end >= total):
            raise CloudinaryError(400, f"Invalid Content-Range header {header!r}")
        return cls(start, end, total)

    @property
    def size(self) -> int:
        return self.end - self.start + 1

    @property
    def last(self) -> bool:
        return self.total is not None and self.end + 1 == self.total


@dataclass
class Session:
    path: Path
    resource_type: str
    settings: dict[str, Any]
    unsigned: bool
    filename: str | None
    total: int | None = None
    ranges: list[tuple[int, int]] = field(default_factory=list)  # merged, half-open [start, end)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, start: int, end: int) -> None:
        merged: list[tuple[int, int]] = []
        for a, b in sorted([*self.ranges, (start, end)]):
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        self.ranges = merged

    @property
    def received(self) -> int:
        return sum(b - a for a, b in self.ranges)

    def complete(self) -> bool:
        return self.total is not None and self.ranges == [(0, self.total)]


class ChunkedUploads:
    """The unfinished chunked uploads of one emulator, by upload id."""

    def __init__(self, directory: Path, max_asset_bytes: int) -> None:
        self.directory = directory
        self.max_asset_bytes = max_asset_bytes
        self.sessions: dict[str, Session] = {}
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.sessions.clear()
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory.mkdir(parents=True, exist_ok=True)

    def _session(self, upload_id: str, resource_type: str, settings: dict[str, Any], unsigned: bool,
                 filename: str | None) -> Session:
        with self.lock:
            session = self.sessions.get(upload_id)
            if session is None:
                name = hashlib.sha256(upload_id.encode()).hexdigest()
                session = Session(self.directory / f"{name}.part", resource_type, settings, unsigned, filename)
                session.path.touch()
                self.sessions[upload_id] = session
            elif session.resource_type != resource_type:
                raise CloudinaryError(400, f"Chunked upload {upload_id}: every part must go to the same resource type")
            return session

    def discard(self, upload_id: str) -> None:
        with self.lock:
            session = self.sessions.pop(upload_id, None)
        if session is not None:
            session.path.unlink(missing_ok=True)

    def receive(self, upload_id: str, part: Part, data: BinaryIO, size: int, resource_type: str,
                settings: dict[str, Any], unsigned: bool, filename: str | None) -> tuple[Session, bool]:
        """Write one part; (its session, done): done once the last part completed the file."""
        if size != part.size:
            raise CloudinaryError(400, f"Chunk size {size} does not match its Content-Range ({part.size} bytes)")
        if size > MAX_REQUEST_BYTES:
            raise too_large(size, MAX_REQUEST_BYTES)
        if not part.last and size < MIN_PART_BYTES:
            raise CloudinaryError(400, "All parts except EOF-chunk must be larger than 5mb")
        if part.total is not None and part.total > self.max_asset_bytes:
            raise too_large(part.total, self.max_asset_bytes)
        session = self._session(upload_id, resource_type, settings, unsigned, filename)
        with session.lock:
            if part.total is not None and session.total not in (None, part.total):
                raise CloudinaryError(400, f"Chunked upload {upload_id}: the total size changed between parts")
            session.total = part.total if part.total is not None else session.total
        with session.path.open("r+b") as out:
            out.seek(part.start)
            data.seek(0)
            shutil.copyfileobj(data, out, 1 << 20)
        with session.lock:
            session.add(part.start, part.end + 1)
            if not part.last:
                return session, False
            done = session.complete()
        if not done:
            self.discard(upload_id)
            raise CloudinaryError(400, f"Chunked upload {upload_id}: the last part arrived before all others "
                                       f"({session.received} of {session.total} bytes received)")
        with self.lock:
            self.sessions.pop(upload_id, None)
        return session, True
