"""What a queue drain and a retention purge may be asked for: the one declaration of their
parameters (`mediasync.operation_requests`). `mediasync queue process`'s options and the body of
`POST /api/v1/cleanup-queue/process` come from `ProcessQueueRequest`; the `mediasync_retention`
DAG's Param and `mediasync retention`'s option from `RetentionRequest`."""

from __future__ import annotations

from pydantic import Field

from mediasync.operation_requests import OperationRequest, from_setting

API_TIME_BUDGET_SECONDS = 30.0  # a request to the API answers within this, whatever the body leaves empty


class ProcessQueueRequest(OperationRequest):
    """One drain of the cleanup queue."""

    batch_size: int | None = from_setting("cleanup_batch_size", "MEDIASYNC_CLEANUP_BATCH_SIZE",
                                          "Entries per claim.", ge=1, le=100, alias="batchSize",
                                          title="Batch size")
    retry_failed: bool = Field(False, alias="retryFailed", title="Retry failed",
                               description="Give failed entries a fresh attempt budget.")
    time_budget: float | None = Field(None, alias="timeBudget", gt=0, le=300, title="Time budget",
                                      description="Stop claiming after this many seconds. Empty: until nothing is "
                                                  f"due (through the API: {API_TIME_BUDGET_SECONDS:g} s).")


class RetentionRequest(OperationRequest):
    """One retention purge."""

    retention_days: int | None = from_setting("retention_days", "MEDIASYNC_RETENTION_DAYS",
                                              "Completed entries older than this many days are deleted.",
                                              cli="--days", ge=1, title="Retention (days)")
