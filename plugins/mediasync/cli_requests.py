"""A request model as a command's options (`mediasync.operation_requests`): one typer option per
field — `--max-delete-fraction` for `max_delete_fraction` — with the field's choices, bounds and
description; the command receives the validated model. An option left out keeps the model's
default (for a setting-backed one: the configured value)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from enum import Enum
from typing import Any, Optional, TypeVar

import typer

from mediasync.cli_support import cli_errors
from mediasync.operation_requests import OperationRequest, RequestField, fields_of

F = TypeVar("F", bound=Callable[..., Any])
_TYPES: dict[str, type] = {"boolean": bool, "integer": int, "number": float, "string": str}


def _option(field: RequestField) -> inspect.Parameter:
    kind = field.schema["type"]
    base: Any = _TYPES[next(t for t in kind if t != "null") if isinstance(kind, list) else kind]
    extra: dict[str, Any] = {}
    if "enum" in field.schema:  # typer offers an Enum's values as the choices
        choices = [v for v in field.schema["enum"] if v is not None]
        base = Enum(field.name.title().replace("_", ""), {v: v for v in choices}, type=str)  # type: ignore[misc,no-redef]
        extra["case_sensitive"] = False
    if "minimum" in field.schema:
        extra["min"] = field.schema["minimum"]
    if "maximum" in field.schema:
        extra["max"] = field.schema["maximum"]
    annotation: Any = base if base is bool else Optional[base]  # noqa: UP045 - typer reads this at runtime
    default = field.default if field.default is None or "enum" not in field.schema else base(field.default)
    option = typer.Option(default, field.option, help=field.description, show_default=field.default is not None,
                          **extra)
    return inspect.Parameter(field.name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation)


def request_options(model: type[OperationRequest]) -> Callable[[F], F]:
    """Decorate `command(request, **rest)`: the model's fields become the command's options
    (before `rest`'s own), and the command gets the model built from them."""
    fields = fields_of(model)

    def decorate(command: F) -> F:
        own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
               for p in inspect.signature(command, eval_str=True).parameters.values() if p.name != "request"]

        @functools.wraps(command)
        def wrapper(**values: Any) -> Any:
            given = {f.name: getattr(v, "value", v) for f in fields if (v := values.pop(f.name)) is not None}
            with cli_errors():
                request = model.parse(given)
            return command(request, **values)

        wrapper.__signature__ = inspect.Signature([*map(_option, fields), *own])  # type: ignore[attr-defined]
        wrapper.__annotations__ = {}
        return wrapper  # type: ignore[return-value]

    return decorate
