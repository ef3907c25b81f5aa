"""A burst of Cloudinary notifications, as a console bulk delete or a folder move sends them: N signed
notifications (a third each deletes, renames and tag changes, every one about a different asset)
POSTed by 32 concurrent senders (aiohttp) to the real `airflow api-server` with the mediasync plugin.
Then the database is checked: every notification stored once and applied, every row changed as its
notification says, nothing lost. A sender whose answer is not 2xx sends again, as Cloudinary does.

Second part, open loop: fresh notifications offered at fixed rates (fractions of the sustained rate
measured first), each step for BENCH_RAMP_SECONDS; per step the p50/p99 answer time, and the first
offered rate whose p99 exceeds 1 s and Cloudinary's webhook timeout (BENCH_WEBHOOK_TIMEOUT_S).

BENCH_BURST_NOTIFICATIONS (10000), BENCH_BURST_SENDERS (32), BENCH_RAMP=0 skips the second part."""

import asyncio
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

sys.path.insert(0, os.path.dirname(__file__))
from _harness import emulator_process, fresh_database, machine, report
from mediasync.db.dsn import airflow_connection_fields
from mediasync.processes import stop_process_group, wait_for_http

N = int(os.environ.get("BENCH_BURST_NOTIFICATIONS", "10000"))
SENDERS = int(os.environ.get("BENCH_BURST_SENDERS", "32"))
RAMP = os.environ.get("BENCH_RAMP", "1") != "0"
RAMP_SECONDS = float(os.environ.get("BENCH_RAMP_SECONDS", "8"))
RAMP_FRACTIONS = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)
# Cloudinary does not publish how long it waits for a webhook's answer; the emulator waits 10 s.
WEBHOOK_TIMEOUT_S = float(os.environ.get("BENCH_WEBHOOK_TIMEOUT_S", "10"))
REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
PATH = "/mediasync/api/v1/cloudinary/notifications"
# Airflow's advice: about one API server worker per core (`[api] workers`, default 1).
WORKERS = int(os.environ.get("BENCH_API_WORKERS", str(os.cpu_count() or 1)))


def api_server(home: Path, db_url: str, emu) -> tuple[subprocess.Popen, str]:
    """`airflow api-server` with the plugin and WORKERS worker processes."""
    from support.emulator import free_port

    port = free_port()
    base = emu.base_url.replace(":", "%3A").replace("/", "%2F")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "CLOUDINARY_", "MEDIASYNC_"))}
    env.update(AIRFLOW_HOME=str(home), AIRFLOW__CORE__LOAD_EXAMPLES="False",
               AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
               AIRFLOW_CONN_MEDIASYNC_DB=json.dumps(airflow_connection_fields(db_url)),
               AIRFLOW_CONN_CLOUDINARY_DEFAULT=f"cloudinary://mediasync-key:mediasync-secret@demo?api_base_url={base}",
               PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if os.environ.get("BENCH_API_PYTHONPATH"):  # another checkout's plugins/ for the server: a before/after pair
        env["PYTHONPATH"] = os.environ["BENCH_API_PYTHONPATH"]
    subprocess.run([str(VENV_BIN / "airflow"), "db", "migrate"], env=env, check=True, capture_output=True,
                   stdin=subprocess.DEVNULL, timeout=600)
    with (home / "api-server.log").open("w") as log:
        command = [str(VENV_BIN / "airflow"), "api-server", "--host", "127.0.0.1", "--port", str(port),
                   "--workers", str(WORKERS)]
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/api/v2/version", "airflow api-server", 300, process)
    except BaseException:
        stop_process_group(process)
        raise
    return process, url


def seed(db, count: int) -> list[dict]:
    """`count` rows in the managed folder; their asset_ids and public_ids."""
    with db.session() as conn:
        return conn.sql("INSERT INTO media_files (public_id, format, bytes, folder, asset_id, asset_folder) "
                        "SELECT 'main-uploads/b' || g, 'png', 68, 'main-uploads', md5('b' || g), 'main-uploads' "
                        "FROM generate_series(1, %(n)s) g RETURNING asset_id, public_id", {"n": count})


def body_for(i: int, row: dict, tag: str = "burst") -> dict:
    """A delete, a rename or a tag change (by i mod 3) of `row`."""
    ref = {"resource_type": "image", "type": "upload", "asset_id": row["asset_id"], "public_id": row["public_id"]}
    request = {"request_id": uuid.uuid4().hex, "notification_context": {"triggered_by": {"source": "ui"}}}
    if i % 3 == 0:
        return {"notification_type": "delete", "resources": [ref], **request}
    if i % 3 == 1:
        return {"notification_type": "rename", "resource_type": "image", "type": "upload",
                "asset_id": row["asset_id"], "from_public_id": row["public_id"],
                "to_public_id": row["public_id"].replace("main-uploads/", "main-uploads/renamed/"), **request}
    return {"notification_type": "resource_tags_changed", "resources": [{**ref, "added": [tag], "removed": []}],
            **request}


def signed(body: dict, secret: str = "mediasync-secret") -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body, separators=(",", ":")).encode()
    stamp = str(int(time.time()))
    return raw, {"X-Cld-Timestamp": stamp, "X-Cld-Signature": hashlib.sha1(raw + stamp.encode() + secret.encode())
                 .hexdigest(), "Content-Type": "application/json"}


def client(url: str, connections: int) -> aiohttp.ClientSession:
    """The senders' HTTP client: aiohttp keeps its parsing in C, so the load generator, which shares
    the machine's two cores with the server it measures, takes as little of them as it can."""
    return aiohttp.ClientSession(base_url=url, timeout=aiohttp.ClientTimeout(total=120),
                                 connector=aiohttp.TCPConnector(limit=connections))


async def post(session: aiohttp.ClientSession, raw: bytes, headers: dict[str, str], counts: dict) -> float:
    """Seconds until a 2xx answer (resending after anything else, as Cloudinary retries)."""
    started = time.perf_counter()
    while True:
        try:
            async with session.post(PATH, data=raw, headers=headers) as response:
                await response.read()
                if response.status < 300:
                    return time.perf_counter() - started
                counts[response.status] = counts.get(response.status, 0) + 1
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            counts[type(exc).__name__] = counts.get(type(exc).__name__, 0) + 1
        await asyncio.sleep(0.1)


async def burst(url: str, payloads: list[tuple[bytes, dict]], senders: int) -> tuple[float, list[float], dict]:
    """Closed loop: `senders` concurrent senders work through the payloads."""
    latencies: list[float] = []
    counts: dict = {}
    todo = iter(payloads)
    async with client(url, senders) as session:
        async def sender() -> None:
            for raw, headers in todo:
                latencies.append(await post(session, raw, headers, counts))

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(senders)))
        return time.perf_counter() - started, latencies, counts


async def offered(url: str, payloads: list[tuple[bytes, dict]], rate: float) -> tuple[list[float], dict]:
    """Open loop: one notification every 1/rate s, whatever the answers (as Cloudinary sends)."""
    counts: dict = {}
    async with client(url, 1000) as session:
        started = time.perf_counter()
        tasks = []
        for k, (raw, headers) in enumerate(payloads):
            await asyncio.sleep(max(0.0, started + k / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(post(session, raw, headers, counts)))
        return list(await asyncio.gather(*tasks)), counts


def quantile(values: list[float], q: float) -> float:
    return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1], 3) if len(values) > 1 else 0.0


def check(db, rows: list[dict], n: int) -> dict:
    """What the database says: each notification stored once and applied, each row changed."""
    with db.session() as conn:
        stored = conn.sql("SELECT count(*) AS n, count(DISTINCT body_sha256) AS distinct_bodies, "
                          "count(*) FILTER (WHERE outcome = 'applied') AS applied "
                          "FROM mediasync.cloudinary_notifications")[0]
        deleted = conn.sql("SELECT count(*) AS n FROM media_files WHERE status = 'deleted' "
                           "AND public_id = ANY(%(p)s)", {"p": [r["public_id"] for r in rows[0:n:3]]})[0]["n"]
        renamed = conn.sql("SELECT count(*) AS n FROM media_files WHERE public_id LIKE 'main-uploads/renamed/%%'"
                           )[0]["n"]
        tagged = conn.sql("SELECT count(*) AS n FROM media_tags WHERE tag = 'burst'")[0]["n"]
    expected = {"deleted": len(range(0, n, 3)), "renamed": len(range(1, n, 3)), "tagged": len(range(2, n, 3))}
    found = {"stored": stored["n"], "distinct": stored["distinct_bodies"], "applied": stored["applied"],
             "deleted": deleted, "renamed": renamed, "tagged": tagged}
    lost = n - min(found["applied"], found["deleted"] + found["renamed"] + found["tagged"])
    assert found["stored"] == found["distinct"] == found["applied"] == n, found
    assert all(found[k] == v for k, v in expected.items()), (found, expected)
    return {**found, "lost": lost}


def ramp(url: str, rows: list[dict], sustained: float) -> dict:
    """Offered rates around the sustained one; where p99 passes 1 s and the webhook timeout."""
    steps, seen = [], 0
    for fraction in RAMP_FRACTIONS:
        rate = round(sustained * fraction)
        count = max(1, int(rate * RAMP_SECONDS))
        payloads = [signed(body_for(2, rows[(seen + k) % len(rows)], tag=f"ramp-{seen + k}")) for k in range(count)]
        seen += count
        latencies, counts = asyncio.run(offered(url, payloads, rate))
        steps.append({"offered_per_s": rate, "notifications": count, "p50_s": quantile(latencies, 50),
                      "p99_s": quantile(latencies, 99), "max_s": round(max(latencies), 3), "resent": counts})
        if steps[-1]["p99_s"] > WEBHOOK_TIMEOUT_S:
            break
    first = {limit: next((s["offered_per_s"] for s in steps if s["p99_s"] > limit), None)
             for limit in (1.0, WEBHOOK_TIMEOUT_S)}
    return {"steps": steps, "seconds_per_step": RAMP_SECONDS, "p99_over_1s_from_per_s": first[1.0],
            "p99_over_webhook_timeout_from_per_s": first[WEBHOOK_TIMEOUT_S], "webhook_timeout_s": WEBHOOK_TIMEOUT_S}


def main() -> None:
    with fresh_database() as db, emulator_process() as emu, tempfile.TemporaryDirectory() as home:
        rows = seed(db, N)
        payloads = [signed(body_for(i, row)) for i, row in enumerate(rows)]
        process, url = api_server(Path(home), db.url, emu)
        try:
            asyncio.run(burst(url, payloads[:min(50, N)], 4))  # the services' first use: built, connected
            cpu_before = time.process_time()
            seconds, latencies, counts = asyncio.run(burst(url, payloads[50:], SENDERS))
            sender_cpu = time.process_time() - cpu_before
            sent = len(payloads) - 50
            checked = check(db, rows, N)
            rate = sent / seconds
            ramped = ramp(url, [r for i, r in enumerate(rows) if i % 3 == 2], rate) if RAMP else None
        finally:
            stop_process_group(process)
        report("notification_burst", notifications=N, senders=SENDERS, seconds=round(seconds, 2),
               sustained_per_s=round(rate, 1), p50_s=quantile(latencies, 50), p99_s=quantile(latencies, 99),
               max_s=round(max(latencies), 3), resent=counts, database=checked, open_loop=ramped,
               sender_cpu_s=round(sender_cpu, 1), api_server_workers=WORKERS, machine=machine())


if __name__ == "__main__":
    main()
