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


WEBHOOK = ("POST", "/api/v1/cloudinary/notifications")  # signature, not Airflow login: no role applies
EXAMPLES_PER_ROLE = 12


def _operations(api_server, role: str):
    import schemathesis

    auth = {"Authorization": f"Bearer {api_server.token(role)}"}
    schema = schemathesis.openapi.from_url(f"{api_server.base_url}/mediasync/openapi.json", headers=auth)
    return auth, [result.ok() for result in schema.get_all_operations()
                  if (result.ok().method.upper(), result.ok().path) not in STREAMS]


def _fuzz(api_server, operation, mode, auth: dict, checks: list, statuses: set[int]) -> None:
    """EXAMPLES_PER_ROLE generated requests to one operation; their status codes go into `statuses`."""

    @settings(max_examples=EXAMPLES_PER_ROLE, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def fuzz(case) -> None:
        response = case.call_and_validate(base_url=f"{api_server.base_url}/mediasync", headers=auth,
                                          checks=checks, timeout=60)
        statuses.add(response.status_code)

    fuzz()


@pytest.mark.parametrize("role", ["viewer", "user", "op"])
def test_each_role_gets_what_airflow_grants_it_and_no_5xx(api_server, role):
    """Schemathesis with each role's token: a viewer is refused every state-changing route with a
    403 (valid requests) or another 4xx (invalid ones), never a 2xx, and may read every other route;
    user and op are never refused. No answer is a 5xx or off the document."""
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

    auth, operations = _operations(api_server, role)
    checks = [not_a_server_error, status_code_conformance, content_type_conformance]
    seen: dict[tuple[str, str, str], set[int]] = {}
    for operation in operations:
        key = (operation.method.upper(), operation.path)
        changes = key[0] != "GET" and key != WEBHOOK
        # a viewer's changes also with requests the document forbids: refused all the same, never a 2xx
        modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE] if role == "viewer" and changes else [
            GenerationMode.POSITIVE]
        for mode in modes:
            statuses = seen.setdefault((*key, mode.value), set())
            _fuzz(api_server, operation, mode, auth, checks, statuses)
            if role != "viewer":
                assert 403 not in statuses, (role, key, statuses)
            elif changes and mode == GenerationMode.POSITIVE:
                assert statuses == {403}, (key, statuses)
            elif changes:
                assert all(400 <= s < 500 for s in statuses), (key, mode, statuses)
            elif key != WEBHOOK:
                assert 403 not in statuses, (key, statuses)
    changing = {(m, p) for m, p, _ in seen if m != "GET" and (m, p) != WEBHOOK}
    assert {("POST", "/api/v1/media"), ("DELETE", "/api/v1/media/{media_id}"), ("POST", "/api/v1/cleanup-queue/process"),
            ("POST", "/api/v1/reconciliation/runs")} <= changing
