"""A request model as a DAG's Params (`mediasync.operation_requests`): one `Param` per field, with
the field's default, JSON-schema type and bounds, title and description. An empty setting-backed
Param means "the configured value" (the service resolves it), so a DAG file holds no default."""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param

from mediasync.operation_requests import OperationRequest, fields_of


def airflow_params(model: type[OperationRequest]) -> dict[str, Any]:
    """The DAG's `params=`: the request model's fields, in its order."""
    return {f.name: Param(f.default, title=f.title, description=f.description, **f.schema)
            for f in fields_of(model)}
