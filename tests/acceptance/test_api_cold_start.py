"""One pool per process, whatever the concurrency at start-up: a fresh `airflow api-server` whose
very first plugin traffic is 200 event streams and 100 listings at once holds at most its pool
(10 connections) plus one LISTEN connection in PostgreSQL — and no more once the streams close."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import psycopg
import pytest

from fixtures.airflow import running_api_server
from fixtures.database import create_database, drop_database
from mediasync.db import PooledDatabase
from support.waiting import wait_until

pytestmark = [pytest.mark.reliability, pytest.mark.slow]
STREAMS, LISTINGS = 200, 100  # interleaved 2:1 below
POOL = PooledDatabase.max_size  # the plugin's pool size per process (10)


def sessions(server_url: str, name: str) -> tuple[int, int]:
    """(all sessions, LISTEN sessions) the API server holds on its database."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        return conn.execute("SELECT count(*), count(*) FILTER (WHERE query LIKE 'LISTEN %%') "
                            "FROM pg_stat_activity WHERE datname = %s", (name,)).fetchone()


async def first_traffic(base_url: str, token: str, measure) -> tuple[list[int], list[int], tuple[int, int]]:
    """Open every stream and every listing at once; measure while all streams are open; close them."""
    opened: list[int] = []
    listed: list[int] = []
    everyone_in = asyncio.Event()
    release = asyncio.Event()
    limits = httpx.Limits(max_connections=STREAMS + LISTINGS, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=f"{base_url}/mediasync", timeout=120, limits=limits,
                                 headers={"Authorization": f"Bearer {token}"}) as client:

        async def stream() -> None:
            async with client.stream("GET", "/api/v1/events") as response:
                opened.append(response.status_code)
                if response.status_code == 200:
                    async for line in response.aiter_lines():
                        if line == ": connected":
                            break
                if len(opened) == STREAMS:
                    everyone_in.set()
                await release.wait()

        async def listing() -> None:
            listed.append((await client.get("/api/v1/media", params={"limit": 5})).status_code)

        # interleaved (a listing, two streams, ...), all started before any answers
        work = [asyncio.create_task(listing() if i % 3 == 0 else stream()) for i in range(STREAMS + LISTINGS)]
        await asyncio.wait_for(everyone_in.wait(), timeout=180)
        while len(listed) < LISTINGS:
            await asyncio.sleep(0.1)
        peak = await asyncio.to_thread(measure)
        release.set()
        await asyncio.gather(*work)
    return opened, listed, peak


def test_a_cold_start_under_300_concurrent_requests_holds_one_pool_and_one_listen(
        tmp_path, pg_server_url, template_database, emulator_server):
    name = f"mediasync_cold_{uuid.uuid4().hex[:8]}"
    db_url = create_database(pg_server_url, name, template=template_database)
    try:
        _cold_start(tmp_path, pg_server_url, db_url, name, emulator_server)
    finally:
        drop_database(pg_server_url, name)


def _cold_start(tmp_path, pg_server_url: str, db_url: str, name: str, emulator_server) -> None:
    with running_api_server(tmp_path, db_url, name, emulator_server) as server:
        assert sessions(pg_server_url, server.db_name) == (0, 0)  # the plugin has not been called yet
        token = server.token("viewer")
        opened, listed, peak = asyncio.run(first_traffic(server.base_url, token,
                                                         lambda: sessions(pg_server_url, server.db_name)))
        assert opened == [200] * STREAMS and listed == [200] * LISTINGS
        total, listening = peak
        assert listening == 1 and total <= POOL + 1, peak
        def settled() -> tuple[int, int] | None:  # every stream's disconnect noticed
            now = sessions(pg_server_url, server.db_name)
            return now if now[1] == 1 and now[0] <= POOL + 1 else None

        after = wait_until(settled, timeout=30, interval=0.2, message="the sessions never settled after the streams")
        assert after[1] == 1 and after[0] <= POOL + 1, after
        with httpx.Client(base_url=f"{server.base_url}/mediasync", timeout=30,
                          headers={"Authorization": f"Bearer {token}"}) as client:  # and it still serves
            assert client.get("/api/v1/cleanup-queue").status_code == 200
        assert sessions(pg_server_url, server.db_name)[0] <= POOL + 1
