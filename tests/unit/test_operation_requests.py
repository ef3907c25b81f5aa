"""One request model per operation: the DAG's Params, the CLI's options and the API's body are
generated from it, so each surface offers the same names, defaults, choices and bounds."""

from __future__ import annotations

from enum import Enum
from typing import Any

import pytest
import typer
from fastapi import FastAPI

from mediasync.config import Settings
from mediasync.errors import InvalidInput
from mediasync.operation_requests import OperationRequest, fields_of
from mediasync.services.maintenance_requests import ProcessQueueRequest, RetentionRequest
from mediasync.services.reconcile.request import ReconcileRequest

Shape = dict[str, tuple[Any, Any, Any, tuple | None]]  # name -> (default, minimum, maximum, choices)


def _bounds(schema: dict[str, Any]) -> tuple[Any, Any, tuple | None]:
    variants = schema.get("anyOf", [schema])
    lo = next((v["minimum"] for v in variants if "minimum" in v), None)
    hi = next((v["maximum"] for v in variants if "maximum" in v), None)
    enum = next((tuple(v["enum"]) for v in variants if "enum" in v), None)
    return lo, hi, enum


def model_shape(model: type[OperationRequest]) -> Shape:
    props = model.model_json_schema(by_alias=False)["properties"]
    return {name: (info.default, *_bounds(props[name])) for name, info in model.model_fields.items()}


def dag_shape(model: type[OperationRequest]) -> Shape:
    from mediasync.airflow_params import airflow_params

    params = airflow_params(model)
    return {name: (p.value, p.schema.get("minimum"), p.schema.get("maximum"),
                   tuple(v for v in p.schema["enum"] if v is not None) if "enum" in p.schema else None)
            for name, p in params.items()}


def cli_shape(model: type[OperationRequest], *path: str) -> Shape:
    from mediasync.cli import app

    command: Any = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    options = {f.name: f.option for f in fields_of(model)}
    shape: Shape = {}
    for param in command.params:
        if param.name in ("as_json", "help"):
            continue
        annotation = param.type_descriptor.annotation  # an Enum's values are the choices
        choices = tuple(m.value for m in annotation) if isinstance(annotation, type) and issubclass(
            annotation, Enum) else None
        lo, hi = param.min, param.max
        default = getattr(param.default, "value", param.default)
        shape[str(param.name)] = (default, lo, hi, choices)
        assert param.opts == [options[str(param.name)]]
    return shape


def api_shape(model: type[OperationRequest], path: str) -> Shape:
    from mediasync.api.routes import queue, reconciliation

    app = FastAPI()
    for module in (queue, reconciliation):
        app.include_router(module.router, prefix="/api/v1")
    schema_name = model.__name__
    spec = app.openapi()
    body = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    refs = [v["$ref"] for v in body.get("anyOf", [body]) if "$ref" in v]
    assert refs == [f"#/components/schemas/{schema_name}"]
    props = spec["components"]["schemas"][schema_name]["properties"]
    names = {(info.alias or name): name for name, info in model.model_fields.items()}  # the body's camelCase
    return {names[alias]: (prop.get("default"), *_bounds(prop)) for alias, prop in props.items()}


SURFACES = {  # (operation, surface) -> the shape that surface offers
    ("reconcile", "dag"): lambda: dag_shape(ReconcileRequest),
    ("reconcile", "cli"): lambda: cli_shape(ReconcileRequest, "reconcile"),
    ("reconcile", "api"): lambda: api_shape(ReconcileRequest, "/api/v1/reconciliation/runs"),
    ("queue_process", "cli"): lambda: cli_shape(ProcessQueueRequest, "queue", "process"),
    ("queue_process", "api"): lambda: api_shape(ProcessQueueRequest, "/api/v1/cleanup-queue/process"),
    ("retention", "dag"): lambda: dag_shape(RetentionRequest),
    ("retention", "cli"): lambda: cli_shape(RetentionRequest, "retention"),
}
MODELS: dict[str, type[OperationRequest]] = {"reconcile": ReconcileRequest, "queue_process": ProcessQueueRequest,
                                             "retention": RetentionRequest}


@pytest.mark.parametrize(("operation", "surface"), SURFACES, ids=[f"{o}-{s}" for o, s in SURFACES])
def test_every_surface_offers_the_models_names_defaults_and_bounds(operation, surface):
    assert SURFACES[operation, surface]() == model_shape(MODELS[operation])


def test_each_reconcile_parameter_is_declared_once_and_reaches_every_surface():
    assert list(model_shape(ReconcileRequest)) == ["apply", "folder", "scope", "kind", "force",
                                                   "max_delete_fraction", "grace_minutes"]
    assert {s for o, s in SURFACES if o == "reconcile"} == {"dag", "cli", "api"}


def test_design_names_survive_generation():
    """DESIGN's names: the API body's camelCase, `--days` for retention, `retention_days` as the Param."""
    assert [f.alias for f in fields_of(ProcessQueueRequest)] == ["batchSize", "retryFailed", "timeBudget"]
    assert [(f.name, f.option) for f in fields_of(RetentionRequest)] == [("retention_days", "--days")]


def test_the_models_values_are_what_the_surfaces_show():
    shape = model_shape(ReconcileRequest)
    assert shape["kind"] == ("auto", None, None, ("auto", "full", "incremental"))
    assert shape["scope"] == ("managed", None, None, ("managed", "account"))
    assert shape["max_delete_fraction"] == (None, 0, 1, None)  # empty: the setting
    assert shape["grace_minutes"] == (None, 0, None, None)


def test_empty_setting_backed_fields_take_the_configured_values():
    settings = Settings(reconcile_max_delete_fraction=0.2, reconcile_grace_minutes=5)
    resolved = ReconcileRequest.parse({"grace_minutes": 0}).resolved(settings)
    assert (resolved.max_delete_fraction, resolved.grace_minutes) == (0.2, 0)


@pytest.mark.parametrize(("values", "problem"), [
    ({"max_delete_fraction": 1.5}, "max_delete_fraction"),
    ({"grace_minutes": -1}, "grace_minutes"),
    ({"scope": "everything"}, "scope"),
    ({"kind": "weekly"}, "kind"),
    ({"folder": "a/../b"}, "folder"),
    ({"color": "red"}, "color"),
])
def test_a_bad_request_is_refused_naming_the_field(values, problem):
    with pytest.raises(InvalidInput, match=problem) as refused:
        ReconcileRequest.parse(values)
    assert refused.value.status_code == 422
