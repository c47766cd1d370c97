"""Render articles (a title and paragraphs) to PDF with reportlab, Hangul included.

Used by the evaluation commands and by the test fixtures. The font is NanumGothic from
Debian's `fonts-nanum` (installed by `make install-dev`, which the test and evaluation
targets run); `QA_EVAL_FONT` may point to any other TrueType font that covers the text.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape

__all__ = ["FONT_CANDIDATES", "find_font", "image_only", "rasterized", "render_article"]

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/nanum/NanumGothic.ttf",
    "/usr/share/fonts/nanum/NanumGothic.ttf",
    "/Library/Fonts/NanumGothic.ttf",
)
_FONT_NAME = "QaEvalFont"


def find_font() -> Path:
    configured = os.environ.get("QA_EVAL_FONT")
    candidates = [configured] if configured else list(FONT_CANDIDATES)
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise FileNotFoundError(
        "no TrueType font with Hangul found; install Debian's fonts-nanum "
        "(`make install-dev` does) or set QA_EVAL_FONT to a .ttf file"
    )


def _register_font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if _FONT_NAME not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(_FONT_NAME, str(find_font())))
    return _FONT_NAME


def render_article(path: Path, title: str, paragraphs: Sequence[str],
                   font_size: float = 10.5) -> None:
    """Write a PDF whose paragraphs flow across A4 pages under a title."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import cm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    font = _register_font()
    body = ParagraphStyle("body", fontName=font, fontSize=font_size,
                          leading=font_size * 1.45, spaceAfter=font_size * 0.8)
    heading = ParagraphStyle("title", parent=body, fontSize=font_size * 1.6,
                             leading=font_size * 2.0, spaceAfter=font_size)
    story = [Paragraph(escape(title), heading), Spacer(1, 0.2 * cm)]
    story += [Paragraph(escape(text), body) for text in paragraphs]
    document = SimpleDocTemplate(str(path), pagesize=A4, title=title,
                                 leftMargin=2 * cm, rightMargin=2 * cm,
                                 topMargin=2 * cm, bottomMargin=2 * cm)
    document.build(story)


def image_only(path: Path, dpi: float = 200.0) -> None:
    """Replace the PDF at `path` by a scan of it (`rasterized`)."""
    path.write_bytes(rasterized(path.read_bytes(), dpi))


def rasterized(data: bytes, dpi: float = 200.0) -> bytes:
    """A scan of a PDF: each page drawn by pdfium at `dpi` in grayscale, and a PDF of those
    images (Pillow), with no text layer: what a scanner makes of a printed page."""
    import io

    import pypdfium2 as pdfium
    from PIL import Image

    document = pdfium.PdfDocument(data)
    try:
        images = [Image.fromarray(page.render(scale=dpi / 72, grayscale=True).to_numpy()
                                  .squeeze()) for page in document]
    finally:
        document.close()
    buffer = io.BytesIO()
    images[0].save(buffer, "PDF", resolution=dpi, save_all=True, append_images=images[1:])
    return buffer.getvalue()
