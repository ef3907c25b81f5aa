"""Wake the notifications DAG when Cloudinary's poll channel has messages.

A `BaseEventTrigger` behind an `AssetWatcher`: the triggerer long-polls the channel
(`api.notifications`, `wait_seconds` up to 60) and fires an asset event as soon as a message is
there; the `mediasync_cloudinary_notifications` DAG then drains the channel through the ingest
service and acknowledges each message only after its commit. The trigger itself never acks and
never touches the database: it only peeks, with the shortest visibility timeout, so the messages
are visible again by the time the DAG's task reads them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from mediasync.errors import MediasyncError

PEEK_VISIBILITY_SECONDS = 1
MAX_WAIT_SECONDS = 60  # Cloudinary's long-poll limit
ERROR_BACKOFF_SECONDS = (1, 2, 5, 10, 30, 60)
MIN_INTERVAL_SECONDS = 1.0  # between empty answers when wait_seconds is 0 (no long poll)


class CloudinaryNotificationTrigger(BaseEventTrigger):
    def __init__(self, channel: str, wait_seconds: int = 20, cloudinary_conn_id: str = "cloudinary_default",
                 **kwargs: Any) -> None:
        super().__init__()
        self.channel = channel
        self.wait_seconds = max(0, min(int(wait_seconds), MAX_WAIT_SECONDS))
        self.cloudinary_conn_id = cloudinary_conn_id
        self._client: Any = None  # built on first poll, in a worker thread (the connection lookup is sync)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{type(self).__module__}.{type(self).__qualname__}",
                {"channel": self.channel, "wait_seconds": self.wait_seconds,
                 "cloudinary_conn_id": self.cloudinary_conn_id})

    def _peek(self) -> int:
        """How many messages the channel holds right now (0 after waiting up to wait_seconds)."""
        if self._client is None:
            from mediasync.hooks.cloudinary import CloudinaryHook

            self._client = CloudinaryHook(self.cloudinary_conn_id).get_conn()
        return len(self._client.receive_notifications(self.channel, max_messages=1, wait_seconds=self.wait_seconds,
                                                      visibility_timeout=PEEK_VISIBILITY_SECONDS))

    async def run(self) -> AsyncIterator[TriggerEvent]:
        failures = 0
        while True:
            try:
                waiting = await asyncio.to_thread(self._peek)
            except MediasyncError as exc:
                delay = ERROR_BACKOFF_SECONDS[min(failures, len(ERROR_BACKOFF_SECONDS) - 1)]
                failures += 1
                self.log.warning("polling Cloudinary channel %s failed (%s); again in %ss", self.channel, exc, delay)
                await asyncio.sleep(delay)
                continue
            failures = 0
            if waiting:
                self.log.info("Cloudinary channel %s has notifications", self.channel)
                yield TriggerEvent({"channel": self.channel})
                return
            if self.wait_seconds < MIN_INTERVAL_SECONDS:
                await asyncio.sleep(MIN_INTERVAL_SECONDS)
