"""The web page served at `/`: sign in with a key, manage knowledge bases and documents,
ask questions and see each citation on its page.

The page is static files (HTML, CSS, JavaScript modules, the interface text in
`i18n.json`) in one flat folder, served under `WEB_STATIC` with no other host: no CDN, no
fonts, no build step. It holds no data: every call it makes to the API carries the key the
user signed in with, so the page and its files need no key (`Authenticate` makes them
public, as it does the API reference's assets).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from starlette.staticfiles import StaticFiles

__all__ = ["CONTENT_SECURITY_POLICY", "WEB_PATH", "WEB_STATIC", "install_web", "static_folder"]

WEB_PATH = "/"
WEB_STATIC = "/web"  # the page's files: one folder, no sub-folders (see `is_public`)

# Nothing from another origin; no inline script or style attribute. Blob URLs: the page
# images and the original PDFs, fetched with the key.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; frame-src 'self' blob:; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'self'"
)


def static_folder() -> Path:
    """The folder of the page's files, installed with the package."""
    return Path(__file__).resolve().parent / "static"


def install_web(app: FastAPI) -> None:
    """Serve the page at `WEB_PATH` and its files under `WEB_STATIC`."""
    folder = static_folder()
    app.mount(WEB_STATIC, StaticFiles(directory=folder), name="web-static")
    index = folder / "index.html"

    async def page() -> FileResponse:
        return FileResponse(index, media_type="text/html; charset=utf-8", headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY, "Cache-Control": "no-cache"})

    app.add_api_route(WEB_PATH, page, methods=["GET"], include_in_schema=False)
