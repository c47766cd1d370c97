"""The web page at `/`: served without a key, every file it loads comes from the app (no
other host), its static mount opens nothing else, and its scripts put data in the page as
text only."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient

from qa_service.api.authenticate import is_public
from qa_service.embedding import Embedder
from qa_service.web import WEB_STATIC, static_folder
from tests.api.helpers import assert_error, create_kb, parsed_page, running_app

NO_KEY = {"Authorization": ""}
FOLDER = static_folder()
SCRIPTS = sorted(FOLDER.glob("*.js"))
TYPES = {".js": ("text/javascript", "application/javascript"), ".css": ("text/css",),
         ".json": ("application/json",), ".html": ("text/html",)}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder,
           shared_models: None) -> Iterator[TestClient]:
    with running_app(tmp_path_factory.mktemp("web") / "data", embedder) as started:
        create_kb(started, "secret")
        yield started


def script_imports(source: str) -> list[str]:
    """Modules a script imports, and the files it fetches by a literal name."""
    return (re.findall(r"""\bfrom\s+["']([^"']+)["']""", source)
            + re.findall(r"""\b(?:loadTables|fetch)\(\s*["']([^"']+)["']""", source))


def loaded_files(client: TestClient) -> set[str]:
    """Every URL the page loads, followed through the scripts' imports, as absolute paths."""
    html = client.get("/", headers=NO_KEY).text
    todo = [urljoin("/", url) for url in parsed_page(html).urls
            if not url.startswith(("data:", "#"))]  # the empty icon; in-page links
    seen: set[str] = set()
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        seen.add(url)
        if url.endswith(".js"):
            source = client.get(url, headers=NO_KEY).text
            # a module's imports are relative to it; fetch() is relative to the page
            todo += [urljoin(url if name.startswith(".") else "/", name)
                     for name in script_imports(source)]
    return seen


def test_the_page_is_served_without_a_key(client: TestClient) -> None:
    response = client.get("/", headers=NO_KEY)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "<script" in response.text and 'type="module"' in response.text
    policy = response.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'"
    for sources in directives.values():
        for source in sources.split():
            assert source in ("'self'", "'none'", "data:", "blob:"), source


def test_every_file_the_page_loads_is_served_here_without_a_key(client: TestClient) -> None:
    urls = loaded_files(client)
    names = {url.rsplit("/", 1)[-1] for url in urls}
    assert {"app.js", "style.css", "i18n.json", "api.js", "pageview.js"} <= names
    for url in urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc and url.startswith(f"{WEB_STATIC}/"), url
        response = client.get(url, headers=NO_KEY)
        assert response.status_code == 200, (url, response.text[:200])
        kind = response.headers["content-type"].split(";")[0]
        assert kind in TYPES[Path(url).suffix], (url, kind)
        assert response.content == (FOLDER / url.rsplit("/", 1)[-1]).read_bytes()


def test_every_file_of_the_folder_is_loaded_by_the_page(client: TestClient) -> None:
    """Nothing stale or unreferenced is shipped (index.html is the page itself)."""
    names = {url.rsplit("/", 1)[-1] for url in loaded_files(client)}
    assert names | {"index.html"} == {p.name for p in FOLDER.iterdir()}


@pytest.mark.parametrize("path", sorted(FOLDER.iterdir()), ids=lambda p: p.name)
def test_no_file_names_another_host(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert "://" not in text, path.name
    # a protocol-relative URL ("//host/...") in a string, an attribute or url()
    assert not re.search(r"""["'`(=]\s*//""", text), path.name
    assert "@import" not in text and "url(" not in text, path.name


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_scripts_never_insert_markup(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
                 "createContextualFragment", "DOMParser", "eval(", "new Function",
                 "srcdoc"):
        assert sink not in source, (path.name, sink)
    assert not re.search(r"""setAttribute\(\s*["']on""", source), path.name


def test_both_languages_have_the_same_text_keys() -> None:
    tables = json.loads((FOLDER / "i18n.json").read_text(encoding="utf-8"))
    assert set(tables) == {"en", "ko"}
    assert tables["en"].keys() == tables["ko"].keys()
    for lang, table in tables.items():
        for key, text in table.items():
            assert isinstance(text, str) and text.strip(), (lang, key)
            # the same placeholders in both languages
            assert set(re.findall(r"\{(\w+)\}", text)) == set(
                re.findall(r"\{(\w+)\}", tables["en"][key])), (lang, key)


def test_every_text_key_the_page_uses_exists() -> None:
    table = json.loads((FOLDER / "i18n.json").read_text(encoding="utf-8"))["en"]
    used = parsed_page((FOLDER / "index.html").read_text(encoding="utf-8")).keys
    for script in SCRIPTS:
        used |= set(re.findall(r"""\bt\(\s*["']([\w]+)["']""", script.read_text(encoding="utf-8")))
    assert used, "no text keys found"
    assert used <= table.keys(), used - table.keys()
    statuses = {"queued", "indexed", "unchanged", "no_text", "encrypted", "invalid",
                "too_large", "failed"}
    assert {f"status_{s}" for s in statuses} <= table.keys()
    assert {"scopeShort_read", "scopeShort_write"} <= table.keys()  # t(`scopeShort_${scope}`)


def test_the_api_still_needs_a_key(client: TestClient) -> None:
    assert_error(client.get("/kbs", headers=NO_KEY), 401, "unauthorized")
    assert_error(client.get("/kbs/secret/documents", headers=NO_KEY), 401, "unauthorized")
    assert_error(client.post("/", headers=NO_KEY), 405)


@pytest.mark.parametrize("path", [
    WEB_STATIC, f"{WEB_STATIC}/", f"{WEB_STATIC}/%2e%2e", f"{WEB_STATIC}/%2e%2e/%2e%2e/kbs",
    f"{WEB_STATIC}/..%2Fkbs", f"{WEB_STATIC}/%2Fkbs", f"{WEB_STATIC}//kbs",
    f"{WEB_STATIC}/x/..%2F..%2Fkbs", f"{WEB_STATIC}/..%5C..%5Ckbs", f"{WEB_STATIC}x/app.js",
    "/kbs/secret/web/app.js", "/index.html", "/%2e%2e/kbs",
])
def test_the_page_makes_nothing_else_public(client: TestClient, path: str) -> None:
    assert_error(client.get(path, headers=NO_KEY), 401, "unauthorized")


@pytest.mark.parametrize("path", [
    f"{WEB_STATIC}/%2e%2e/__init__.py", f"{WEB_STATIC}/..%2F__init__.py",
    f"{WEB_STATIC}/%2e%2e%2f%2e%2e%2fconfig.py", f"{WEB_STATIC}//etc/passwd",
    f"{WEB_STATIC}/%2Fetc%2Fpasswd", f"{WEB_STATIC}/..%5C__init__.py", f"{WEB_STATIC}/",
    f"{WEB_STATIC}/nothing.js",
])
def test_no_file_outside_the_page_folder_is_served_even_with_a_key(
        client: TestClient, path: str) -> None:
    response = client.get(path)  # the admin key: past authentication, up to the mount
    assert_error(response, 404, "not_found")
    assert b"import" not in response.content and b"root:" not in response.content


def test_only_files_directly_in_the_folder_are_public() -> None:
    assert is_public("/") and is_public(f"{WEB_STATIC}/app.js")
    for path in ("", "/index.html", WEB_STATIC, f"{WEB_STATIC}/", f"{WEB_STATIC}/..",
                 f"{WEB_STATIC}/sub/app.js", f"{WEB_STATIC}/..\\x", "/kbs"):
        assert not is_public(path), path


def test_every_element_the_scripts_look_up_is_in_the_page() -> None:
    html = (FOLDER / "index.html").read_text(encoding="utf-8")
    ids = set(re.findall(r'\bid="([^"]+)"', html))
    wanted: set[str] = set()
    for script in SCRIPTS:
        wanted |= set(re.findall(r"""\bbyId\(\s*["']([\w-]+)["']""",
                                 script.read_text(encoding="utf-8")))
    assert wanted, "no lookups found"
    assert wanted <= ids, wanted - ids
