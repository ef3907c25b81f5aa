"""Every route of the plugin declares what Airflow's auth manager must grant, so a route added
later without one fails here rather than serving any signed-in user (pure: the app is built, not run)."""

from __future__ import annotations

from fastapi.routing import APIRoute

from mediasync.api.app import create_app
from mediasync.api.security import EDIT, READ, START_RECONCILIATION, Authorize, current_user

# Routes that ask no access level: Cloudinary's webhook (its signature is the credential) and /me
# (it asks the auth manager about every level itself).
UNGUARDED = {("POST", "/api/v1/cloudinary/notifications"), ("GET", "/api/v1/me")}


def _accesses(route: APIRoute) -> list:
    found, stack = [], list(route.dependant.dependencies)
    while stack:
        dependency = stack.pop()
        if isinstance(dependency.call, Authorize):
            found.append(dependency.call.access)
        stack.extend(dependency.dependencies)
    return found


def _uses_current_user(route: APIRoute) -> bool:
    stack = list(route.dependant.dependencies)
    while stack:
        dependency = stack.pop()
        if dependency.call is current_user:
            return True
        stack.extend(dependency.dependencies)
    return False


def test_every_route_declares_exactly_one_access_and_every_change_needs_edit():
    routes = [r for r in create_app().routes if isinstance(r, APIRoute)]
    seen = set()
    for route in routes:
        for method in route.methods:
            key = (method, route.path)
            seen.add(key)
            accesses = _accesses(route)
            if key in UNGUARDED:
                assert accesses == [], key
                continue
            assert len(accesses) == 1, (key, accesses)
            assert _uses_current_user(route), key
            expected = {READ} if method in ("GET", "HEAD") else {EDIT, START_RECONCILIATION}
            assert accesses[0] in expected, (key, accesses[0].name)
    assert seen >= UNGUARDED
    assert ("POST", "/api/v1/reconciliation/runs") in seen and ("GET", "/") in seen and ("GET", "/docs") in seen


def test_edit_is_asked_of_every_mediasync_dag_and_a_run_also_needs_the_dags_trigger_right():
    assert {c.method for c in READ.checks} == {"GET"} and {c.method for c in EDIT.checks} == {"PUT"}
    assert [c.dag_id for c in READ.checks] == [c.dag_id for c in EDIT.checks]
    assert set(EDIT.checks) < set(START_RECONCILIATION.checks)
    extra = set(START_RECONCILIATION.checks) - set(EDIT.checks)
    assert [(c.method, c.dag_id, c.entity) for c in extra] == [("POST", "mediasync_reconcile", "RUN")]


def test_the_mediasync_dags_authorization_asks_about_are_the_dags_shipped():
    import re
    from pathlib import Path

    from mediasync.api.security import MEDIASYNC_DAG_IDS

    dags = Path(__file__).resolve().parents[2] / "plugins" / "mediasync" / "dags"
    shipped = {m for f in dags.glob("*.py") for m in re.findall(r'dag_id="([^"]+)"', f.read_text())}
    assert set(MEDIASYNC_DAG_IDS) == shipped and len(MEDIASYNC_DAG_IDS) == 4
