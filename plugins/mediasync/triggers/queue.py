"""`CleanupQueueTrigger`: wakes the cleanup DAG when rows are queued.

Migration 020 sends one `pg_notify('mediasync_cleanup_queue', '{"queued": n}')` per statement
that queues rows (a SQL `DELETE`, a soft delete, reconciliation, ...). This trigger LISTENs on a
direct or session connection (Supabase's transaction pooler cannot LISTEN) through
`mediasync.db.listen`, and fires one event per burst of notifications: the `AssetWatcher` of the
asset the DAG is scheduled on turns it into a DAG run, so a row deleted in SQL leaves Cloudinary
within seconds while an idle system creates no runs. A lost connection is retried with backoff;
notifications missed meanwhile are caught by the DAG's safety-net timetable.

Through a transaction pooler LISTEN cannot work (`SessionRequired`). Raising would only make the
triggerer log a traceback and restart the trigger forever; instead the trigger says so once, in
one line naming the fix, and polls for due work every `poll_seconds` — the seed's schedule, so
nothing is lost but the seconds.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import suppress
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from mediasync.db import Database, database_url_from_env, dsn_from_airflow_connection
from mediasync.db.listen import notifications
from mediasync.errors import MediasyncError, SessionRequired

log = logging.getLogger(__name__)

CHANNEL = "mediasync_cleanup_queue"


class CleanupQueueTrigger(BaseEventTrigger):
    """Fires `{"queued": n}` after notifications on the queue's channel (a burst within
    `debounce_seconds` is one event), and — after `poll_seconds` without one — when entries are due
    anyway (a retry's backoff ran out, a lease expired, a notification was missed): 30 s, the
    seed's schedule, is the worst case; an idle queue fires nothing."""

    def __init__(self, conn_id: str = "mediasync_db", channel: str = CHANNEL, debounce_seconds: float = 0.5,
                 poll_seconds: float = 30.0, max_backoff_seconds: float = 60.0) -> None:
        super().__init__()
        self.conn_id = conn_id
        self.channel = channel
        self.debounce_seconds = debounce_seconds
        self.poll_seconds = poll_seconds
        self.max_backoff_seconds = max_backoff_seconds

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{type(self).__module__}.{type(self).__qualname__}",
                {"conn_id": self.conn_id, "channel": self.channel, "debounce_seconds": self.debounce_seconds,
                 "poll_seconds": self.poll_seconds, "max_backoff_seconds": self.max_backoff_seconds})

    async def _database(self) -> Database:
        """The Airflow connection's database; the env vars only when the connection is not defined."""
        from airflow.exceptions import AirflowNotFoundException
        from airflow.sdk import BaseHook

        try:
            conn = await BaseHook.aget_connection(self.conn_id)
        except AirflowNotFoundException:
            return Database(database_url_from_env(), application_name="mediasync-trigger")
        return Database(dsn_from_airflow_connection(conn), application_name="mediasync-trigger")

    async def run(self) -> AsyncIterator[TriggerEvent]:
        backoff = 1.0
        while True:
            try:
                db = await self._database()
                async for event in self._listen(db):
                    backoff = 1.0
                    yield event
            except SessionRequired as exc:
                log.error("cleanup-queue trigger: %s; polling for due work every %.0f s instead", exc,
                          self.poll_seconds)
                async for event in self._poll(db):
                    yield event
            except MediasyncError as exc:
                log.warning("cleanup-queue trigger: %s; listening again in %.0f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_seconds)

    async def _listen(self, db: Database) -> AsyncIterator[TriggerEvent]:
        stream = notifications(db, self.channel)
        pending = 0
        next_note: asyncio.Task[str] | None = None
        try:
            await anext(stream)  # LISTEN is in place
            log.info("cleanup-queue trigger: listening on %s at %s", self.channel, db.describe())
            pending = await self._due_work(db)  # work queued while nobody listened
            while True:
                next_note = next_note or asyncio.ensure_future(anext(stream))
                done, _ = await asyncio.wait({next_note},
                                             timeout=self.debounce_seconds if pending else self.poll_seconds)
                if done:
                    payload, next_note = next_note.result(), None
                    pending += _queued(payload)
                    continue
                if not pending:  # quiet for poll_seconds: retries now due, or a notification missed?
                    pending = await self._due_work(db)
                if pending:
                    yield TriggerEvent({"queued": pending})
                    pending = 0
        finally:
            if next_note is not None:
                next_note.cancel()
                with suppress(asyncio.CancelledError, StopAsyncIteration, MediasyncError):
                    await next_note
            await stream.aclose()  # type: ignore[attr-defined]

    async def _poll(self, db: Database) -> AsyncIterator[TriggerEvent]:
        """Without LISTEN: ask for due work now and every `poll_seconds`; a lost connection is
        retried at the next poll."""
        while True:
            try:
                due = await self._due_work(db)
            except MediasyncError as exc:
                log.warning("cleanup-queue trigger: %s; polling again in %.0f s", exc, self.poll_seconds)
                due = 0
            if due:
                yield TriggerEvent({"queued": due})
            await asyncio.sleep(self.poll_seconds)

    @staticmethod
    async def _due_work(db: Database) -> int:
        from mediasync.services.queue.stats import StatsReader

        return await asyncio.to_thread(StatsReader(db).due_work)


def _queued(payload: str) -> int:
    try:
        return max(1, int(json.loads(payload).get("queued", 1)))
    except (ValueError, TypeError, AttributeError):
        return 1
