"""The operator's views in SQL: runs with who started them, requests for runs made through
Airflow, and the hourly/run-by-run series the page's charts draw."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mediasync.db import Connection, Row


class OperationsRepository:
    def record_request(self, conn: Connection, *, dag_id: str, dag_run_id: str, requested_by: str,
                       conf: dict[str, Any]) -> None:
        conn.execute("operations.record_request", {"dag_id": dag_id, "dag_run_id": dag_run_id,
                                                   "requested_by": requested_by, "conf": conf})

    def requester(self, conn: Connection, dag_id: str, dag_run_id: str) -> str | None:
        value = conn.scalar("operations.requester", {"dag_id": dag_id, "dag_run_id": dag_run_id})
        return None if value is None else str(value)

    def attribute_run(self, conn: Connection, *, run_id: int, triggered_by: str, dag_id: str | None,
                      dag_run_id: str | None) -> None:
        conn.execute("operations.attribute_run", {"run_id": run_id, "triggered_by": triggered_by,
                                                  "dag_id": dag_id, "dag_run_id": dag_run_id})

    def runs(self, conn: Connection, limit: int) -> list[Row]:
        return conn.all("operations.runs_with_requests", {"limit": limit})

    def run(self, conn: Connection, run_id: int) -> Row | None:
        return conn.one("operations.run", {"run_id": run_id})

    def run_of_dag_run(self, conn: Connection, dag_id: str, dag_run_id: str) -> int | None:
        value = conn.scalar("operations.run_of_dag_run", {"dag_id": dag_id, "dag_run_id": dag_run_id})
        return None if value is None else int(value)

    def record_operation(self, conn: Connection, *, operation: str, requested_by: str | None,
                         dag_run_id: str | None, params: dict[str, Any]) -> int:
        return int(conn.scalar("operations.record_operation", {"operation": operation, "requested_by": requested_by,
                                                               "dag_run_id": dag_run_id, "params": params}))

    def finish_operation(self, conn: Connection, request_id: int, result: dict[str, Any]) -> None:
        conn.execute("operations.finish_operation", {"id": request_id, "result": result})

    def operation_requests(self, conn: Connection, operation: str, limit: int) -> list[Row]:
        return conn.all("operations.operation_requests", {"operation": operation, "limit": limit})

    def purge_operation_requests(self, conn: Connection, cutoff: datetime) -> int:
        return conn.execute("operations.purge_operation_requests", {"cutoff": cutoff})

    def queue_series(self, conn: Connection, hours: int) -> list[Row]:
        return conn.all("operations.queue_series", {"hours": hours})

    def drift_series(self, conn: Connection, limit: int) -> list[Row]:
        return conn.all("operations.drift_series", {"limit": limit})


class VerifyRepository:
    """What `mediasync verify` removes again: its run and its namespace's queue entries."""

    def delete_run(self, conn: Connection, run_id: int) -> None:
        conn.execute("verify.delete_run", {"run_id": run_id})

    def delete_queue_entries(self, conn: Connection, prefix: str, public_ids: list[str]) -> int:
        return conn.execute("verify.delete_queue_entries", {"prefix": prefix, "ids": public_ids})

    def pending_entry_ids(self, conn: Connection, prefix: str, public_ids: list[str]) -> list[int]:
        return [int(r["id"]) for r in conn.all("verify.queue_entry_ids", {"prefix": prefix, "ids": public_ids})]

    def delete_listing_state(self, conn: Connection, key_prefix: str) -> None:
        conn.execute("verify.delete_listing_state", {"key_prefix": key_prefix})

    def report_paths(self, conn: Connection, run_id: int) -> list[str]:
        row = conn.one("verify.run_report_paths", {"run_id": run_id})
        return [p for p in (row or {}).values() if p]
