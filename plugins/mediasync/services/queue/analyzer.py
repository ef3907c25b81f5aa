"""The analyzer: ANALYZE the queue table when it changed a lot since the planner last looked (a
bulk DELETE just queued 100k rows) — with stale statistics every claim sorts the whole backlog."""

from __future__ import annotations

import logging

from mediasync.db import Database
from mediasync.repository.queue import QueueRepository
from mediasync.services.queue.config import QueueConfig
from mediasync.services.queue.results import AnalyzeResult

log = logging.getLogger(__name__)


class Analyzer:
    def __init__(self, db: Database, config: QueueConfig, repository: QueueRepository | None = None) -> None:
        self.db = db
        self.config = config
        self.repo = repository or QueueRepository()

    def run_once(self, db: Database | None = None) -> AnalyzeResult:
        """Refresh the statistics when the changes pass both thresholds of the config."""
        with (db or self.db).transaction() as conn:
            grown, estimated = self.repo.statistics_staleness(conn)
            stale = grown >= self.config.analyze_min_changes and grown >= self.config.analyze_min_fraction * estimated
            if stale:
                self.repo.analyze(conn)
        result = AnalyzeResult(analyzed=stale, changes=grown, estimated_rows=estimated)
        if stale:
            log.info("%s", result.summary())
        return result
