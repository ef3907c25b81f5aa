"""The rescuer: entries whose lease expired (their processor died) go back to pending, or to
failed when their attempts are spent — River's rescuer, run before every drain."""

from __future__ import annotations

import logging

from mediasync.db import Database
from mediasync.repository.queue import QueueRepository
from mediasync.services.queue.config import QueueConfig
from mediasync.services.queue.results import RescueResult

log = logging.getLogger(__name__)


class Rescuer:
    def __init__(self, db: Database, config: QueueConfig, repository: QueueRepository | None = None) -> None:
        self.db = db
        self.config = config
        self.repo = repository or QueueRepository()

    def run_once(self, db: Database | None = None) -> RescueResult:
        """Return every expired lease, `rescue_limit` entries a statement."""
        limit = self.config.rescue_limit
        rescued = 0
        while True:
            with (db or self.db).transaction() as conn:
                counts = self.repo.rescue_expired(conn, limit)
            batch = counts["pending"] + counts["failed"]
            rescued += batch
            if batch < limit:
                break
        result = RescueResult(rescued=rescued)
        if rescued:
            log.warning("%s", result.summary())
        return result
