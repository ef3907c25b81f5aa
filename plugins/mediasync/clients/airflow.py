"""Starting a DAG run from the plugin: Airflow's own trigger, called in this process.

The plugin runs inside Airflow's API server, which holds Airflow's metadata database: a run
started here is created by `airflow.api.common.trigger_dag` — the code behind `airflow dags
trigger` — so it is a normal manual DAG run (Params validated against the DAG's, listed in
Airflow, run by its scheduler), attributed to the signed-in user. Nothing is sent over the
network, so nothing in a request (`Host`, `X-Forwarded-*`) can choose where the plugin connects,
and no downstream body is ever passed back to the caller. Whether the user may trigger the DAG is
asked of Airflow's auth manager before this is called (`api.security.START_RECONCILIATION`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mediasync.errors import MediasyncError


class AirflowApiError(MediasyncError):
    """Airflow refused or failed the run; `status_code` is what the plugin answers with."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


@dataclass(frozen=True)
class StartedDagRun:
    dag_run_id: str
    state: str | None
    conf: dict[str, Any]
    triggering_user_name: str | None


def _text(error: BaseException, limit: int = 300) -> str:
    return " ".join(str(error).split())[:limit]


class InProcessDagRuns:
    """Manual DAG runs created through Airflow's Python API in the API server's own process."""

    def trigger(self, dag_id: str, conf: dict[str, Any], *, user_name: str, note: str | None = None,
                from_ui: bool = True) -> StartedDagRun:
        """A manual run of `dag_id` now, with `conf` as its Params; raises `AirflowApiError`."""
        from airflow.api.common.trigger_dag import trigger_dag
        from airflow.exceptions import DagNotFound, DagRunAlreadyExists, ParamValidationError
        from airflow.models import DagModel
        from airflow.utils.session import create_session
        from airflow.utils.types import DagRunTriggeredByType

        try:
            with create_session() as session:
                model = DagModel.get_current(dag_id, session=session)
                if model is None:
                    raise DagNotFound(dag_id)
                if model.has_import_errors:
                    raise AirflowApiError(f"the DAG {dag_id} has import errors and cannot be triggered", 409)
                run = trigger_dag(dag_id, triggered_by=DagRunTriggeredByType.UI if from_ui else
                                  DagRunTriggeredByType.REST_API, triggering_user_name=user_name, conf=conf,
                                  note=note, session=session)
                if run is None:
                    raise AirflowApiError(f"Airflow did not create a run of {dag_id}", 502)
                started = StartedDagRun(dag_run_id=run.run_id, state=str(run.state) if run.state else None,
                                        conf=dict(run.conf or {}), triggering_user_name=run.triggering_user_name)
        except DagNotFound:
            raise AirflowApiError(f"Airflow does not know the DAG {dag_id} (has the DAG processor parsed it?)",
                                  404) from None
        except ParamValidationError as exc:
            raise AirflowApiError(f"the DAG's Params refused the run: {_text(exc)}", 422) from None
        except DagRunAlreadyExists:
            raise AirflowApiError(f"a run of {dag_id} with this id exists already; try again", 409) from None
        except ValueError as exc:
            raise AirflowApiError(f"Airflow refused the run: {_text(exc)}", 422) from None
        return started
