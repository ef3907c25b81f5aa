"""The cleanup queue as small services, each with one job, a config built once from the settings
(`QueueConfig`) and a `run_once()` whose result has a one-line `summary()`:

- `producer.Producer` queues an asset from Python (SQL deletes are queued by the triggers);
- `drain.Drain` claims and settles (`settle.Settler`: the guard transaction and the outcomes,
  through `deleter.BudgetAwareDeleter`);
- `rescuer.Rescuer` returns expired leases; `reviver.Reviver` revives failed entries;
- `analyzer.Analyzer` refreshes the queue table's planner statistics;
- `stats.StatsReader` reads the queue's statistics.

`engine.CleanupQueue` composes them over one database; `processor.CleanupQueueProcessor` adds the
asset store and the deployment's settings.
"""

from mediasync.services.queue.config import QueueConfig
from mediasync.services.queue.engine import CleanupQueue
from mediasync.services.queue.processor import CleanupQueueProcessor
from mediasync.services.queue.results import BatchResult, FailedEntry, ProcessResult, QueueStats

__all__ = ["BatchResult", "CleanupQueue", "CleanupQueueProcessor", "FailedEntry", "ProcessResult", "QueueConfig",
           "QueueStats"]
