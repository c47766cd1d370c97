"""Pages -> chunks: page-aware, sentence-aware, pure (no I/O, no models).

A chunk never crosses a page, so every passage cites one page and a character span in
that page's text. Whole sentences are packed up to `target_chars`; the last
`overlap_sentences` sentences of a chunk open the next one (unless they would fill more
than half of it). A sentence longer than the
target (tables, lists without punctuation) is cut at whitespace. A page-final remainder
shorter than `min_chars` joins the previous chunk of the page.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from qa_service.schemas import Chunk, Page
from qa_service.sentences import bounded_sentences

__all__ = ["ChunkerConfig", "chunk_document", "chunk_id"]


@dataclass(frozen=True)
class ChunkerConfig:
    target_chars: int = 2200
    overlap_sentences: int = 1
    min_chars: int = 150

    @classmethod
    def from_description(cls, described: dict[str, object]) -> ChunkerConfig:
        """The inverse of `describe()`, as stored in a knowledge base's manifest."""
        fields = ("target_chars", "overlap_sentences", "min_chars")
        return cls(**{name: int(described[name]) for name in fields  # type: ignore[call-overload]
                      if name in described})

    def describe(self) -> dict[str, int | str]:
        return {
            "name": "sentence-pack-v1",
            "target_chars": self.target_chars,
            "overlap_sentences": self.overlap_sentences,
            "min_chars": self.min_chars,
        }


def chunk_id(document_id: str, page: int, start: int, end: int, version: str = "") -> int:
    """A stable positive int64 id derived from the document hash and the span, and for a
    rebuilt document (`qa kb rebuild`) the version of the pipeline that rebuilt it
    (`IndexIdentity.pipeline_version`): its new ids then differ from its previous
    version's, so the two versions' vectors never mix."""
    key = f"{document_id}:{page}:{start}:{end}" + (f":{version}" if version else "")
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:8], "big") & 0x7FFF_FFFF_FFFF_FFFF


def chunk_document(document_id: str, pages: list[Page], config: ChunkerConfig,
                   version: str = "") -> list[Chunk]:
    chunks: list[Chunk] = []
    for page in pages:
        for start, end in chunk_spans(page.text, config):
            chunks.append(
                Chunk(
                    id=chunk_id(document_id, page.number, start, end, version),
                    document_id=document_id,
                    page=page.number,
                    char_start=start,
                    char_end=end,
                    text=page.text[start:end],
                )
            )
    return chunks


def chunk_spans(text: str, config: ChunkerConfig) -> list[tuple[int, int]]:
    """Character spans of the chunks of one page's text."""
    sentences = bounded_sentences(text, config.target_chars)
    spans: list[tuple[int, int]] = []
    first = covered = 0  # sentences before `covered` are already in a chunk
    while covered < len(sentences):
        if sentences[covered][1] - sentences[first][0] > config.target_chars:
            first = covered  # the overlap would not fit beside the next sentence
        last = covered
        while (
            last + 1 < len(sentences)
            and sentences[last + 1][1] - sentences[first][0] <= config.target_chars
        ):
            last += 1
        spans.append((sentences[first][0], sentences[last][1]))
        covered = last + 1
        first = max(first + 1, covered - config.overlap_sentences)
        if covered < len(sentences) and (
            sentences[covered - 1][1] - sentences[first][0] > config.target_chars // 2
        ):
            first = covered  # an overlap over half a chunk would mostly repeat it
    return _merge_short_tail(spans, config.min_chars)


def _merge_short_tail(spans: list[tuple[int, int]], min_chars: int) -> list[tuple[int, int]]:
    if len(spans) >= 2 and spans[-1][1] - spans[-1][0] < min_chars:
        tail = spans.pop()
        spans[-1] = (spans[-1][0], tail[1])
    return spans
