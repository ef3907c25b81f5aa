"""Schemathesis against the plugin's own OpenAPI document, inside a real `airflow api-server` with a
real login: whatever the document allows (and plenty it doesn't), no 5xx and no answer that the
document does not declare — status code, content type and body shape."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

pytestmark = [pytest.mark.reliability, pytest.mark.slow]
STREAMS = {("GET", "/api/v1/events")}  # Server-Sent Events never end; covered by test_api.py
EXAMPLES_PER_OPERATION = 40


def test_no_5xx_and_no_schema_violation(api_server):
    import schemathesis
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    auth = {"Authorization": f"Bearer {api_server.token()}"}
    schema = schemathesis.openapi.from_url(f"{api_server.base_url}/mediasync/openapi.json", headers=auth)
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    operations = [result.ok() for result in schema.get_all_operations()]
    tested, statuses = [], []
    for operation in operations:
        if (operation.method.upper(), operation.path) in STREAMS:
            continue

        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def fuzz(case) -> None:
            response = case.call_and_validate(base_url=f"{api_server.base_url}/mediasync", headers=auth,
                                              checks=checks, timeout=60)
            statuses.append(response.status_code)

        fuzz()
        tested.append(f"{operation.method.upper()} {operation.path}")
    assert {"POST /api/v1/media", "DELETE /api/v1/media/{media_id}", "POST /api/v1/cleanup-queue/process",
            "GET /api/v1/media"} <= set(tested)
    assert len(statuses) >= 5 * len(tested) and {200, 404, 422} <= set(statuses), sorted(set(statuses))
