"""/docs and /openapi.json: the API's documentation, offline. Swagger UI comes from the
`swagger-ui-bundle` package (served from here, never from a CDN), behind the same Airflow login as
the API itself."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

router = APIRouter(include_in_schema=False)
ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css",
          "favicon-32x32.png": "image/png"}


def _bundle_dir() -> Any:
    import swagger_ui_bundle

    return swagger_ui_bundle.swagger_ui_path


@router.get("/openapi.json")
def openapi(request: Request) -> dict[str, Any]:
    spec: dict[str, Any] = request.app.openapi()
    return spec


@router.get("/docs")
def docs(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return get_swagger_ui_html(openapi_url=f"{root}/openapi.json", title="mediasync API",
                               swagger_js_url=f"{root}/docs/assets/swagger-ui-bundle.js",
                               swagger_css_url=f"{root}/docs/assets/swagger-ui.css",
                               swagger_favicon_url=f"{root}/docs/assets/favicon-32x32.png")


@router.get("/docs/assets/{name}")
def docs_asset(name: str) -> Response:
    if name not in ASSETS or PurePosixPath(name).name != name:
        raise HTTPException(404, "no such file")
    data = (_bundle_dir() / name).read_bytes()
    return Response(data, media_type=ASSETS[name], headers={"Cache-Control": "public, max-age=86400"})



