"""LISTEN for PostgreSQL notifications, asynchronously (the page's live updates).

The connection is the database edge's like any other: opened with the project's settings,
driver errors mapped (a lost connection is `DatabaseUnavailable`, which the caller retries).
LISTEN lives in the session: through a transaction pooler it would stay on a server this
connection no longer uses and nothing would ever arrive, so it is refused there with
`SessionRequired`, which names the fix (retrying cannot help).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import psycopg
from psycopg import sql

from mediasync.db.connection import Database
from mediasync.db.errors import map_driver_error
from mediasync.db.pooling import LISTEN_NEEDS, require_session


async def notifications(db: Database, channel: str) -> AsyncIterator[str]:
    """Payloads sent on `channel`, for as long as the caller iterates; the first item is an empty
    string once LISTEN is in place, so the caller knows when it is connected."""
    async for _, payload in notifications_on(db, (channel,)):
        yield payload


async def notifications_on(db: Database, channels: Sequence[str]) -> AsyncIterator[tuple[str, str]]:
    """(channel, payload) for every notification on any of `channels`, over one connection; the
    first item is ("", "") once LISTEN is in place on all of them."""
    await asyncio.to_thread(require_session, db, LISTEN_NEEDS)
    try:
        conn = await psycopg.AsyncConnection.connect(db.url, autocommit=True, **db.connect_kwargs())
    except psycopg.Error as exc:
        raise map_driver_error(exc, db.url, connecting=True) from None
    try:
        async with conn:
            for channel in channels:
                await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            yield "", ""
            async for note in conn.notifies():
                yield note.channel, note.payload
    except psycopg.Error as exc:
        raise map_driver_error(exc, db.url) from exc
