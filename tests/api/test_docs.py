"""The API reference (`/docs`, `/redoc`) works offline: every asset its pages load comes
from the app itself, needs no key, and its static mount opens nothing else."""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib.resources import files
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from qa_service.api.docs import DOCS_STATIC
from qa_service.embedding import Embedder
from tests.api.helpers import assert_error, create_kb, parsed_page, running_app

NO_KEY = {"Authorization": ""}
PAGES = ["/docs", "/redoc"]
EXPECTED_TYPES = {".js": ("text/javascript", "application/javascript"), ".css": ("text/css",),
                  ".png": ("image/png",), ".json": ("application/json",)}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder,
           shared_models: None) -> Iterator[TestClient]:
    with running_app(tmp_path_factory.mktemp("docs") / "data", embedder) as started:
        create_kb(started, "secret")
        yield started


def referenced_urls(html: str) -> list[str]:
    parser = parsed_page(html)
    # the schema Swagger UI loads is set in its inline script: `url: '/openapi.json'`
    return parser.urls + re.findall(r"""\burl:\s*['"]([^'"]+)['"]""", html)


def assert_same_origin(url: str) -> None:
    parts = urlsplit(url)
    assert not parts.scheme and not parts.netloc, url
    assert url.startswith("/") and not url.startswith("//"), url


def assert_served(client: TestClient, url: str) -> None:
    response = client.get(url, headers=NO_KEY)
    assert response.status_code == 200, (url, response.text[:200])
    assert len(response.content) > 1000, url  # the real thing, not a stub or an error
    suffix = url[url.rindex("."):]
    kind = response.headers["content-type"].split(";")[0]
    assert kind in EXPECTED_TYPES[suffix], (url, kind)


@pytest.mark.parametrize("page", PAGES)
def test_a_reference_page_loads_everything_from_the_app_without_a_key(
        client: TestClient, page: str) -> None:
    response = client.get(page, headers=NO_KEY)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "://" not in html  # no other host: no CDN, no fonts, no validator badge
    urls = referenced_urls(html)
    assert "/openapi.json" in urls
    assert any(url.endswith(".js") for url in urls)
    for url in urls:
        assert_same_origin(url)
        assert_served(client, url)


def test_the_pages_load_the_assets_fastapi_offline_ships(client: TestClient) -> None:
    swagger = referenced_urls(client.get("/docs", headers=NO_KEY).text)
    redoc = referenced_urls(client.get("/redoc", headers=NO_KEY).text)
    shipped = files("fastapi_offline") / "static"
    for url in swagger + redoc:
        if url.startswith(f"{DOCS_STATIC}/"):
            name = url.removeprefix(f"{DOCS_STATIC}/")
            assert client.get(url).content == (shipped / name).read_bytes()
    assert {u.rsplit("/", 1)[-1] for u in swagger} >= {"swagger-ui-bundle.js", "swagger-ui.css"}
    assert {u.rsplit("/", 1)[-1] for u in redoc} >= {"redoc.standalone.js"}


def test_swagger_ui_asks_no_validator_and_redirects_oauth2_here(client: TestClient) -> None:
    html = client.get("/docs", headers=NO_KEY).text
    assert '"validatorUrl": null' in html
    assert "oauth2RedirectUrl: window.location.origin + '/docs/oauth2-redirect'" in html
    redirect = client.get("/docs/oauth2-redirect", headers=NO_KEY)
    assert redirect.status_code == 200 and "://" not in redirect.text


@pytest.mark.parametrize("page", [*PAGES, "/docs/oauth2-redirect"])
def test_the_browser_may_load_nothing_from_another_origin(client: TestClient,
                                                          page: str) -> None:
    """ReDoc's bundle shows a logo from a CDN in its sidebar: the policy refuses it."""
    policy = client.get(page, headers=NO_KEY).headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'"
    for sources in directives.values():
        for source in sources.split():
            assert source in ("'self'", "'none'", "'unsafe-inline'", "'unsafe-eval'", "data:",
                              "blob:"), (page, source)


def test_the_reference_pages_stay_out_of_the_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json", headers=NO_KEY).json()["paths"]
    assert not [p for p in paths if p.startswith(("/docs", "/redoc"))]


@pytest.mark.parametrize("path", [
    "/kbs", "/kbs/secret", "/keys", DOCS_STATIC, f"{DOCS_STATIC}/",
    f"{DOCS_STATIC}/%2e%2e", f"{DOCS_STATIC}/%2e%2e/%2e%2e/kbs", f"{DOCS_STATIC}/..%2Fkbs",
    f"{DOCS_STATIC}/%2Fkbs", f"{DOCS_STATIC}//kbs", f"{DOCS_STATIC}/x/..%2F..%2F..%2Fkbs",
    f"{DOCS_STATIC}/..%5C..%5Ckbs", "/docsx", "/docs/", "/docs/staticx/favicon.png",
    "/redoc/x", "/openapi.json/x", "/health/x",
])
def test_the_static_mount_makes_nothing_else_public(client: TestClient, path: str) -> None:
    assert_error(client.get(path, headers=NO_KEY), 401, "unauthorized")


@pytest.mark.parametrize("path", [
    f"{DOCS_STATIC}/%2e%2e/__init__.py", f"{DOCS_STATIC}/..%2Fcore.py",
    f"{DOCS_STATIC}/%2e%2e%2f%2e%2e%2ffastapi%2f__init__.py", f"{DOCS_STATIC}//etc/passwd",
    f"{DOCS_STATIC}/%2Fetc%2Fpasswd", f"{DOCS_STATIC}/..%5Ccore.py", f"{DOCS_STATIC}/",
])
def test_no_file_outside_the_static_folder_is_served_even_with_a_key(
        client: TestClient, path: str) -> None:
    response = client.get(path)  # the admin key: past authentication, up to the mount
    assert_error(response, 404, "not_found")
    assert b"import" not in response.content and b"root:" not in response.content
