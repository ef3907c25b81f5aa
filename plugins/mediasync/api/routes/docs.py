"""/docs and /openapi.json: the API's documentation, offline. Swagger UI 5 comes as package data of
`fastapi-offline` (served from here, never from a CDN), behind the same Airflow login as the API
itself. (The same package's ReDoc is not offered: it loads its logo from a CDN.)"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

router = APIRouter(include_in_schema=False)
ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css",
          "favicon.png": "image/png"}


@router.get("/openapi.json")
def openapi(request: Request) -> dict[str, Any]:
    """The document, naming the prefix it is served under as its server (clients and schemathesis
    build request URLs from it)."""
    root = request.scope.get("root_path", "").rstrip("/")
    spec: dict[str, Any] = {**request.app.openapi(), "servers": [{"url": root or "/"}]}
    return spec


@router.get("/docs")
def docs(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return get_swagger_ui_html(openapi_url=f"{root}/openapi.json", title="mediasync API",
                               swagger_js_url=f"{root}/docs/assets/swagger-ui-bundle.js",
                               swagger_css_url=f"{root}/docs/assets/swagger-ui.css",
                               swagger_favicon_url=f"{root}/docs/assets/favicon.png")


@router.get("/docs/assets/{name}")
def docs_asset(name: str) -> Response:
    """Only the named files of the bundle (no path is ever built from the request)."""
    if name not in ASSETS:
        raise HTTPException(404, "no such file")
    data = (files("fastapi_offline") / "static" / name).read_bytes()
    return Response(data, media_type=ASSETS[name], headers={"Cache-Control": "public, max-age=86400"})
