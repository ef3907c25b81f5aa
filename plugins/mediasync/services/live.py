"""Live media changes: one LISTEN connection per process, fanned out to any number of subscribers.

The `media_files` triggers send one `pg_notify('mediasync_media_changes', ...)` per statement,
whatever wrote the rows (the API, a DAG, psql), and the delete brake one
`pg_notify('mediasync_deletion_batches', ...)` when it holds a batch. The page's Server-Sent Events
stream subscribes here: each event is (kind, payload), kind `media` or `deletion`. If the database
connection drops, the listener reconnects with backoff and tells subscribers to resynchronise
(`{"op": "RESYNC"}`), since notifications sent meanwhile are lost.
LISTEN needs a session: through a transaction pooler the broadcaster refuses once, with the fix
(`SessionRequired`), instead of retrying what can never work; `ensure_session` lets the events
route answer that refusal before it starts a stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncGenerator

from pydantic import BaseModel, Field

from mediasync.db import Database
from mediasync.db.listen import notifications_on
from mediasync.db.pooling import LISTEN_NEEDS, require_session
from mediasync.errors import MediasyncError, SessionRequired

log = logging.getLogger(__name__)

CHANNEL = "mediasync_media_changes"
CHANNELS = {CHANNEL: "media", "mediasync_deletion_batches": "deletion"}  # channel -> the SSE event's name
QUEUE_LIMIT = 1000
Event = tuple[str, dict]
RESYNC: Event = ("media", {"op": "RESYNC"})


class LiveStatus(BaseModel):
    """What an operator asks of live updates: is the LISTEN in place, and how many pages are open."""

    listening: bool = Field(description="the database LISTEN is in place")
    subscribers: int = Field(description="event streams open in this API-server process")
    refused: str | None = Field(None, description="why live updates are off (a transaction pooler), if they are")


class MediaChangeBroadcaster:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._subscribers: set[asyncio.Queue] = set()
        self._task: asyncio.Task | None = None
        self.connected = asyncio.Event()
        self.refused: SessionRequired | None = None

    async def ensure_session(self) -> None:
        """Raise `SessionRequired` when the database is a transaction pooler (probed once per DSN),
        where live updates cannot work."""
        if self.refused is not None:
            raise self.refused
        await asyncio.to_thread(require_session, self.db, LISTEN_NEEDS)

    def status(self) -> LiveStatus:
        return LiveStatus(listening=self.connected.is_set(), subscribers=len(self._subscribers),
                          refused=str(self.refused) if self.refused else None)

    async def subscribe(self) -> AsyncGenerator[Event, None]:
        """Yield (kind, event) until the caller stops iterating."""
        self._ensure_running()
        queue: asyncio.Queue = asyncio.Queue(maxsize=QUEUE_LIMIT)
        self._subscribers.add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._subscribers.discard(queue)

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._listen_forever(), name="mediasync-listen")

    def _publish(self, event: Event) -> None:
        for queue in list(self._subscribers):
            if queue.full():  # a stalled client: drop its backlog and ask it to resynchronise
                with contextlib.suppress(asyncio.QueueEmpty):
                    while True:
                        queue.get_nowait()
                queue.put_nowait(RESYNC)
            else:
                queue.put_nowait(event)

    async def _listen_forever(self) -> None:
        delay = 0.5
        while True:
            try:
                async for channel, payload in notifications_on(self.db, tuple(CHANNELS)):
                    if not channel:  # LISTEN is in place
                        self.connected.set()
                        if delay > 0.5:
                            self._publish(RESYNC)
                        delay = 0.5
                        continue
                    try:
                        self._publish((CHANNELS[channel], json.loads(payload)))
                    except json.JSONDecodeError:
                        log.warning("ignoring a malformed notification: %r", payload[:200])
            except asyncio.CancelledError:
                raise
            except SessionRequired as exc:  # a transaction pooler: retrying cannot help
                self.refused = exc
                log.error("live updates are off: %s", exc)
                return
            except (MediasyncError, OSError) as exc:
                self.connected.clear()
                log.warning("live updates: database connection lost (%s); reconnecting in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
