"""PDF fixtures, generated on the fly (reportlab, pypdf, the project's own renderer)."""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pypdf import PdfReader, PdfWriter
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from qa_service.eval.render import find_font, rasterized, render_article

__all__ = [
    "HANGUL_FONT",
    "Drawn",
    "drawn_pdf",
    "encrypted",
    "extract_pages",
    "image_only_pdf",
    "render_pages_article",
    "text_pdf",
    "with_junk_prefix",
    "with_title",
]


def text_pdf(pages: Sequence[str], wrap: int = 80) -> bytes:
    """One PDF page per string, Helvetica, lines wrapped at `wrap` characters."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=True)
    for text in pages:
        block = pdf.beginText(50, 790)
        block.setFont("Helvetica", 10)
        for paragraph in text.split("\n"):
            for line in textwrap.wrap(paragraph, wrap) or [""]:
                block.textLine(line)
        pdf.drawText(block)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def image_only_pdf(pages: int = 1) -> bytes:
    """Pages with shapes only: no text layer at all (like a scan)."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=True)
    for number in range(pages):
        pdf.setFillColorRGB(0.2, 0.4, 0.6)
        pdf.rect(80, 400, 300, 200, fill=1)
        pdf.circle(300, 250 + number * 10, 60, fill=0)
        pdf.line(50, 50, 500, 780)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def scanned_pdf(pages: Sequence[str], dpi: float = 200.0, wrap: int = 80) -> bytes:
    """`text_pdf(pages)` as a scanner would give it back: page images, no text layer."""
    return rasterized(text_pdf(pages, wrap), dpi)


def joined_pdf(*documents: bytes) -> bytes:
    """One PDF with the pages of each document in turn."""
    writer = PdfWriter()
    for data in documents:
        for page in PdfReader(io.BytesIO(data)).pages:
            writer.add_page(page)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def encrypted(data: bytes, user_password: str, owner_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password=owner_password,
                   algorithm="AES-256")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def with_title(data: bytes, title: str) -> bytes:
    """The same PDF with its metadata title set."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.add_metadata({"/Title": title})
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def with_junk_prefix(data: bytes, size: int) -> bytes:
    """`size` bytes of junk (never containing %PDF-) before the PDF."""
    junk = (b"MIME-junk\r\n" * (size // 11 + 1))[:size]
    assert b"%PDF-" not in junk
    return junk + data


def extract_pages(data: bytes) -> list[str]:
    """Independent page texts (plain pypdf) to check where a fixture put its text."""
    return [page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages]


def render_pages_article(path: Path, title: str, paragraphs: Sequence[str]) -> bytes:
    render_article(path, title, paragraphs)
    return path.read_bytes()


HANGUL_FONT = "QaTestHangul"


@dataclass(frozen=True)
class Drawn:
    """A string drawn with its baseline starting at (x, y), PDF coordinates (origin at the
    bottom-left corner)."""

    x: float
    y: float
    text: str
    font: str = "Helvetica"  # or HANGUL_FONT (NanumGothic)
    size: float = 10

    def width(self, text: str | None = None) -> float:
        """The drawn width of `text` (default: all of it) in this font and size."""
        from reportlab.pdfbase.pdfmetrics import stringWidth

        return float(stringWidth(self.text if text is None else text, self.font, self.size))

    def x_of(self, prefix: str) -> float:
        """Where the character after `prefix` (which the text starts with) begins."""
        assert self.text.startswith(prefix)
        return self.x + self.width(prefix)


def drawn_pdf(pages: Sequence[Sequence[Drawn]], rotate: int = 0) -> bytes:
    """One A4 page per list of strings, each drawn exactly where it says; `rotate` sets
    every page's /Rotate."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if HANGUL_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(HANGUL_FONT, str(find_font())))
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=True)
    for strings in pages:
        for drawn in strings:
            pdf.setFont(drawn.font, drawn.size)
            pdf.drawString(drawn.x, drawn.y, drawn.text)
        pdf.showPage()
    pdf.save()
    if not rotate:
        return buffer.getvalue()
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(buffer.getvalue())))
    for page in writer.pages:
        page.rotate(rotate)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
