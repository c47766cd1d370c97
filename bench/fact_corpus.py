"""Documents made of checkable facts, in English and Korean, rendered to PDF.

Every fact is one sentence about a made-up place or person that no other fact names, with
a question that only that sentence answers. A `FactDocument` also carries what a correct
index holds for it once it is ingested: its id (the sha256 of its bytes), its pages as the
parser extracts them and its chunks as the default chunker cuts them. A client can then
check every passage and quote it receives against the document's final state.

Used by `bench/concurrency.py` and `tests/api/test_concurrency.py`.
"""

from __future__ import annotations

import hashlib
import random
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from ingest.chunk import ChunkerConfig, chunk_document
from ingest.parse import parse_pdf
from qa_service.config import ChunkingSettings
from qa_service.eval.render import render_article
from qa_service.schemas import Chunk, DocumentStatus

__all__ = ["Fact", "FactCorpus", "FactDocument"]

# (sentence, question): {name} is unique to the fact; the other fields are filled at random.
ENGLISH = (
    ("The harbour of {name} shipped {n} crates of {good} in {month}.",
     "How many crates of {good} did the harbour of {name} ship?"),
    ("The library of {name} opened its doors in {year}.",
     "When did the library of {name} open?"),
    ("The stone bridge at {name} is {n} metres long.",
     "How long is the stone bridge at {name}?"),
    ("The orchard of {name} grows {n} rows of {fruit} trees.",
     "How many rows of {fruit} trees does the orchard of {name} grow?"),
    ("Engineer {name} repaired {n} signal lamps at the northern depot.",
     "How many signal lamps did engineer {name} repair?"),
)
KOREAN = (
    ("{name} 항구는 {month}월에 {good}를 {n}상자 실어 보냈다.",
     "{name} 항구는 {good}를 몇 상자 실어 보냈나요?"),
    ("{name} 도서관은 {year}년에 문을 열었다.",
     "{name} 도서관은 언제 문을 열었나요?"),
    ("{name} 돌다리의 길이는 {n}미터이다.",
     "{name} 돌다리의 길이는 얼마인가요?"),
    ("{name} 과수원에는 {fruit} 나무가 {n}줄 심어져 있다.",
     "{name} 과수원에는 {fruit} 나무가 몇 줄 있나요?"),
    ("기술자 {name}는 북쪽 차고에서 신호등 {n}개를 고쳤다.",
     "기술자 {name}는 신호등을 몇 개 고쳤나요?"),
)
FILLERS = {
    "en": {"good": ["salt", "wool", "copper", "timber", "tea"],
           "fruit": ["apple", "pear", "plum", "peach", "cherry"],
           "month": ["March", "May", "July", "October", "December"]},
    "ko": {"good": ["커피", "도자기", "보리", "종이", "치즈"],
           "fruit": ["사과", "배", "자두", "복숭아", "감"],
           "month": ["3", "5", "7", "10", "12"]},
}
LATIN_SYLLABLES = ("ka ro ven dul mi sar tho lek pa zin or bel qua tis mon fer gal "
                   "nu rik sol ta vor yen ashe cor").split()
HANGUL_SYLLABLES = tuple("가나다라마바사아자차카타파하고노도로모보소오조초코토포호"
                         "구누두루무부수우주추쿠투푸후기니디리미비시지치키티피히")


@dataclass(frozen=True)
class Fact:
    sentence: str
    question: str


@dataclass(frozen=True)
class FactDocument:
    filename: str
    language: str  # "en" or "ko"
    facts: tuple[Fact, ...]
    pdf: bytes
    id: str  # sha256 of `pdf`, as the service names documents
    pages: dict[int, str]  # 1-based page number -> extracted text
    chunks: dict[int, Chunk]  # chunk id -> chunk, as the default chunker cuts the pages


class FactCorpus:
    """A deterministic stream of fact documents (`seed`), no name used twice; thread-safe."""

    def __init__(self, seed: int = 7, facts_per_document: int = 60,
                 chunker: ChunkerConfig | None = None) -> None:
        self._rng = random.Random(seed)
        self._facts = facts_per_document
        self._chunker = chunker or ChunkerConfig(**ChunkingSettings().model_dump())
        self._names: set[str] = set()
        self._count = 0
        self._lock = threading.Lock()

    def batch(self, count: int, prefix: str = "doc") -> list[FactDocument]:
        """The next `count` documents, English and Korean in turn."""
        return [self.next_document(None, prefix) for _ in range(count)]

    def next_document(self, language: str | None = None, prefix: str = "doc") -> FactDocument:
        """A new document in `language` ("en" or "ko"; by default each in turn)."""
        with self._lock:
            self._count += 1
            language = language or ("en" if self._count % 2 else "ko")
            return self._next_document(language, prefix)

    def _next_document(self, language: str, prefix: str) -> FactDocument:
        count = self._facts if language == "en" else self._facts * 5 // 2  # shorter sentences
        facts = tuple(self._fact(language) for _ in range(count))
        title = (f"Field notes {self._count}" if language == "en"
                 else f"현장 기록 {self._count}")
        paragraphs = [" ".join(f.sentence for f in facts[i:i + 5])
                      for i in range(0, len(facts), 5)]
        with tempfile.TemporaryDirectory(prefix="qa-facts-") as folder:
            path = Path(folder) / "doc.pdf"
            render_article(path, title, paragraphs)
            pdf = path.read_bytes()
        return self._described(f"{prefix}-{self._count:03d}-{language}.pdf", language, facts,
                               pdf)

    def _described(self, filename: str, language: str, facts: tuple[Fact, ...],
                   pdf: bytes) -> FactDocument:
        parsed = parse_pdf(pdf, max_pages=100)
        if parsed.status is not DocumentStatus.INDEXED:
            raise RuntimeError(f"{filename}: the generated PDF does not parse: {parsed.reason}")
        doc_id = hashlib.sha256(pdf).hexdigest()
        chunks = chunk_document(doc_id, parsed.pages, self._chunker)
        return FactDocument(filename, language, facts, pdf, doc_id,
                            {page.number: page.text for page in parsed.pages},
                            {chunk.id: chunk for chunk in chunks})

    def _fact(self, language: str) -> Fact:
        sentence, question = self._rng.choice(ENGLISH if language == "en" else KOREAN)
        fields = {slot: self._rng.choice(values) for slot, values in FILLERS[language].items()}
        fields |= {"name": self._name(language), "n": str(self._rng.randint(120, 9800)),
                   "year": str(self._rng.randint(1700, 1990))}
        return Fact(sentence.format(**fields), question.format(**fields))

    def _name(self, language: str) -> str:
        while True:
            if language == "en":
                name = "".join(self._rng.choices(LATIN_SYLLABLES, k=3)).capitalize()
            else:
                name = "".join(self._rng.choices(HANGUL_SYLLABLES, k=3))
            if name not in self._names:
                self._names.add(name)
                return name
