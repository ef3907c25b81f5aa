"""Who asked for a queue drain or a retention purge, with what, and what it did — recorded by the
service itself, whichever surface asked (a DAG run, the CLI, the API). A reconciliation records
the same on its run row (`Reconciler.run(requested_by=...)`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from mediasync.db import Database
from mediasync.operation_requests import OperationRequest
from mediasync.repository.operations import OperationsRepository
from mediasync.results import Result

Operation = Literal["queue_process", "retention"]


class OperationRequestRecord(Result):
    id: int
    operation: Operation
    requested_by: str | None
    dag_run_id: str | None
    params: dict[str, Any]
    requested_at: datetime
    finished_at: datetime | None
    result: dict[str, Any] | None


class Provenance:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.repo = OperationsRepository()

    def requested(self, operation: Operation, request: OperationRequest, requested_by: str | None,
                  dag_run_id: str | None = None) -> int:
        """Record the request before the work starts (a drain that dies still says who asked)."""
        with self.db.transaction() as conn:
            return self.repo.record_operation(conn, operation=operation, requested_by=requested_by,
                                              dag_run_id=dag_run_id, params=request.model_dump(mode="json"))

    def finished(self, request_id: int, result: Result) -> None:
        with self.db.transaction() as conn:
            self.repo.finish_operation(conn, request_id, result.as_dict())

    def recent(self, operation: Operation, limit: int = 20) -> list[OperationRequestRecord]:
        with self.db.transaction() as conn:
            return [OperationRequestRecord.model_validate(r)
                    for r in self.repo.operation_requests(conn, operation, limit)]
