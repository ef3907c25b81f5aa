"""The base of every result a service returns, and its one JSON form.

Services return pydantic models; the plugin API declares them as response models (so the
OpenAPI document is complete), the CLI prints `as_dict()` for `--json`, and DAG tasks return
`as_dict()` as their XCom. Datetimes are ISO 8601 strings in all three.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Result(BaseModel):
    # Validators and serializers are built on first use: a CLI command imports every result class.
    model_config = ConfigDict(from_attributes=True, defer_build=True)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form: what `--json`, the API and XComs carry."""
        return self.model_dump(mode="json")
