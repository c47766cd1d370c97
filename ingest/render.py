"""Page images for OCR: a PDF page rendered in grayscale by pdfium (pypdfium2).

Like `ingest.positions`, it speaks to pdfium, here to draw pages, within limits set before
anything is decoded: a page whose images decode to more than `max_image_bytes` (a scan
bomb: one 100,000 x 100,000 image of one bit a pixel is 1,250 MB) is refused (pdfium draws
a large image at the page's resolution without holding all of it: a 35,000 x 35,000 fax
image, 153 MB decoded, draws in a second with 34 MB), and a page larger
than `max_pixels` at the requested resolution is drawn at a lower one, so that neither
the worker's memory limit nor the kernel has to stop it.

Coordinates: the image is the page as displayed (crop box, /Rotate applied) at `scale`
pixels a point, so a pixel (x, y) is the point (x / scale, y / scale) in the coordinates of
`qa_service.page_positions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["PageImage", "PdfPages", "RenderRefused", "image_bytes", "render_page"]

MIN_DPI = 50.0  # a page that only fits at a lower resolution is refused: OCR reads nothing


class RenderRefused(Exception):
    """The page is not drawn: it is over a limit; the message says which, in words."""


@dataclass(frozen=True)
class PageImage:
    """A grayscale page image (0 = black) and its pixels per PDF point."""

    pixels: npt.NDArray[np.uint8]
    scale: float
    width_pt: float
    height_pt: float


class PdfPages:
    """One document's pages to draw: `with PdfPages(data) as pages: pages.draw(3, ...)`.
    Raises `RenderRefused` when pdfium cannot open the document."""

    def __init__(self, data: bytes) -> None:
        import pypdfium2 as pdfium

        try:
            self._document = pdfium.PdfDocument(data)
        except Exception as exc:  # pdfium's errors are plain exceptions
            raise RenderRefused(f"pdfium cannot open the file ({exc})") from exc

    def draw(self, number: int, dpi: float, max_pixels: int, max_image_bytes: int
             ) -> PageImage:
        """Page `number` (1-based), as `render_page` draws it."""
        try:
            page = self._document[number - 1]
        except Exception as exc:  # pdfium's errors are plain exceptions
            raise RenderRefused(f"pdfium cannot load the page ({exc})") from exc
        try:
            return render_page(page, dpi, max_pixels, max_image_bytes)
        except RenderRefused:
            raise
        except MemoryError as exc:
            raise RenderRefused("drawing it needs more memory than the parser may use") from exc
        except Exception as exc:  # a page pdfium cannot draw is reported
            raise RenderRefused(f"pdfium cannot draw it ({exc})") from exc
        finally:
            page.close()

    def close(self) -> None:
        self._document.close()

    def __enter__(self) -> PdfPages:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def image_bytes(page: Any) -> int:
    """How many bytes the page's images decode to (pixels times bits a pixel), read from
    their dictionaries (nothing is decoded), forms included."""
    import pypdfium2.raw as pdfium_c

    total = 0
    for image in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=8):
        try:
            width, height = image.get_px_size()
            bits = max(1, int(image.get_metadata().bits_per_pixel))
        except Exception:  # noqa: BLE001, S112 - an image whose size cannot be read adds none
            continue
        total += max(0, int(width)) * max(0, int(height)) * bits // 8
    return total


def render_page(page: Any, dpi: float, max_pixels: int, max_image_bytes: int) -> PageImage:
    """The page (a `pypdfium2.PdfPage`) in grayscale at `dpi`, or lower when the page is too
    large for `max_pixels`. Raises `RenderRefused` for a page over the limits."""
    held = image_bytes(page)
    if held > max_image_bytes:
        raise RenderRefused(
            f"its images decode to {held / 1e6:,.0f} MB, over the OCR limit of "
            f"{max_image_bytes / 1e6:,.0f} MB (QA_INGEST__OCR_MAX_IMAGE_MB)")
    width_pt, height_pt = (float(v) for v in page.get_size())
    if width_pt <= 0 or height_pt <= 0:
        raise RenderRefused("the page has no area")
    scale = dpi / 72.0
    if width_pt * height_pt * scale * scale > max_pixels:
        scale = (max_pixels / (width_pt * height_pt)) ** 0.5
        if scale * 72.0 < MIN_DPI:
            raise RenderRefused(
                f"the page is {width_pt / 72:,.0f} x {height_pt / 72:,.0f} inches, too large "
                f"to read at {MIN_DPI:g} dpi or more within {max_pixels / 1e6:,.0f} million "
                "pixels")
    bitmap = page.render(scale=scale, grayscale=True, may_draw_forms=True)
    try:
        array = bitmap.to_numpy()
        rows, columns = array.shape[0], array.shape[1]
        pixels = np.ascontiguousarray(array.reshape(rows, -1)[:, :columns], dtype=np.uint8)
    finally:
        bitmap.close()
    return PageImage(pixels, scale, width_pt, height_pt)
