"""Reviving failed entries: an operator's `--retry-failed` gives them a fresh attempt budget."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from mediasync.db import Database
from mediasync.repository.queue import QueueRepository
from mediasync.services.queue.results import ReviveResult

log = logging.getLogger(__name__)


class Reviver:
    def __init__(self, db: Database, repository: QueueRepository | None = None) -> None:
        self.db = db
        self.repo = repository or QueueRepository()

    def run_once(self, ids: Sequence[int] | None = None, db: Database | None = None) -> ReviveResult:
        """Failed entries (all, or `ids`) back to pending with their attempts reset."""
        with (db or self.db).transaction() as conn:
            result = ReviveResult(revived=self.repo.retry_failed(conn, ids))
        if result.revived:
            log.info("%s", result.summary())
        return result
