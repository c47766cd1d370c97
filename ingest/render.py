"""Page images: a PDF page rendered by pdfium (pypdfium2), in grayscale for OCR, in RGB
for display (`ingest.page_image`).

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

__all__ = ["PageImage", "PdfPages", "RenderOverLimit", "RenderRefused", "image_bytes",
           "render_page"]

MIN_DPI = 50.0  # a page that only fits at a lower resolution is refused: OCR reads nothing


class RenderRefused(Exception):
    """The page is not drawn: pdfium cannot, or it is over a limit (`RenderOverLimit`); the
    message says why, in words."""


class RenderOverLimit(RenderRefused):
    """The page is not drawn: it is over a limit (decoded images, pixels, memory, time)."""


@dataclass(frozen=True)
class PageImage:
    """A page image, grayscale (rows x columns, 0 = black) or RGB (rows x columns x 3), and
    its pixels per PDF point."""

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

    def draw(self, number: int, dpi: float, max_pixels: int, max_image_bytes: int, *,
             grayscale: bool = True, min_dpi: float = MIN_DPI) -> PageImage:
        """Page `number` (1-based), as `render_page` draws it."""
        try:
            page = self._document[number - 1]
        except Exception as exc:  # pdfium's errors are plain exceptions
            raise RenderRefused(f"pdfium cannot load the page ({exc})") from exc
        try:
            return render_page(page, dpi, max_pixels, max_image_bytes,
                               grayscale=grayscale, min_dpi=min_dpi)
        except RenderRefused:
            raise
        except MemoryError as exc:
            raise RenderOverLimit("drawing it needs more memory than the parser may use") from exc
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


def render_page(page: Any, dpi: float, max_pixels: int, max_image_bytes: int, *,
                grayscale: bool = True, min_dpi: float = MIN_DPI) -> PageImage:
    """The page (a `pypdfium2.PdfPage`) in grayscale (or RGB) at `dpi`, or lower when the page
    is too large for `max_pixels`, never under `min_dpi`. Raises `RenderOverLimit` for a page
    over the limits."""
    held = image_bytes(page)
    if held > max_image_bytes:
        raise RenderOverLimit(
            f"its images decode to {held / 1e6:,.0f} MB, over the OCR limit of "
            f"{max_image_bytes / 1e6:,.0f} MB (QA_INGEST__OCR_MAX_IMAGE_MB)")
    width_pt, height_pt = (float(v) for v in page.get_size())
    if width_pt <= 0 or height_pt <= 0:
        raise RenderRefused("the page has no area")
    scale = dpi / 72.0
    if width_pt * height_pt * scale * scale > max_pixels:
        scale = (max_pixels / (width_pt * height_pt)) ** 0.5
        if scale * 72.0 < min_dpi:
            raise RenderOverLimit(
                f"the page is {width_pt / 72:,.0f} x {height_pt / 72:,.0f} inches, too large "
                f"to read at {min_dpi:g} dpi or more within {max_pixels / 1e6:,.0f} million "
                "pixels")
    bitmap = page.render(scale=scale, grayscale=grayscale, rev_byteorder=not grayscale,
                         may_draw_forms=True)
    try:
        pixels = _pixels(bitmap.to_numpy(), grayscale)
    finally:
        bitmap.close()
    return PageImage(pixels, scale, width_pt, height_pt)


def _pixels(array: npt.NDArray[np.uint8], grayscale: bool) -> npt.NDArray[np.uint8]:
    """The bitmap's pixels without row padding: rows x columns (gray) or x 3 (RGB)."""
    rows, columns = array.shape[0], array.shape[1]
    channels = 1 if grayscale else 3
    flat = array.reshape(rows, -1)[:, :columns * channels]
    shape = (rows, columns) if grayscale else (rows, columns, 3)
    return np.ascontiguousarray(flat.reshape(shape), dtype=np.uint8)
