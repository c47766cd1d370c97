"""The web page in a real browser (headless Chromium through Selenium) against a real
`qa serve`: sign in, create a knowledge base, upload PDFs through the file input, ask in
English and Korean, open a citation and check its highlight boxes against an independent
PDF reader (pdfplumber) on text pages and on an OCR'd scan, a declined question, a chat
endpoint's citation link opening the page view, API keys made and revoked by the admin, a
read-only key, and a document whose text is HTML.

Throughout, a SEVERE browser console entry (other than the expected 403 of the forced
upload) fails the test, and the server's log must hold no 5xx and no traceback.

`QA_SCREENSHOTS=1` also writes the README's screenshots (docs/screenshots/); read at import,
because the suite strips `QA_*` variables before any fixture runs.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ingest.tesseract import tesseract_problem
from tests.api.helpers import ADMIN_KEY
from tests.live_server import ADMIN, qa_serve
from tests.pdfs import HANGUL_FONT, Drawn, drawn_pdf, scanned_pdf, text_pdf

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                       reason="needs Debian's chromium and chromium-driver (make install-dev)"),
]
selenium = pytest.importorskip("selenium", reason="needs selenium (the dev extra)")

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

SCREENSHOTS = os.environ.get("QA_SCREENSHOTS") == "1"
SHOTS_DIR = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DESKTOP, PHONE = (1280, 900), (360, 780)
WAIT_S = 45
KB = "handbook"

ENGLISH = ("The Varnholt lighthouse was built in 1887 by the engineer Ada Lindqvist. "
           "Its lamp can be seen from 31 kilometres at sea. "
           "The keeper's cottage now houses a small museum of ship models.")
ENGLISH_FACT = "1887"
KOREAN_LINES = ["한빛 도서관은 2009년에 문을 열었습니다.",
                "도서관의 장서는 약 12만 권입니다.",
                "열람실은 매일 오전 아홉 시에 엽니다."]
KOREAN_FACT = "2009년"
PAYLOAD = "<img src=x onerror=window.__pwned=1>"
HOSTILE = (f"The night shift badge code is printed as {PAYLOAD} on every Quillon access card. "
           "Quillon cards are renewed every spring.")
SCANNED = ("Payment terms: the contractor invoices the owner every quarter. The annual fee "
           "for the lift maintenance of the Orvik tower is 48,000 euros.")

# The console's only expected errors: the forced upload of the read key (a 403).
EXPECTED_CONSOLE = re.compile(r"status of 403")


class Page:
    """The browser, the server's address and the console entries seen so far."""

    def __init__(self, driver: webdriver.Chrome, url: str, log: Path) -> None:
        self.driver, self.url, self.log = driver, url, log
        self.console: list[dict[str, Any]] = []

    def wait(self, condition: Callable[[WebDriver], Any], what: str,
             timeout: float = WAIT_S) -> Any:
        return WebDriverWait(self.driver, timeout, poll_frequency=0.1,
                             ignored_exceptions=[StaleElementReferenceException]).until(
            condition, message=what)

    def by_id(self, element_id: str) -> WebElement:
        return self.driver.find_element(By.ID, element_id)

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def check_console(self) -> None:
        """No SEVERE entry since the last check (each test answers for its own)."""
        entries = self.driver.get_log("browser")  # type: ignore[no-untyped-call]
        self.console += entries
        severe = [e for e in entries if e["level"] == "SEVERE"
                  and not EXPECTED_CONSOLE.search(e["message"])]
        assert not severe, severe

    def calm(self) -> None:
        """English, the page view closed, a new conversation: where each test starts."""
        self.js("for (const id of ['page-view', 'keys-view']) {"
                "  const v = document.getElementById(id); if (v.open) v.close(); }")
        self.by_id("tab-ask").click()
        self.by_id("chat-clear").click()
        if self.by_id("lang").get_attribute("value") != "en":
            Select(self.by_id("lang")).select_by_value("en")

    def check_server_log(self) -> None:
        text = self.log.read_text("utf-8", "replace")
        assert "Traceback" not in text, text
        assert not re.search(r'" 5\d\d\b', text), text  # uvicorn's access lines
        assert not re.search(r" (ERROR|CRITICAL) ", text), text

    def sign_in(self, key: str) -> None:
        self.by_id("key").send_keys(key)
        self.driver.find_element(By.CSS_SELECTOR, "#signin-form button[type=submit]").click()
        self.wait(lambda d: self.by_id("workspace").is_displayed(), "the workspace never showed")

    def select_kb(self, name: str) -> None:
        xpath = f"//ul[@id='kb-list']//button[.//span[@class='kb-name' and text()='{name}']]"
        self.wait(lambda d: d.find_elements(By.XPATH, xpath), f"no knowledge base {name}")
        self.driver.find_element(By.XPATH, xpath).click()
        self.wait(lambda d: self.by_id("kb-panes").is_displayed(), "the panes never showed")

    def upload(self, *paths: Path) -> None:
        """Upload through the file input; back when the list shows them all indexed."""
        self.by_id("tab-docs").click()
        self.by_id("files").send_keys("\n".join(str(p) for p in paths))

        def indexed(driver: WebDriver) -> bool:  # read in one script: the list re-renders
            done = driver.execute_script(
                "return [...document.querySelectorAll('#docs-body tr')]"
                ".filter((row) => row.querySelector('td.status-indexed'))"
                ".map((row) => row.querySelector('.file-name').textContent);")
            return {p.name for p in paths} <= set(done)

        self.wait(indexed, f"the list never showed {[p.name for p in paths]} indexed", 120)

    def ask(self, question: str) -> WebElement:
        """The last turn's answer, once the result replaced the streamed text."""
        self.by_id("tab-ask").click()
        turns = len(self.driver.find_elements(By.CSS_SELECTOR, "#chat > li"))
        self.by_id("question").send_keys(question)
        self.by_id("ask-send").click()
        last = f"#chat > li:nth-child({turns + 1}) .msg.bot"
        done = f"{last} .answer-block, {last} .error"
        self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, done), f"no answer to {question!r}")
        self.wait(lambda d: d.find_element(By.ID, "ask-send").is_enabled(), "still busy")
        reply = self.driver.find_element(By.CSS_SELECTOR, last)
        assert not reply.find_elements(By.CSS_SELECTOR, ".error"), reply.text
        return reply

    def screenshot(self, name: str) -> None:
        """docs/screenshots/{desktop,phone}-{name}.png of the page as it is (QA_SCREENSHOTS=1):
        the viewport set exactly through the DevTools protocol, the phone one as a mobile."""
        if not SCREENSHOTS:
            return
        if self.by_id("notice").is_displayed():
            self.by_id("notice-close").click()
        SHOTS_DIR.mkdir(parents=True, exist_ok=True)
        for label, (width, height) in (("desktop", DESKTOP), ("phone", PHONE)):
            self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": width, "height": height, "deviceScaleFactor": 1,
                "mobile": label == "phone"})
            wanted = width
            self.wait(lambda d: d.execute_script("return window.innerWidth") == wanted,  # noqa: B023
                      "the viewport never resized")
            self.js("window.scrollTo(0, 0);" if label == "desktop" else
                    "const turns = document.querySelectorAll('#chat > li');"
                    "if (turns.length) turns[turns.length - 1].scrollIntoView({block: 'start'});")
            assert self.driver.save_screenshot(str(SHOTS_DIR / f"{label}-{name}.png"))
        self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("browser-pdfs")
    korean = [Drawn(72, 760 - 24 * i, line, HANGUL_FONT, 12)
              for i, line in enumerate(KOREAN_LINES)]
    contents = {"lighthouse.pdf": text_pdf([ENGLISH]), "library-ko.pdf": drawn_pdf([korean]),
                "badges.pdf": text_pdf([HOSTILE]), "lift-scan.pdf": scanned_pdf([SCANNED]),
                # the scan's text layer, drawn the same way: the independent reader's view
                "lift-twin.pdf": text_pdf([SCANNED])}
    paths = {}
    for name, data in contents.items():
        paths[name] = root / name
        paths[name].write_bytes(data)
    return paths


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("browser-serve")
    log = root / "server.log"
    ocr = "off" if tesseract_problem() else "auto"
    with qa_serve(root / "data", log, QA_INGEST__OCR=ocr) as (url, _process):
        yield url, log


@pytest.fixture(scope="module")
def page(server: tuple[str, Path]) -> Iterator[Page]:
    url, log = server
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
                     "--lang=en-US", "--force-device-scale-factor=1"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        driver.set_window_size(*DESKTOP)
        driver.get(url + "/")
        browser = Page(driver, url, log)
        browser.wait(lambda d: d.find_element(By.ID, "signin").is_displayed(), "no sign-in form")
        yield browser
    finally:
        driver.quit()


@pytest.fixture(autouse=True)
def _clean_console_and_log(page: Page) -> Iterator[None]:
    yield
    page.check_console()
    page.check_server_log()


def pdf_words_in(path: Path, boxes: list[tuple[float, float, float, float]]) -> str:
    """The text pdfplumber finds inside the boxes (points, top-left origin), box by box: the
    characters whose centre is inside. (Not `within_bbox`: a character's box there is its
    font's full height, while OCR boxes hug the ink, from cap height to baseline.)"""
    import pdfplumber

    def inside(box: tuple[float, float, float, float]) -> Callable[[dict[str, Any]], bool]:
        x0, top, x1, bottom = box
        return lambda obj: (obj.get("object_type") == "char"
                            and x0 <= (obj["x0"] + obj["x1"]) / 2 <= x1
                            and top <= (obj["top"] + obj["bottom"]) / 2 <= bottom)

    with pdfplumber.open(path) as pdf:
        first = pdf.pages[0]
        return " ".join(first.filter(inside(box)).extract_text() for box in boxes)


def highlight_boxes_in_points(page: Page, pdf: Path) -> list[tuple[float, float, float, float]]:
    """Each highlight drawn over the page image, as a rectangle of the PDF page in points:
    its pixel rectangle within the displayed image, over the image's displayed size, times
    the page's size."""
    import pdfplumber

    rects = page.js("""
        const img = document.getElementById('page-image').getBoundingClientRect();
        return [...document.querySelectorAll('#page-boxes .highlight')].map((node) => {
          const r = node.getBoundingClientRect();
          return [(r.left - img.left) / img.width, (r.top - img.top) / img.height,
                  (r.right - img.left) / img.width, (r.bottom - img.top) / img.height];
        });""")
    with pdfplumber.open(pdf) as opened:
        width, height = float(opened.pages[0].width), float(opened.pages[0].height)
    pad = 1.0  # points: a glyph's edge on the box's border still counts
    return [(x0 * width - pad, y0 * height - pad, x1 * width + pad, y1 * height + pad)
            for x0, y0, x1, y1 in rects]


def squeeze(text: str) -> str:
    return "".join(text.split())


def open_citation_and_check_boxes(page: Page, reply: WebElement, pdf: Path,
                                  shot: str | None = None) -> None:
    reply.find_element(By.CSS_SELECTOR, "button.cite").click()
    check_page_view(page, pdf, shot)


def check_page_view(page: Page, pdf: Path, shot: str | None = None) -> None:
    """The page view is open on the cited page of `pdf` (its title names the file); its
    highlights cover the quote, no more."""
    page.wait(lambda d: d.find_element(By.ID, "page-view").is_displayed(), "no page view")
    page.wait(lambda d: d.execute_script(
        "const i = document.getElementById('page-image');"
        "return i.complete && i.naturalWidth > 0 && i.getBoundingClientRect().width > 0")
        and d.find_elements(By.CSS_SELECTOR, "#page-boxes .highlight"),
        "the page image or its highlights never showed")
    quote = page.by_id("page-quote").text
    assert quote, "the page view shows no quote"
    twin = pdf.name.replace("-twin", "-scan")  # the scan's text layer stands in for it
    assert page.by_id("page-title").text.startswith(f"{twin}, "), page.by_id("page-title").text
    boxes = highlight_boxes_in_points(page, pdf)
    read = pdf_words_in(pdf, boxes)
    assert squeeze(quote) in squeeze(read), (quote, read, boxes)
    assert len(squeeze(read)) <= len(squeeze(quote)) + 4, (quote, read, boxes)  # no more
    if shot:
        page.screenshot(shot)
    page.by_id("page-close").click()
    page.wait(lambda d: not d.find_element(By.ID, "page-view").is_displayed(), "still open")


@pytest.fixture(scope="module")
def signed_in(page: Page, files: dict[str, Path]) -> Page:
    """The admin signed in, the knowledge base made, two PDFs uploaded through the page."""
    page.sign_in(ADMIN_KEY)
    page.by_id("kb-name").send_keys(KB)
    page.driver.find_element(By.CSS_SELECTOR, "#kb-create button[type=submit]").click()
    page.wait(lambda d: d.find_element(By.ID, "kb-panes").is_displayed(), "the kb never opened")
    page.upload(files["lighthouse.pdf"], files["library-ko.pdf"])
    names = {td.text for td in page.driver.find_elements(By.CSS_SELECTOR, "#docs-body .file-name")}
    assert names == {"lighthouse.pdf", "library-ko.pdf"}, names
    page.check_console()
    return page


@pytest.fixture
def admin(signed_in: Page) -> Page:
    signed_in.calm()
    return signed_in


def test_an_english_answer_cites_its_page_with_boxes_on_the_quote(
        admin: Page, files: dict[str, Path]) -> None:
    reply = admin.ask("When was the Varnholt lighthouse built?")
    assert ENGLISH_FACT in reply.find_element(By.CSS_SELECTOR, ".answer").text, reply.text
    admin.screenshot("en")
    open_citation_and_check_boxes(admin, reply, files["lighthouse.pdf"], shot="en-page")


def test_a_korean_answer_in_the_korean_interface_cites_its_boxes(
        admin: Page, files: dict[str, Path]) -> None:
    Select(admin.by_id("lang")).select_by_value("ko")
    admin.wait(lambda d: d.find_element(By.ID, "tab-ask").text == "질문", "no Korean interface")
    reply = admin.ask("한빛 도서관은 언제 문을 열었습니까?")
    assert KOREAN_FACT in reply.find_element(By.CSS_SELECTOR, ".answer").text, reply.text
    admin.screenshot("ko")
    open_citation_and_check_boxes(admin, reply, files["library-ko.pdf"])


def test_a_question_the_documents_do_not_answer_is_declined(admin: Page) -> None:
    reply = admin.ask("What is the population of the capital city of Peru?")
    assert reply.find_element(By.CSS_SELECTOR, ".abstained").text == "The documents do not say."
    assert not reply.find_elements(By.CSS_SELECTOR, "button.cite"), reply.text


def test_a_document_whose_text_is_html_stays_text(admin: Page, files: dict[str, Path]) -> None:
    page = admin
    page.upload(files["badges.pdf"])
    reply = page.ask("What is printed on every Quillon access card?")
    reply.find_element(By.CSS_SELECTOR, "button.cite").click()
    page.wait(lambda d: d.find_element(By.ID, "page-quote").text, "no quote")
    shown = page.by_id("page-quote").text + " " + reply.text
    assert "onerror" in shown, shown  # the markup is shown as text ...
    page.by_id("page-close").click()
    assert page.js("return window.__pwned") is None  # ... and never ran
    assert page.js("return document.querySelectorAll('#chat img, #page-quote img').length") == 0


@pytest.mark.skipif(tesseract_problem() is not None,
                    reason=f"OCR cannot run here: {tesseract_problem()}")
def test_an_answer_from_a_scanned_page_highlights_the_ocr_boxes(
        admin: Page, files: dict[str, Path]) -> None:
    admin.upload(files["lift-scan.pdf"])
    row = admin.driver.find_element(
        By.XPATH, "//tbody[@id='docs-body']/tr[td[@class='file-name' and text()='lift-scan.pdf']]")
    assert "OCR" in row.text, row.text
    reply = admin.ask("What is the annual fee for the lift maintenance of the Orvik tower?")
    assert "48,000" in reply.find_element(By.CSS_SELECTOR, ".answer").text, reply.text
    # the boxes come from Tesseract's words; the scan's own text layer (the PDF it was
    # printed from, same geometry) says what is under them
    open_citation_and_check_boxes(admin, reply, files["lift-twin.pdf"])


def test_a_chat_citation_link_opens_the_page_view(admin: Page, files: dict[str, Path]) -> None:
    page = admin
    completion = httpx.post(f"{page.url}/v1/chat/completions", headers=ADMIN, timeout=60, json={
        "model": f"kb:{KB}", "mode": "extractive",
        "messages": [{"role": "user", "content": "When was the Varnholt lighthouse built?"}]})
    assert completion.status_code == 200, completion.text
    link = completion.json()["choices"][0]["message"]["annotations"][0]["url_citation"]["url"]
    assert link.startswith(f"{page.url}/#kb={KB}&document="), link
    page.driver.get("about:blank")
    page.driver.get(link)  # a fresh load; the key is still in this tab's session
    check_page_view(page, files["lighthouse.pdf"])
    assert "#" not in page.driver.current_url  # taken: a reload does not open it again
    page.driver.get(link)  # the same page, a new fragment: opened again
    check_page_view(page, files["lighthouse.pdf"])


def test_the_admin_makes_and_revokes_a_key(admin: Page) -> None:
    page = admin
    page.by_id("keys-open").click()
    page.wait(lambda d: d.find_element(By.ID, "keys-view").is_displayed(), "no keys dialog")
    Select(page.by_id("key-scope")).select_by_value("read")
    page.by_id(f"key-kb-{KB}").click()
    page.by_id("key-submit").click()
    page.wait(lambda d: page.by_id("key-new-value").get_attribute("value"), "no new key shown")
    key = page.by_id("key-new-value").get_attribute("value") or ""
    who = httpx.get(f"{page.url}/keys/me", headers={"Authorization": f"Bearer {key}"})
    assert who.json() == {"admin": False, "scope": "read", "kbs": [KB]}, who.text
    listed = httpx.get(f"{page.url}/keys", headers=ADMIN).json()["keys"]
    key_id = next(k["id"] for k in listed if k["id"] in key)
    row = f"#keys-body tr[data-key='{key_id}']"
    page.wait(lambda d: d.find_elements(By.CSS_SELECTOR, row), "the new key is not listed")
    assert "read" in page.driver.find_element(By.CSS_SELECTOR, row).text
    page.screenshot("keys")
    page.driver.find_element(By.CSS_SELECTOR, f"{row} button.danger").click()
    page.driver.switch_to.alert.accept()
    page.wait(lambda d: "revoked" in d.find_element(By.CSS_SELECTOR, row).text, "never revoked")
    assert not page.driver.find_elements(By.CSS_SELECTOR, f"{row} button.danger")
    refused = httpx.get(f"{page.url}/keys/me", headers={"Authorization": f"Bearer {key}"})
    assert refused.status_code == 401
    page.by_id("keys-close").click()
    page.wait(lambda d: page.by_id("key-new-value").get_attribute("value") == "",
              "the new key is kept after closing")


def test_a_read_key_has_no_upload_and_a_forced_upload_is_refused(
        admin: Page, files: dict[str, Path]) -> None:
    page = admin  # last: it signs the admin out
    before = httpx.get(f"{page.url}/kbs/{KB}/documents", headers=ADMIN).json()["documents"]
    made = httpx.post(f"{page.url}/keys", json={"kbs": [KB], "scope": "read"}, headers=ADMIN)
    assert made.status_code in (200, 201), made.text
    page.by_id("sign-out").click()
    page.wait(lambda d: d.find_element(By.ID, "signin").is_displayed(), "never signed out")
    page.sign_in(made.json()["key"])
    assert not page.by_id("kb-create").is_displayed()
    assert not page.by_id("keys-open").is_displayed()
    page.select_kb(KB)
    page.by_id("tab-docs").click()
    page.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#docs-body tr"), "no documents")
    assert not page.by_id("upload").is_displayed()
    assert not page.driver.find_element(By.CSS_SELECTOR, "label[for=files]").is_displayed()
    assert not page.driver.find_elements(By.CSS_SELECTOR, "#docs-body button.danger")
    status = page.driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const form = new FormData();
        form.append('files', new Blob(['%PDF-1.4 forced'], {type: 'application/pdf'}), 'f.pdf');
        fetch(arguments[0], {method: 'POST', body: form,
              headers: {Authorization: 'Bearer ' + sessionStorage.getItem('qa.key')}})
          .then((r) => done(r.status), (e) => done(String(e)));""", f"kbs/{KB}/documents")
    assert status == 403, status
    # the page's own upload, its control forced visible: the 403 is shown in words
    page.driver.execute_script("document.getElementById('upload').hidden = false;")
    page.by_id("files").send_keys(str(files["lighthouse.pdf"]))
    page.wait(lambda d: d.find_element(By.ID, "notice").is_displayed(), "no message")
    assert "read-only" in page.by_id("notice-text").text
    assert not page.by_id("upload").is_displayed()  # hidden again
    listed = httpx.get(f"{page.url}/kbs/{KB}/documents", headers=ADMIN).json()["documents"]
    assert len(listed) == len(before), listed
