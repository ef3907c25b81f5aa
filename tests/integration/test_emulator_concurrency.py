"""The emulator serves concurrent calls concurrently, as Cloudinary does: N listing calls in flight
at once, each delayed by the injected latency L, finish in about L, not N × L — and the store
stays consistent while uploads, deletes and listings run side by side."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import cloudinary.api
import cloudinary.uploader
from cloudinary import Search

from fixtures.emulator import sdk
from fixtures.media import tiny_png

CALLS = 8
LATENCY_MS = 250


def test_concurrent_listing_calls_overlap_their_latency(emulator):
    emulator.seed(1200, prefix="main-uploads/c")
    emulator.control(latency_ms=LATENCY_MS)

    def one(i: int) -> int:
        if i % 2:
            page = cloudinary.api.resources(prefix="main-uploads/", max_results=500, **sdk(emulator))
        else:
            page = Search().expression("folder:main-uploads/*").max_results(500).execute(**sdk(emulator))
        return len(page["resources"])

    started = time.monotonic()
    with ThreadPoolExecutor(CALLS) as pool:
        sizes = list(pool.map(one, range(CALLS)))
    elapsed = time.monotonic() - started

    assert sizes == [500] * CALLS
    serial = CALLS * LATENCY_MS / 1000
    assert elapsed < serial / 2, f"{CALLS} calls at {LATENCY_MS} ms took {elapsed:.2f} s: served one at a time"
    assert emulator.admin_calls() == CALLS


def test_the_store_stays_consistent_under_concurrent_changes(emulator):
    emulator.seed(600, prefix="main-uploads/s")
    emulator.control(latency_ms=20)

    def upload(i: int) -> str:
        return str(cloudinary.uploader.upload(tiny_png(i), public_id=f"main-uploads/u{i:03d}",
                                              **sdk(emulator))["public_id"])

    def delete(i: int) -> int:
        ids = [f"main-uploads/s{n:07d}" for n in range(i * 10, i * 10 + 10)]
        return len(cloudinary.api.delete_resources(ids, **sdk(emulator))["deleted"])

    def listing(_: int) -> int:
        return len(cloudinary.api.resources(prefix="main-uploads/", max_results=500, **sdk(emulator))["resources"])

    with ThreadPoolExecutor(12) as pool:
        uploads = [pool.submit(upload, i) for i in range(30)]
        deletes = [pool.submit(delete, i) for i in range(10)]
        listings = [pool.submit(listing, i) for i in range(10)]
        uploaded = {f.result() for f in uploads}
        deleted = sum(f.result() for f in deletes)
        assert all(f.result() == 500 for f in listings)

    assert len(uploaded) == 30 and deleted == 100
    assert emulator.assets() == 600 - 100 + 30
    listed, cursor = [], None
    while True:
        page = cloudinary.api.resources(prefix="main-uploads/", max_results=500, next_cursor=cursor, **sdk(emulator))
        listed += [r["public_id"] for r in page["resources"]]
        if not (cursor := page.get("next_cursor")):
            break
    assert len(listed) == len(set(listed)) == 530 and uploaded <= set(listed)
