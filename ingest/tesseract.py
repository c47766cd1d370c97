"""Tesseract, the OCR engine: a page image in, its text and each character's box out.

The one module that runs Tesseract (Debian's `tesseract-ocr` with `tesseract-ocr-kor` and
`tesseract-ocr-eng`). It runs the `tesseract` program once per page, reading the image on
stdin, with one thread (`OMP_THREAD_LIMIT=1`: the parser workers size the machine's
parallelism), under the caller's memory limit (a child process inherits the worker's
address-space limit) and a time limit of its own: past it the program is killed and the
page is reported, not waited for.

A page is read region by region (`ingest.columns`), each region as one column of text
(`--psm 4`) on a white margin. One run writes both of Tesseract's plain text and its TSV
table of words. The plain text has Tesseract's own word spacing and line breaks, which the
TSV table lacks for Korean (it lists most Hangul syllables as words of their own); the table
has each word's box and confidence. Both hold the same characters in the same order, so
each character of the text gets the box of the word it belongs to (split evenly among the
word's characters).
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import tempfile
import time
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ingest.columns import reading_regions

__all__ = ["DEFAULT_LANGUAGES", "MIN_CONFIDENCE", "OcrError", "OcrText", "OcrTimeout",
           "Word", "assemble", "recognize", "tesseract_problem", "tesseract_version"]

DEFAULT_LANGUAGES = "kor+eng"
MIN_CONFIDENCE = 10.0  # Tesseract's word confidence (0-100) below which a "word" is noise
MARGIN = 16  # white pixels around a region: Tesseract misreads text at an image's edge
_ODD_SYMBOLS = r"\u300c-\u300f\\|¦{}"  # 「」『』 and the like: rarely printed, often misread
_ODD = re.compile(f"[{_ODD_SYMBOLS}]")
# The Korean model writes the "m" of a unit after a figure as the letter ㅁ ("2.43ㅁ", "5kㅁ")
_UNIT_JAMO = re.compile(r"(?<=[0-9ckm])\u3141")
_DOUBTFUL = re.compile(f"[A-Za-z{_ODD_SYMBOLS}]")
_LATIN_LETTER = re.compile(r"[A-Za-z]")
_LETTER = re.compile(r"[^\W\d_]")
_LANGUAGES = re.compile(r"^[A-Za-z_]+(\+[A-Za-z_]+)*$")
_PROGRAM = "tesseract"


class OcrError(Exception):
    """Tesseract could not read a page; the message says why, in words."""


class OcrTimeout(OcrError):
    """Tesseract ran past the page's time limit and was stopped."""


@dataclass(frozen=True)
class Word:
    """One word of Tesseract's TSV table: its text and box in image pixels."""

    text: str
    left: int
    top: int
    width: int
    height: int
    confidence: float


@dataclass(frozen=True)
class OcrText:
    """A page's recognized text and one box per character (image pixels: x0, y0, x1, y1;
    NaN rows for whitespace), or `boxes=None` when they could not be tied to the text."""

    text: str
    boxes: npt.NDArray[np.float32] | None


def tesseract_problem(languages: str = DEFAULT_LANGUAGES) -> str | None:
    """Why OCR with `languages` cannot run here, in words; None when it can."""
    if not _LANGUAGES.match(languages):
        return f"'{languages}' is not a list of Tesseract languages such as 'kor+eng'"
    if shutil.which(_PROGRAM) is None:
        return ("the tesseract program is not installed (Debian: apt-get install "
                "tesseract-ocr tesseract-ocr-kor tesseract-ocr-eng)")
    try:
        listed = subprocess.run([_PROGRAM, "--list-langs"], capture_output=True,  # noqa: S603
                                timeout=30, check=False, env=_environment())
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"the tesseract program does not run ({exc})"
    have = set(listed.stdout.decode("utf-8", "replace").split()[1:])
    missing = [lang for lang in languages.split("+") if lang not in have]
    if missing:
        packages = " ".join(f"tesseract-ocr-{lang}" for lang in missing)
        return (f"Tesseract has no data for {', '.join(missing)} (Debian: apt-get install "
                f"{packages})")
    return None


def tesseract_version() -> str:
    """"tesseract 5.3.0", or "" when the program cannot say."""
    try:
        shown = subprocess.run([_PROGRAM, "--version"], capture_output=True,  # noqa: S603
                               timeout=30, check=False, env=_environment())
    except (OSError, subprocess.TimeoutExpired):
        return ""
    lines = (shown.stdout or shown.stderr).decode("utf-8", "replace").splitlines()
    return lines[0].strip() if lines else ""


def recognize(image: npt.NDArray[np.uint8], languages: str, timeout_s: float) -> OcrText:
    """The text of a grayscale page image (rows x columns, 0 = black), its regions
    (`ingest.columns`: full-width bands, and two columns left first) read in turn, each as
    one column of text. Raises `OcrTimeout` past `timeout_s` seconds for the whole page
    and `OcrError` when Tesseract fails."""
    if image.ndim != 2 or image.dtype != np.uint8:
        raise ValueError("a grayscale image (2-D uint8 array) is expected")
    deadline = time.monotonic() + timeout_s
    parts: list[OcrText] = []
    for region in reading_regions(image):
        crop = np.pad(image[region.y0:region.y1, region.x0:region.x1], MARGIN,
                      constant_values=255)
        read = _recognize_region(crop, languages, deadline, timeout_s)
        if read.text:
            x, y = region.x0 - MARGIN, region.y0 - MARGIN
            offset = np.array([x, y, x, y], dtype=np.float32)
            parts.append(OcrText(read.text, None if read.boxes is None
                                 else read.boxes + offset))
    return _concatenated(parts)


def _concatenated(parts: list[OcrText]) -> OcrText:
    """The regions' texts, one after the other on lines of their own."""
    text = "\n".join(part.text for part in parts)
    pieces: list[npt.NDArray[np.float32]] = []
    for part in parts:
        if part.boxes is None:
            return OcrText(text, None)
        if pieces:
            pieces.append(np.full((1, 4), np.nan, dtype=np.float32))  # the newline
        pieces.append(part.boxes)
    boxes = np.concatenate(pieces) if pieces else np.zeros((0, 4), dtype=np.float32)
    return OcrText(text, boxes.astype(np.float32))


def _recognize_region(image: npt.NDArray[np.uint8], languages: str, deadline: float,
                      timeout_s: float) -> OcrText:
    plain, table = _run(image, languages, "4", ("txt", "tsv"), deadline, timeout_s)
    words = words_of(table)
    layout = layout_of(plain, words)
    if layout is None:
        return _text_only(plain)
    return text_of(layout, _reread_doubtful(image, words, languages, deadline, timeout_s))


def _run(image: npt.NDArray[np.uint8], languages: str, psm: str, outputs: tuple[str, ...],
         deadline: float, timeout_s: float) -> list[str]:
    """Tesseract's `outputs` ("txt", "tsv") for `image`, read in page segmentation mode
    `psm`, within `deadline` (a `time.monotonic()` value)."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise OcrTimeout(f"OCR ran past its limit of {timeout_s:g} s")
    height, width = image.shape
    portable_graymap = b"P5 %d %d 255\n" % (width, height) + np.ascontiguousarray(image).tobytes()
    with tempfile.TemporaryDirectory(prefix="qa-ocr-") as folder:
        base = Path(folder) / "page"
        try:
            run = subprocess.run(  # noqa: S603 - fixed program, checked language list
                [_PROGRAM, "stdin", str(base), "-l", languages, "--psm", psm, *outputs],
                input=portable_graymap, capture_output=True, timeout=remaining, check=False,
                env=_environment())
        except subprocess.TimeoutExpired as exc:
            raise OcrTimeout(f"OCR ran past its limit of {timeout_s:g} s") from exc
        except OSError as exc:
            raise OcrError(f"the tesseract program could not start ({exc})") from exc
        if run.returncode != 0:
            said = run.stderr.decode("utf-8", "replace").strip().splitlines()
            raise OcrError("tesseract failed"
                           + (f": {said[-1][:200]}" if said else f" (exit code {run.returncode})"))
        try:
            return [base.with_suffix(f".{kind}").read_text("utf-8", errors="replace")
                    for kind in outputs]
        except OSError as exc:
            raise OcrError(f"tesseract wrote no result ({exc})") from exc


def _reread_doubtful(image: npt.NDArray[np.uint8], words: list[Word], languages: str,
                     deadline: float, timeout_s: float) -> list[Word]:
    """`words`, where Tesseract misread words of a page in another script, read again.

    With several languages (`kor+eng`), Tesseract takes a Korean word for Latin letters
    now and then ("홍문종" as "SES", at confidence 91), and an English word in Korean text
    for symbols ("BTV" as "81\\"). On a page whose letters are mostly not Latin, every word
    with a Latin letter or such a symbol is read again with each language alone, all such
    words in one image a language, and the reading Tesseract is surest of is kept (the
    first reading on a tie; a reading with such a symbol counts as unsure)."""
    alone = languages.split("+")
    if len(alone) < 2:
        return words
    letters = sum(len(_LETTER.findall(word.text)) for word in words)
    latin = sum(len(_LATIN_LETTER.findall(word.text)) for word in words)
    doubtful = [i for i, word in enumerate(words) if _DOUBTFUL.search(word.text)]
    if not doubtful or latin > letters / 2:
        return words
    sheet, spans = _word_sheet(image, [words[i] for i in doubtful])
    best = {index: words[index] if not _ODD.search(words[index].text)
            else replace(words[index], confidence=0.0) for index in doubtful}
    for language in alone:
        (table,) = _run(sheet, language, "6", ("tsv",), deadline, timeout_s)
        read: list[list[Word]] = [[] for _ in doubtful]
        for word in words_of(table):
            middle = word.top + word.height / 2
            for slot, (top, bottom) in enumerate(spans):
                if top <= middle < bottom:
                    read[slot].append(word)
        for index, found in zip(doubtful, read, strict=True):
            text = "".join(word.text for word in sorted(found, key=lambda w: w.left))
            if not found or not _LETTER.search(text) or _ODD.search(text):
                continue
            confidence = min(word.confidence for word in found)
            if confidence > best[index].confidence:
                old = words[index]
                best[index] = Word(text, old.left, old.top, old.width, old.height, confidence)
    return [best.get(index, word) for index, word in enumerate(words)]


def _word_sheet(image: npt.NDArray[np.uint8], words: list[Word]
                ) -> tuple[npt.NDArray[np.uint8], list[tuple[int, int]]]:
    """The words' boxes cut out of `image`, one under the other on a white sheet, and the
    rows each one spans on it."""
    pad = 6
    crops = [image[max(0, w.top - pad):w.top + w.height + pad,
                   max(0, w.left - pad):w.left + w.width + pad] for w in words]
    gap = max(crop.shape[0] for crop in crops)
    width = max(crop.shape[1] for crop in crops) + 2 * MARGIN
    sheet = np.full((MARGIN * 2 + sum(c.shape[0] + gap for c in crops), width), 255,
                    dtype=np.uint8)
    spans, top = [], MARGIN
    for crop in crops:
        sheet[top:top + crop.shape[0], MARGIN:MARGIN + crop.shape[1]] = crop
        spans.append((top - gap // 2, top + crop.shape[0] + gap // 2))
        top += crop.shape[0] + gap
    return sheet, spans


def words_of(table: str) -> list[Word]:
    """The words (level 5 rows, with text) of Tesseract's TSV output."""
    words: list[Word] = []
    for line in table.splitlines()[1:]:
        cells = line.split("\t")
        if len(cells) < 12 or cells[0] != "5" or not cells[11].strip():
            continue
        try:
            left, top, width, height = (int(cell) for cell in cells[6:10])
            confidence = float(cells[10])
        except ValueError:
            continue
        words.append(Word(cells[11].strip(), left, top, width, height, confidence))
    return words


def assemble(plain: str, words: list[Word]) -> OcrText:
    """The page text: Tesseract's plain text (its spacing and lines), without the words
    whose confidence is under `MIN_CONFIDENCE`, whitespace tidied as the text layer's is
    (single spaces, one line a printed line); each character with its word's box. When the
    plain text and the table do not hold the same characters, the text alone (no boxes)."""
    layout = layout_of(plain, words)
    if layout is None:
        return _text_only(plain)
    return text_of(layout, words)


Layout = list[list[list[int]]]  # lines -> tokens -> the indices of the words they hold


def layout_of(plain: str, words: list[Word]) -> Layout | None:
    """Which words each space-separated token of each line of the plain text holds; None
    when the plain text and the table do not hold the same characters."""
    owners = [index for index, word in enumerate(words) for _ in word.text]
    if "".join(plain.split()) != "".join(word.text for word in words):
        return None
    lines: Layout = []
    cursor = 0
    for line in plain.splitlines():
        tokens = []
        for token in line.split():
            held: list[int] = []
            for owner in owners[cursor:cursor + len(token)]:
                if not held or held[-1] != owner:
                    held.append(owner)
            cursor += len(token)
            tokens.append(held)
        lines.append(tokens)
    return lines


def text_of(layout: Layout, words: list[Word]) -> OcrText:
    """The text of `layout` with the words' (possibly re-read) texts and boxes; a word
    under `MIN_CONFIDENCE` is left out, a token with no word left is dropped."""
    lines: list[list[list[tuple[str, Box]]]] = []
    done: set[int] = set()
    for line in layout:
        tokens = []
        for held in line:
            kept = [(char, _char_box(words[index], k)) for index in held
                    if index not in done and words[index].confidence >= MIN_CONFIDENCE
                    for k, char in enumerate(words[index].text)]
            done.update(held)
            if kept:
                tokens.append(kept)
        lines.append(tokens)
    return _joined(lines)


Box = tuple[float, float, float, float]
_NO_BOX: Box = (math.nan, math.nan, math.nan, math.nan)


def _joined(lines: list[list[list[tuple[str, Box]]]]) -> OcrText:
    """Tokens joined by one space, lines by one newline (Tesseract's blank lines fall inside
    paragraphs as often as between them, so they are dropped); separators have no box."""
    characters: list[tuple[str, Box]] = []
    for tokens in (line for line in lines if line):
        separator = "\n" if characters else ""
        for token in tokens:
            characters += [(char, _NO_BOX) for char in separator]
            characters += token
            separator = " "
    text = _UNIT_JAMO.sub("m", "".join(char for char, _ in characters))
    normalized = unicodedata.normalize("NFC", text)
    if normalized != text:  # composing characters moves offsets: keep the text only
        return OcrText(normalized, None)
    boxes = np.asarray([box for _, box in characters], dtype=np.float32)
    return OcrText(text, boxes.reshape(len(text), 4))


def _char_box(word: Word, index: int) -> Box:
    """The `index`-th of the word's characters' boxes: the word's box cut into equal
    slices, one a character."""
    step = word.width / max(1, len(word.text))
    x0 = word.left + step * index
    return (x0, float(word.top), x0 + step, float(word.top + word.height))


def _text_only(plain: str) -> OcrText:
    """Tesseract's plain text, tidied, without boxes (when the table does not match it)."""
    lines = (" ".join(line.split()) for line in plain.splitlines())
    return OcrText(unicodedata.normalize("NFC", "\n".join(line for line in lines if line)), None)


def _environment() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if key in ("PATH", "HOME", "LANG", "LC_ALL", "TESSDATA_PREFIX", "TMPDIR")}
    env["OMP_THREAD_LIMIT"] = "1"  # one thread: the parser workers are the parallelism
    return env
