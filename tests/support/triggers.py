"""The cleanup queue's trigger as the product builds it, telling a test when it has looked for due
work: with LISTEN, that look comes right after LISTEN is in place, so from then on every change
reaches it as a notification; when polling, it is the first poll."""

from __future__ import annotations

import threading
from typing import Any

from mediasync.db import Database
from mediasync.triggers.queue import CleanupQueueTrigger


class WatchedTrigger(CleanupQueueTrigger):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.looked = threading.Event()  # set by the triggerer's thread pool, read by the test's loop

    async def _due_work(self, db: Database) -> int:  # type: ignore[override]
        due = await CleanupQueueTrigger._due_work(db)
        self.looked.set()
        return due
