"""Memory of the plugin's API under concurrent large uploads: the app (with a stand-in user, the
real upload path to the emulator) runs in its own process; four clients upload a ~99 MiB video
each at once. Figures: RSS before, peak RSS (VmHWM) of the API process, statuses. Uploads are
spooled to disk by the form parser and streamed on to Cloudinary in chunks, so the peak should
stay near the idle size rather than grow by a few copies of each file."""

import os
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import httpx

from _harness import emulator, fresh_database, report
from support.emulator import free_port

UPLOADS = int(os.environ.get("BENCH_UPLOADS", "4"))
SIZE = int(os.environ.get("BENCH_UPLOAD_MB", "99")) * 1024 * 1024
APP = """
import sys, uvicorn
from mediasync.api.app import create_app
from mediasync.runtime import services_from_env
async def anyone(): return "bench"
class Everyone:  # no Airflow auth manager outside Airflow: the benchmark measures uploads, not authorization
    def allows(self, user, check): return True
uvicorn.run(create_app(services_factory=lambda: services_from_env(pooled=True), user_dependency=anyone,
                       authorizer=Everyone()),
            host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def video(size: int) -> bytes:
    """An MP4 whose structure is valid (ftyp, moov, mdat) with `size` bytes of media data."""
    return (struct.pack(">I", 16) + b"ftypisom" + b"\0" * 4 + struct.pack(">I", 24) + b"moov" + b"\0" * 16
            + struct.pack(">I", size + 8) + b"mdat" + b"\0" * size)


def memory(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) // 1024 for line in status if line.startswith(field))


with fresh_database() as db, emulator() as running:
    port = free_port()
    env = {**os.environ, "MEDIASYNC_DATABASE_URL": db.url, "CLOUDINARY_URL": running.cloudinary_url,
           "MEDIASYNC_MAX_UPLOAD_BYTES": str(SIZE + 1024 * 1024)}
    app = subprocess.Popen([sys.executable, "-c", APP, str(port)], env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/api/v1/cleanup-queue", timeout=2)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        before = memory(app.pid, "VmRSS")
        body, statuses = video(SIZE), []

        def upload(i: int) -> None:
            response = httpx.post(f"http://127.0.0.1:{port}/api/v1/media", timeout=600,
                                  files={"file": (f"bench-{i}.mp4", body, "video/mp4")})
            statuses.append(response.status_code)

        threads = [threading.Thread(target=upload, args=(i,)) for i in range(UPLOADS)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        report("upload_memory", uploads=UPLOADS, upload_mb=SIZE // (1024 * 1024), statuses=sorted(statuses),
               seconds=round(time.monotonic() - started, 2), rss_before_mb=before,
               peak_rss_mb=memory(app.pid, "VmHWM"))
    finally:
        app.terminate()
        app.wait(30)
