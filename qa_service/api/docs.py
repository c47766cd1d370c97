"""The API reference pages (`/docs`: Swagger UI, `/redoc`: ReDoc), served with no other host.

FastAPI's own pages load their scripts and styles from a CDN, so offline they are blank.
Here the same pages (built by `fastapi.openapi.docs`) point at the copies of those assets
that the `fastapi-offline` package ships, served under `DOCS_STATIC`. Swagger UI's
validator badge (which asks validator.swagger.io about the schema) is off, ReDoc gets no
Google Fonts link, and each page carries a Content-Security-Policy that lets the browser
load nothing from another origin: ReDoc's sidebar logo, an image on a CDN, is refused, and
hidden as it is when it cannot load. Every route here is public (`Authenticate`) and kept
out of the OpenAPI schema.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from qa_service.errors import ConfigurationError

__all__ = ["DOCS_PATH", "DOCS_STATIC", "OAUTH2_REDIRECT_PATH", "REDOC_PATH", "install_docs"]

DOCS_PATH = "/docs"
REDOC_PATH = "/redoc"
OAUTH2_REDIRECT_PATH = "/docs/oauth2-redirect"
DOCS_STATIC = "/docs/static"  # the assets' mount; `Authenticate` makes files under it public

# Origins only: the pages' own scripts are inline (Swagger UI's set-up), ReDoc compiles
# schemas with `new Function` and searches in a worker made from a blob.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval' blob:; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
    "connect-src 'self'; worker-src 'self' blob:; child-src 'self' blob:; "
    "frame-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'"
)
SWAGGER_UI_PARAMETERS: dict[str, object] = {"validatorUrl": None}


def static_folder() -> Path:
    """The folder of Swagger UI's and ReDoc's assets inside the installed `fastapi_offline`.

    Raises ConfigurationError when the package is missing or not installed as files."""
    try:
        folder = files("fastapi_offline") / "static"
    except ModuleNotFoundError as exc:
        raise ConfigurationError(
            "the API reference needs the package fastapi-offline; reinstall the service "
            "(`make install`)") from exc
    if not isinstance(folder, Path) or not folder.is_dir():
        raise ConfigurationError(
            "the API reference's assets (fastapi-offline's static folder) are not files on "
            "disk; reinstall the service with `make install`", detail=str(folder))
    return folder


def install_docs(app: FastAPI) -> None:
    """Serve the API reference from local assets. `app` must have been created with
    `docs_url=None, redoc_url=None` (FastAPI's CDN pages) and a schema at `app.openapi_url`."""
    openapi_url = app.openapi_url
    if not openapi_url:
        raise ConfigurationError("the API reference needs the app's OpenAPI schema")
    app.mount(DOCS_STATIC, StaticFiles(directory=static_folder()), name="docs-static")
    title = app.title

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = _root_path(request)
        page = get_swagger_ui_html(
            openapi_url=root + openapi_url, title=f"{title} - Swagger UI",
            swagger_js_url=f"{root}{DOCS_STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_STATIC}/favicon.png",
            oauth2_redirect_url=root + OAUTH2_REDIRECT_PATH,
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS)
        return _local_only(page)

    async def oauth2_redirect() -> HTMLResponse:
        return _local_only(get_swagger_ui_oauth2_redirect_html())

    async def redoc(request: Request) -> HTMLResponse:
        root = _root_path(request)
        page = get_redoc_html(
            openapi_url=root + openapi_url, title=f"{title} - ReDoc",
            redoc_js_url=f"{root}{DOCS_STATIC}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{DOCS_STATIC}/favicon.png", with_google_fonts=False)
        return _local_only(page)

    app.add_api_route(DOCS_PATH, swagger_ui, methods=["GET"], include_in_schema=False)
    app.add_api_route(OAUTH2_REDIRECT_PATH, oauth2_redirect, methods=["GET"],
                      include_in_schema=False)
    app.add_api_route(REDOC_PATH, redoc, methods=["GET"], include_in_schema=False)


def _root_path(request: Request) -> str:
    """The prefix a proxy serves the app under (uvicorn --root-path), as FastAPI's pages."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def _local_only(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return page
