"""A 300 MB video through `POST /api/v1/media` of a real `airflow api-server` (MEDIASYNC_MAX_UPLOAD_BYTES
raised to 400 MiB, one worker), in both folder modes: one asset of the right size and checksum in the
emulator, sent as a chunked upload; one row; the server's peak RSS grows by at most 100 MB (the file
streams from the request to Cloudinary, never held in memory). A failed row insert destroys the
chunked asset. The bytes are made on the fly: nothing large is stored in the repository."""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import cloudinary.api
import psycopg
import pytest

from fixtures.airflow import ApiServer, fresh_copy, start_api_server, stop_api_server
from fixtures.database import create_database, drop_database
from fixtures.emulator import sdk
from fixtures.media import tiny_png

MB = 1024 * 1024
SIZE = 300 * MB
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
_HEAD = (b"\0\0\0\x20ftypisom\0\0\2\0isomiso2avc1mp41" + b"\0\0\0\x18moov" + b"\0" * 16)


class SyntheticVideo(io.RawIOBase):
    """An MP4 of `size` bytes (ftyp, moov, then one mdat box holding the rest) produced as it is read,
    seekable so the client can announce its length."""

    def __init__(self, size: int, seed: int = 7) -> None:
        super().__init__()
        mdat = size - len(_HEAD)
        self._head = _HEAD + mdat.to_bytes(4, "big") + b"mdat"
        self._block = hashlib.sha512(str(seed).encode()).digest() * 1024  # 64 KiB of media data
        self._size, self._pos = size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        self._pos = max(0, min(self._size, {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._size}[whence]
                                + offset))
        return self._pos

    def read(self, size: int = -1) -> bytes:
        size = self._size - self._pos if size is None or size < 0 else min(size, self._size - self._pos)
        out = bytearray()
        while len(out) < size:
            pos = self._pos + len(out)
            if pos < len(self._head):
                out += self._head[pos:pos + size - len(out)]
            else:
                at = (pos - len(self._head)) % len(self._block)
                out += self._block[at:at + size - len(out)]
        self._pos += len(out)
        return bytes(out)


def md5_of(stream: io.RawIOBase) -> str:
    digest = hashlib.md5()
    while block := stream.read(4 * MB):
        digest.update(block)
    stream.seek(0)
    return digest.hexdigest()


def session_pids(leader: int) -> list[int]:
    """The api-server's processes: every process of its session."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getsid(int(entry.name)) == leader:
                    pids.append(int(entry.name))
            except (ProcessLookupError, PermissionError):
                continue
    return pids


def kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


@pytest.fixture(scope="module")
def large_server(tmp_path_factory, pg_server_url, template_database, emulator_server) -> Iterator[ApiServer]:
    home = tmp_path_factory.mktemp("airflow-api-large")
    name = f"mediasync_large_{uuid.uuid4().hex[:8]}"
    db_url = create_database(pg_server_url, name, template=template_database)
    try:
        process, base_url = start_api_server(home, db_url, emulator_server, "--workers", "1",
                                             MEDIASYNC_MAX_UPLOAD_BYTES=str(400 * MB))
        try:
            yield ApiServer(base_url, db_url, name, emulator_server, process)
        finally:
            stop_api_server(process)
    finally:
        drop_database(pg_server_url, name)


@pytest.fixture
def server(large_server, pg_server_url, template_database, emulator) -> ApiServer:
    fresh_copy(pg_server_url, large_server.db_name, template_database)
    return large_server


def rows(server: ApiServer) -> list[dict]:
    with psycopg.connect(server.db_url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute("SELECT public_id, bytes, etag, format FROM media_files").fetchall()


def test_a_300_mb_video_streams_through_as_one_chunked_asset(server, emulator, emulator_folder_mode):
    with server.client() as client:
        client.timeout = 600
        warm = client.post("/api/v1/media", files={"file": ("warm.png", tiny_png(1), "image/png")})
        assert warm.status_code == 201, warm.text  # the upload path's code is loaded before measuring
        assert client.delete(f"/api/v1/media/{warm.json()['id']}", params={"permanent": "true"}).status_code == 200
        emulator.reset()
        if emulator_folder_mode != "fixed":
            emulator.control(folder_mode=emulator_folder_mode)
        video = SyntheticVideo(SIZE)
        checksum = md5_of(video)
        pids = session_pids(server.process.pid)
        for pid in pids:
            Path(f"/proc/{pid}/clear_refs").write_text("5")  # peak RSS (VmHWM) starts again from now
        before = {pid: kib(pid, "VmRSS") for pid in pids}
        started = time.monotonic()
        created = client.post("/api/v1/media", files={"file": ("ocean.mp4", video, "video/mp4")},
                              data={"alt": "Waves at dawn"})
        seconds = time.monotonic() - started
        growth = {pid: kib(pid, "VmHWM") - before[pid] for pid in pids if Path(f"/proc/{pid}").exists()}
    assert created.status_code == 201, created.text
    record = created.json()
    assert (record["bytes"], record["etag"], record["resource_type"], record["format"]) == (
        SIZE, checksum, "video", "mp4")
    assert record["context"] == {"alt": "Waves at dawn"}
    assert emulator.settings()["assets"] == 1 and emulator.upload_api_calls() == 15  # 20 MB parts
    asset = cloudinary.api.resource(record["public_id"], resource_type="video", **sdk(emulator))
    assert (asset["bytes"], asset["etag"]) == (SIZE, checksum)
    assert rows(server) == [{"public_id": record["public_id"], "bytes": SIZE, "etag": checksum, "format": "mp4"}]
    peak_growth_mb = max(growth.values()) / 1024
    figures = {"folder_mode": emulator_folder_mode, "size_mb": SIZE // MB, "seconds": round(seconds, 1),
               "processes": len(pids), "rss_before_mb": round(sum(before.values()) / 1024, 1),
               "peak_rss_growth_mb": round(peak_growth_mb, 1)}
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"large-upload-{emulator_folder_mode}.json").write_text(json.dumps(figures))
    print("large upload:", json.dumps(figures))
    assert peak_growth_mb <= 100, figures


def test_a_failed_row_insert_destroys_the_chunked_asset(server, emulator):
    with psycopg.connect(server.db_url, autocommit=True) as conn:
        conn.execute("""
            CREATE FUNCTION fail_insert() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN RAISE EXCEPTION 'disk full (simulated)'; END $$;
            CREATE TRIGGER fail_insert BEFORE INSERT ON media_files FOR EACH ROW EXECUTE FUNCTION fail_insert();
        """)
    with server.client() as client:
        client.timeout = 600
        failed = client.post("/api/v1/media", files={"file": ("lost.mp4", SyntheticVideo(120 * MB, seed=3),
                                                              "video/mp4")})
    assert failed.status_code >= 500 and "undone" in failed.json()["detail"], failed.text
    assert emulator.upload_api_calls() == 6 + 1  # it reached Cloudinary in parts; then one destroy
    assert emulator.settings()["assets"] == 0 and emulator.deletions()["deleted"] == 1
    assert rows(server) == []
    with psycopg.connect(server.db_url) as conn:
        assert conn.execute("SELECT count(*) FROM cloudinary_cleanup_queue").fetchone()[0] == 0
