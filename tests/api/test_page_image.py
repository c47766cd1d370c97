"""GET /kbs/{kb}/documents/{id}/pages/{n}/image: a cited page as PNG, to highlight on.

The highlight checks join the two routes as the web page does: the boxes of a quote, times
the image's `X-Page-Scale`, fall on drawn text in the image, and an independent reader
(pdfplumber) finds the quote's words inside the boxes mapped back to points.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from reportlab.pdfgen import canvas

from ingest.parser_pool import ParserLimits, ParserPool, RenderBusy
from ingest.render import RenderOverLimit, RenderRefused
from qa_service.embedding import Embedder
from tests.api.helpers import assert_error, bearer, create_kb, ingest, running_app
from tests.ingest.test_positions import HEIGHT, KOREAN, PROSE, TABLE, WIDTH
from tests.pdfs import drawn_pdf, image_only_pdf, text_pdf

KB, OTHER = "atlas", "other"
MAX_MEGAPIXELS = 4.0  # A4 fits up to scale 2.83
HUGE = 14_400.0  # points: the largest page PDF allows, 200 x 200 inches
QUOTE = "brown fox jumps"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def huge_page_pdf() -> bytes:
    """One 200 x 200 inch page: 12.96 million pixels even at scale 0.25."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=(HUGE, HUGE), invariant=True)
    pdf.setFont("Helvetica", 400)
    pdf.drawString(720, HUGE / 2, "A page as large as a wall.")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


@dataclass
class World:
    client: TestClient
    ids: dict[str, str]
    keys: dict[str, str]
    pdfs: dict[str, bytes]

    def image(self, page: int, name: str = "atlas", kb: str = KB, **query: Any) -> Any:
        headers = query.pop("headers", None)
        return self.client.get(f"/kbs/{kb}/documents/{self.ids[name]}/pages/{page}/image",
                               params=query, headers=headers)

    def boxes(self, page: int, quote: str, name: str = "atlas") -> dict[str, Any]:
        base = f"/kbs/{KB}/documents/{self.ids[name]}/pages/{page}"
        text = str(self.client.get(base).json()["text"])
        start = text.index(quote)
        response = self.client.get(f"{base}/boxes",
                                   params={"start": start, "end": start + len(quote)})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert body["positions"] and body["boxes"], body
        return body


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder,
          shared_models: None) -> Iterator[World]:
    pdfs = {"atlas": drawn_pdf([[*PROSE, KOREAN], TABLE]),
            "turned": drawn_pdf([PROSE], rotate=90),
            "huge": huge_page_pdf(), "scan": image_only_pdf()}
    data = tmp_path_factory.mktemp("page-image") / "data"
    with running_app(data, embedder, ingest={"ocr": "off",
                                             "ocr_max_megapixels": MAX_MEGAPIXELS}) as client:
        create_kb(client, KB)
        create_kb(client, OTHER)
        job = ingest(client, KB, [(f"{name}.pdf", data) for name, data in pdfs.items()])
        outcomes = {f["filename"].removesuffix(".pdf"): f for f in job["files"]}
        assert outcomes["scan"]["status"] == "no_text", outcomes
        ids = {name: str(outcome["document_id"]) for name, outcome in outcomes.items()}
        assert ingest(client, OTHER, [("other.pdf", text_pdf(["Elsewhere."]))])["state"] == "done"
        keys = {kb: client.post("/keys", json={"kbs": [kb], "scope": "read"}).json()["key"]
                for kb in (KB, OTHER)}
        yield World(client, ids, keys, pdfs)


def png(response: Any) -> npt.NDArray[np.uint8]:
    """The response's image, checked to be a PNG, as gray levels (rows x columns)."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert response.content.startswith(PNG_SIGNATURE)
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("L"))


def scale_of(response: Any) -> float:
    return float(response.headers["x-page-scale"])


def assert_size(pixels: npt.NDArray[np.uint8], width: float, height: float,
                scale: float) -> None:
    rows, columns = pixels.shape
    assert abs(columns - width * scale) <= 1 and abs(rows - height * scale) <= 1, \
        (pixels.shape, width, height, scale)


@pytest.mark.parametrize("scale", [0.25, 1.0, 1.5, 2.0])
def test_the_image_is_the_page_at_the_scale_asked(world: World, scale: float) -> None:
    response = world.image(1, scale=scale)
    assert scale_of(response) == pytest.approx(scale)
    assert_size(png(response), WIDTH, HEIGHT, scale)


def test_the_default_scale_is_1_5_and_the_image_is_rgb(world: World) -> None:
    response = world.image(2)
    assert scale_of(response) == 1.5
    assert_size(png(response), WIDTH, HEIGHT, 1.5)
    assert Image.open(io.BytesIO(response.content)).mode == "RGB"


@pytest.mark.parametrize("scale", ["0.2", "4.01", "0", "-1", "nan", "large"])
def test_a_scale_out_of_bounds_is_a_validation_error(world: World, scale: str) -> None:
    assert_error(world.image(1, scale=scale), 422, "validation_error")


def test_a_page_over_the_pixel_limit_is_drawn_at_a_lower_scale(world: World) -> None:
    response = world.image(1, scale=4)
    used = scale_of(response)
    assert used == pytest.approx((MAX_MEGAPIXELS * 1e6 / (WIDTH * HEIGHT)) ** 0.5, rel=1e-3)
    pixels = png(response)
    assert pixels.size <= MAX_MEGAPIXELS * 1e6 + sum(pixels.shape)  # a row and a column
    assert_size(pixels, WIDTH, HEIGHT, used)


def test_a_page_too_large_even_at_the_lowest_scale_is_refused(world: World) -> None:
    error = assert_error(world.image(1, "huge", scale=0.25), 413, "too_large")
    assert "too large to read at 18 dpi or more within 4 million pixels" in error["message"]


def test_a_read_key_may_fetch_it(world: World) -> None:
    png(world.image(1, headers=bearer(world.keys[KB])))


def test_another_knowledge_base_s_key_gets_404(world: World) -> None:
    assert_error(world.image(1, headers=bearer(world.keys[OTHER])), 404, "kb_not_found")


def test_a_document_of_another_knowledge_base_is_not_found_through_it(world: World) -> None:
    assert_error(world.image(1, kb=OTHER), 404, "document_not_found")


@pytest.mark.parametrize("page", [0, 3, -1, 2**63])
def test_a_page_that_does_not_exist_is_404(world: World, page: int) -> None:
    error = assert_error(world.image(page), 404, "page_not_found")
    assert "its pages are 1-2" in error["message"]


def test_an_unknown_document_is_404(world: World) -> None:
    response = world.client.get(f"/kbs/{KB}/documents/{'0' * 64}/pages/1/image")
    assert_error(response, 404, "document_not_found")


def test_a_document_that_ended_no_text_has_no_pdf_to_draw(world: World) -> None:
    error = assert_error(world.image(1, "scan"), 404, "not_found")
    assert "ended no_text" in error["message"] and "keep their PDF" in error["message"]


def test_the_image_is_cached_by_etag(world: World) -> None:
    first = world.image(1, scale=1.25)
    png(first)
    tag = first.headers["etag"]
    assert tag.startswith('"') and tag.endswith('"')
    assert first.headers["cache-control"].startswith("private, max-age=")
    again = world.image(1, scale=1.25, headers={"If-None-Match": f'"other", W/{tag}'})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == tag
    assert world.image(1, scale=1.25).headers["etag"] == tag  # the same image, the same tag
    assert world.image(1, scale=1.5).headers["etag"] != tag
    assert world.image(2, scale=1.25).headers["etag"] != tag
    assert world.image(1, scale=1.25, headers={"If-None-Match": '"other"'}).status_code == 200


def test_a_304_still_needs_access(world: World) -> None:
    tag = world.image(1).headers["etag"]
    response = world.image(1, headers={**bearer(world.keys[OTHER]), "If-None-Match": tag})
    assert_error(response, 404, "kb_not_found")


def crops(pixels: npt.NDArray[np.uint8], boxes: list[dict[str, float]], scale: float
          ) -> list[npt.NDArray[np.uint8]]:
    """The image under each box (points, top-left origin): pixel = point x scale."""
    return [pixels[int(b["y0"] * scale):int(np.ceil(b["y1"] * scale)),
                   int(b["x0"] * scale):int(np.ceil(b["x1"] * scale))] for b in boxes]


@pytest.mark.parametrize("name", ["atlas", "turned"])
def test_a_quote_s_boxes_scaled_fall_on_its_drawn_text(world: World, name: str) -> None:
    found = world.boxes(1, QUOTE, name)
    response = world.image(1, name, scale=2)
    pixels, scale = png(response), scale_of(response)
    assert_size(pixels, found["width"], found["height"], scale)  # turned: 842 x 595 points
    for crop in crops(pixels, found["boxes"], scale):
        assert crop.size and crop.min() < 100, crop.shape  # glyphs are drawn there
    middle = {"x0": found["width"] / 2 - 40, "x1": found["width"] / 2 + 40,
              "y0": found["height"] / 2 - 40, "y1": found["height"] / 2 + 40}
    (blank,) = crops(pixels, [middle], scale)  # the middle of the page: nothing drawn there
    assert blank.size and blank.min() > 250, blank.min()


def test_pdfplumber_reads_the_quote_inside_its_boxes(world: World) -> None:
    pdfplumber = pytest.importorskip("pdfplumber")
    found = world.boxes(1, QUOTE)
    response = world.image(1, scale=1.5)
    scale = scale_of(response)
    pixel_boxes = [[b[k] * scale for k in ("x0", "y0", "x1", "y1")] for b in found["boxes"]]
    with pdfplumber.open(io.BytesIO(world.pdfs["atlas"])) as pdf:
        page = pdf.pages[0]
        read = " ".join(  # pixels back to points; pdfplumber's top and bottom are from the top
            page.crop(tuple(v / scale for v in box), strict=False).extract_text()
            for box in pixel_boxes)
    assert QUOTE in read, read
    assert "quick" not in read and "lazy" not in read and "Pack" not in read, read


def test_a_render_over_the_time_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "atlas.pdf"
    path.write_bytes(drawn_pdf([PROSE]))
    with ParserPool(ParserLimits(render_timeout_s=0.001)) as pool, \
            pytest.raises(RenderOverLimit, match=r"longer than the limit of 0\.001 s"):
        pool.render(path, 1, 1.5, 0.25)


@pytest.mark.parametrize(("refusal", "status", "code"), [
    (RenderBusy("the page renderer stayed busy for 20 s"), 429, "rate_limited"),
    (RenderOverLimit("its images decode to 900 MB"), 413, "too_large"),
    (RenderRefused("pdfium cannot draw it (boom)"), 500, "internal"),
])
def test_a_refused_render_says_why(world: World, monkeypatch: pytest.MonkeyPatch,
                                   refusal: RenderRefused, status: int, code: str) -> None:
    def refuse(*_args: Any) -> None:
        raise refusal

    app: Any = world.client.app
    monkeypatch.setattr(app.state.services.parsers, "render", refuse)
    error = assert_error(world.image(1), status, code)
    assert str(refusal) in error["message"] and error["message"].startswith("page 1 ")
