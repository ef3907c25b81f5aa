"""Who may call the API, what they may do, and from where.

- Authentication: Airflow's user (a Bearer token from `/auth/token`, or the UI's `_token` session
  cookie). Every credential that does not prove a user — missing, malformed, signed with `alg:none`,
  for another audience, expired — is a 401 with `WWW-Authenticate: Bearer` (Airflow's own `get_user`
  answers 403 for some of these). `current_user` is that dependency.
- Authorization: Airflow's configured auth manager decides, never the plugin — the simple auth
  manager's roles, FAB's or Keycloak's permissions alike, through `BaseAuthManager.is_authorized_dag`.
  mediasync's resource is its DAGs (`MEDIASYNC_DAG_IDS`): reading needs read (GET) access to every
  one of them, changing anything edit (PUT) access to every one of them, and starting a
  reconciliation also what Airflow itself asks before a manual run of `mediasync_reconcile`
  (POST on its runs). A route states its need in one line — `dependencies=[requires_read]`,
  `[requires_edit]` or `[requires_start_reconciliation]` — and a refusal is a 403 whose detail names
  the missing access.
- Cross-site request forgery: a browser attaches the session cookie to requests a hostile page
  makes (a cross-origin form POST needs no CORS preflight). So a state-changing request that is
  authenticated by the cookie alone must come from the API's own origin — its `Origin` header
  (or, where a browser sends none, its `Referer`) must be the request's own origin or Airflow's
  configured `[api] base_url`. Requests carrying `Authorization: Bearer` are not affected: a
  cross-site form cannot set that header. GET/HEAD/OPTIONS (the page, the SSE stream) never change
  state and stay usable from the page. The check is ASGI middleware, so it runs before a body is
  read and covers every route, including ones added later.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Protocol
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Receive, Scope, Send

from mediasync.services.operations import RECONCILE_DAG_ID

log = logging.getLogger(__name__)
SESSION_COOKIE = "_token"  # Airflow's COOKIE_NAME_JWT_TOKEN
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
UNAUTHENTICATED = {"WWW-Authenticate": "Bearer"}

bearer_scheme = HTTPBearer(auto_error=False, description="A JWT from Airflow's `POST /auth/token`")
cookie_scheme = APIKeyCookie(name=SESSION_COOKIE, auto_error=False,
                             description="The Airflow UI's session (state-changing requests must be same-origin)")


async def current_user(request: Request,
                       bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
                       cookie: Annotated[str | None, Security(cookie_scheme)]) -> Any:
    """Airflow's `get_user` (Bearer token, else the session cookie), with every authentication
    failure answered 401. `create_app(user_dependency=...)` replaces it (tests, benchmarks).
    `cookie` is declared for the OpenAPI document; `get_user` reads the cookie itself."""
    from airflow.api_fastapi.core_api.security import get_user

    try:
        return await get_user(request=request, _oauth_token=None, bearer_credentials=bearer)
    except HTTPException as exc:
        if exc.status_code in (401, 403):
            raise HTTPException(401, _why(exc), headers=UNAUTHENTICATED) from None
        raise


CurrentUser = Annotated[Any, Depends(current_user)]


def user_name(user: Any) -> str:
    """The name Airflow shows for `user` (its `get_name()`)."""
    get_name = getattr(user, "get_name", None)
    return str(get_name() if callable(get_name) else user)


def requester(user: CurrentUser) -> str:
    """Who is asking, as deletion batches and the decisions about them record it."""
    return f"{user_name(user)} (API)"


RequesterDep = Annotated[str, Depends(requester)]


# --- authorization: Airflow's auth manager decides -----------------------------------------

MEDIASYNC_DAG_IDS = ("mediasync_cleanup_queue", RECONCILE_DAG_ID, "mediasync_retention",
                     "mediasync_cloudinary_notifications")


@dataclass(frozen=True)
class Check:
    """One question for the auth manager: may the user do `method` on this DAG (or on its `entity`,
    a `DagAccessEntity` name such as RUN)?"""

    method: Literal["GET", "POST", "PUT", "DELETE"]
    dag_id: str
    entity: str | None = None

    def describe(self) -> str:
        what = f"the {self.entity.lower()}s of DAG {self.dag_id}" if self.entity else f"DAG {self.dag_id}"
        return f"{self.method} on {what}"


@dataclass(frozen=True)
class Access:
    """What a route needs: a name (the page's permission flag) and the checks that grant it."""

    name: str
    needs: str
    checks: tuple[Check, ...]


READ = Access("read", "read access to the mediasync DAGs", tuple(Check("GET", d) for d in MEDIASYNC_DAG_IDS))
EDIT = Access("edit", "edit access to the mediasync DAGs", tuple(Check("PUT", d) for d in MEDIASYNC_DAG_IDS))
START_RECONCILIATION = Access(
    "start_reconciliation", f"edit access to the mediasync DAGs and the right to trigger {RECONCILE_DAG_ID}",
    (*EDIT.checks, Check("POST", RECONCILE_DAG_ID, "RUN")))
ACCESS_LEVELS = (READ, EDIT, START_RECONCILIATION)


class Authorizer(Protocol):
    def allows(self, user: Any, check: Check) -> bool: ...


class AirflowAuthorizer:
    """The auth manager Airflow is configured with (`[core] auth_manager`): simple, FAB, Keycloak..."""

    def allows(self, user: Any, check: Check) -> bool:
        from airflow.api_fastapi.app import get_auth_manager
        from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails

        entity = DagAccessEntity[check.entity] if check.entity else None
        return bool(get_auth_manager().is_authorized_dag(method=check.method, access_entity=entity,
                                                         details=DagDetails(id=check.dag_id), user=user))


def refused_check(authorizer: Authorizer, user: Any, access: Access) -> Check | None:
    """The first check of `access` the auth manager refuses (None: all granted). An auth manager
    that fails to answer refuses: least privilege."""
    for check in access.checks:
        try:
            if not authorizer.allows(user, check):
                return check
        except Exception:  # a broken or unconfigured auth manager grants nothing
            log.exception("Airflow's auth manager failed to answer %s", check.describe())
            return check
    return None


class Authorize:
    """The dependency that asks for one `Access` (sync: FastAPI runs it in a worker thread, as an
    auth manager may ask a database)."""

    def __init__(self, access: Access) -> None:
        self.access = access

    def __call__(self, request: Request, user: CurrentUser) -> None:
        authorizer: Authorizer = request.app.state.authorizer
        if (check := refused_check(authorizer, user, self.access)) is not None:
            raise HTTPException(403, f"forbidden: {user_name(user)!r} lacks {self.access.needs} "
                                     f"(Airflow's auth manager refused {check.describe()})")


requires_read = Depends(Authorize(READ))
requires_edit = Depends(Authorize(EDIT))
requires_start_reconciliation = Depends(Authorize(START_RECONCILIATION))


def _why(exc: HTTPException) -> str:
    detail = str(exc.detail)
    if exc.status_code == 403 or "invalid" in detail.lower():
        return "invalid token: not a JWT this Airflow issued for this API, or signed with a disallowed algorithm"
    return detail if detail else "not authenticated"


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def configured_origins() -> tuple[str, ...]:
    """Airflow's `[api] base_url`, when Airflow is configured with one (behind a proxy)."""
    try:
        from airflow.configuration import conf

        base = conf.get("api", "base_url", fallback="") or ""
    except Exception:  # noqa: BLE001 - outside Airflow there is no such setting
        return ()
    origin = _origin_of(base)
    return (origin,) if origin else ()


class OriginGuard:
    """Refuse (403) a state-changing request authenticated by the session cookie alone unless it
    comes from the API's own origin."""

    def __init__(self, app: ASGIApp, trusted_origins: Callable[[], Iterable[str]] = configured_origins) -> None:
        self.app = app
        self._trusted_origins = trusted_origins
        self._trusted: frozenset[str] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self._refusal(scope, headers)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        body = json.dumps({"detail": refusal}).encode()
        await send({"type": "http.response.start", "status": 403,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"vary", b"Origin")]})
        await send({"type": "http.response.body", "body": body})

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> str | None:
        if headers.get("authorization", "").lower().startswith("bearer "):
            return None  # the token authenticates; a cross-site form cannot send it
        if f"{SESSION_COOKIE}=" not in headers.get("cookie", ""):
            return None  # no session: authentication answers 401 (or the route needs none, like the webhook)
        origin = headers.get("origin")
        claimed = _origin_of(origin) if origin and origin != "null" else None
        if claimed is None and origin is None and headers.get("referer"):
            claimed = _origin_of(headers["referer"])
        if claimed is None:
            return ("cross-site request refused: a request authenticated by the session cookie must carry the "
                    "page's Origin (or use an Authorization: Bearer token)")
        if claimed in self._allowed(scope, headers):
            return None
        return f"cross-site request refused: origin {claimed} is not this server's"

    def _allowed(self, scope: Scope, headers: dict[str, str]) -> frozenset[str]:
        if self._trusted is None:
            self._trusted = frozenset(self._trusted_origins())
        own = {f"{scope.get('scheme', 'http')}://{headers['host'].lower()}"} if headers.get("host") else set()
        return self._trusted | own
