"""Airflow's own REST API, as the plugin calls it on behalf of the signed-in user: a run started
from the page is a normal DAG run (Params validated, listed in Airflow, run by its scheduler)."""

from __future__ import annotations

from typing import Any

import httpx

from mediasync.errors import MediasyncError


class AirflowApiError(MediasyncError):
    """Airflow refused or failed the call; `status_code` is what the plugin answers with."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class AirflowRestClient:
    def __init__(self, base_url: str, token: str, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.transport = transport

    def trigger_dag(self, dag_id: str, conf: dict[str, Any], note: str | None = None) -> dict[str, Any]:
        """POST /api/v2/dags/{dag_id}/dagRuns: a manual run now, with `conf` as its Params."""
        body = {"logical_date": None, "conf": conf, "note": note}
        try:
            with httpx.Client(base_url=self.base_url, timeout=self.timeout, transport=self.transport,
                              headers={"Authorization": f"Bearer {self.token}"}) as client:
                response = client.post(f"/api/v2/dags/{dag_id}/dagRuns", json=body)
        except httpx.HTTPError as exc:
            raise AirflowApiError(f"Airflow's REST API could not be reached: {exc}", 502) from None
        if response.status_code in (401, 403):
            raise AirflowApiError("Airflow refused to start the run for this user", response.status_code)
        if response.status_code == 404:
            raise AirflowApiError(f"Airflow does not know the DAG {dag_id} (has the DAG processor parsed it?)", 404)
        if response.status_code >= 400:
            raise AirflowApiError(f"Airflow refused the run: {_detail(response)}",
                                  422 if response.status_code < 500 else 502)
        result: dict[str, Any] = response.json()
        return result


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        return response.text[:300]
    return detail if isinstance(detail, str) else str(detail)[:300]
