"""What an operation may be asked for, declared once per operation as a pydantic model.

Each operation (reconcile, queue processing, retention) has one request model: its fields, their
defaults, descriptions and bounds. The DAG's Params, the CLI's options and the API's body are all
generated from it (`fields_of`), so the three surfaces cannot drift apart; the service takes the
model itself. A field whose default is a setting is declared with `from_setting`: left empty, it
means "the configured value" (DESIGN: settings are the single source of defaults), and
`resolved(settings)` fills it in. Who asked is not part of a request: the service records it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mediasync.config import Settings
from mediasync.errors import InvalidInput


def from_setting(setting: str, env: str, description: str, *, cli: str | None = None, **bounds: Any) -> Any:
    """A field that, left empty (None), takes the value of `Settings.<setting>` (read from `env`).
    `cli`: the option's name where DESIGN gives it another than the field's (`--days`)."""
    extra: dict[str, Any] = {"setting": setting, "env": env, **({"cli": cli} if cli else {})}
    return Field(None, description=f"{description} Empty: {env}.", json_schema_extra=extra, **bounds)


class OperationRequest(BaseModel):
    """The base of every request model: unknown fields are refused, never ignored."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @classmethod
    def parse(cls, values: dict[str, Any]) -> Self:
        """Validate `values` as the services see them: a bad value is InvalidInput (422) naming the field."""
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'request'}: {e['msg']}"
                                 for e in exc.errors())
            raise InvalidInput(problems, 422) from None

    def resolved(self, settings: Settings) -> Self:
        """This request with every empty setting-backed field filled in from `settings`."""
        filled = {f.name: getattr(settings, f.setting) for f in fields_of(type(self))
                  if f.setting and getattr(self, f.name) is None}
        return self.model_copy(update=filled)


@dataclass(frozen=True)
class RequestField:
    """One field of a request model, as every surface shows it."""

    name: str
    title: str
    description: str
    default: Any
    schema: dict[str, Any]  # JSON schema: type (a list with "null" when optional), enum, minimum, maximum, ...
    setting: str | None = None  # the Settings attribute an empty value stands for
    env: str | None = None
    alias: str | None = None  # the API body's name, where it differs (`batchSize`)
    cli: str | None = None  # the CLI option, where it differs from the field's name

    @property
    def option(self) -> str:
        """The CLI option's name: `--max-delete-fraction` for `max_delete_fraction`."""
        return self.cli or "--" + self.name.replace("_", "-")

    @property
    def nullable(self) -> bool:
        kind = self.schema.get("type")
        return isinstance(kind, list) and "null" in kind


_KEYWORDS = ("enum", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "maxLength", "minLength")


def _flatten(prop: dict[str, Any]) -> dict[str, Any]:
    """pydantic's schema of one property as one plain JSON-schema object (Airflow's Params want
    `type: ["null", "number"]`, not `anyOf`)."""
    variants = prop.get("anyOf", [prop])
    types: list[str] = []
    schema: dict[str, Any] = {}
    for variant in variants:
        kind = variant.get("type", "string" if "enum" in variant or "const" in variant else None)
        if kind and kind not in types:
            types.append(kind)
        if "const" in variant:
            schema.setdefault("enum", []).append(variant["const"])
        schema.update({k: variant[k] for k in _KEYWORDS if k in variant})
    types.sort(key=lambda t: t != "null")
    schema["type"] = types[0] if len(types) == 1 else types
    if "null" in types and "enum" in schema:
        schema["enum"] = [None, *schema["enum"]]
    return schema


def fields_of(model: type[OperationRequest]) -> tuple[RequestField, ...]:
    """The model's fields, in declaration order, with their JSON schema, default and setting."""
    props = model.model_json_schema(by_alias=False)["properties"]
    out = []
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        setting, env, cli = (str(extra[k]) if extra.get(k) else None for k in ("setting", "env", "cli"))
        out.append(RequestField(name=name, title=info.title or name.replace("_", " ").capitalize(),
                                description=info.description or "", default=info.default,
                                schema=_flatten(props[name]), setting=setting, env=env, alias=info.alias, cli=cli))
    return tuple(out)
