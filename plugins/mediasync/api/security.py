"""Who may call the API, and from where.

- Authentication: Airflow's user (a Bearer token from `/auth/token`, or the UI's `_token` session
  cookie). Every credential that does not prove a user — missing, malformed, signed with `alg:none`,
  for another audience, expired — is a 401 with `WWW-Authenticate: Bearer` (Airflow's own `get_user`
  answers 403 for some of these).
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
from collections.abc import Awaitable, Callable, Iterable
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import HTTPException, Request, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Receive, Scope, Send

SESSION_COOKIE = "_token"  # Airflow's COOKIE_NAME_JWT_TOKEN
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
UNAUTHENTICATED = {"WWW-Authenticate": "Bearer"}

bearer_scheme = HTTPBearer(auto_error=False, description="A JWT from Airflow's `POST /auth/token`")
cookie_scheme = APIKeyCookie(name=SESSION_COOKIE, auto_error=False,
                             description="The Airflow UI's session (state-changing requests must be same-origin)")


def airflow_user_dependency() -> Callable[..., Awaitable[Any]]:
    """Airflow's `get_user`, with every authentication failure answered 401."""
    from airflow.api_fastapi.core_api.security import get_user

    async def airflow_user(request: Request, bearer: HTTPAuthorizationCredentials | None = None,
                           cookie: str | None = None) -> Any:
        try:
            return await get_user(request=request, _oauth_token=None, bearer_credentials=bearer)
        except HTTPException as exc:
            if exc.status_code in (401, 403):
                raise HTTPException(401, _why(exc), headers=UNAUTHENTICATED) from None
            raise

    return with_schemes(airflow_user)


def with_schemes(resolve: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """A dependency that declares both credentials in the OpenAPI document and calls `resolve`."""
    async def user(request: Request,
                   bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
                   cookie: Annotated[str | None, Security(cookie_scheme)]) -> Any:
        return await resolve(request, bearer, cookie)

    return user


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
