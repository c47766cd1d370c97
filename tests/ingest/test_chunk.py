from __future__ import annotations

import random
from itertools import pairwise

import pytest

from ingest.chunk import ChunkerConfig, chunk_document, chunk_id, chunk_spans
from qa_service.schemas import Page
from qa_service.sentences import split_sentences

DOC = "ab" * 32
WORDS = ("alpha beta gamma delta epsilon zeta theta kappa lambda sigma omega river "
         "stone cloud garden window paper engine market signal").split()


def _sentence(rng: random.Random, words: int) -> str:
    body = " ".join(rng.choice(WORDS) for _ in range(words))
    return body[0].upper() + body[1:] + rng.choice(".!?")


def _page_text(seed: int, sentences: int = 30) -> str:
    rng = random.Random(seed)
    parts = [_sentence(rng, rng.randint(3, 25)) for _ in range(sentences)]
    text = " ".join(parts)
    return text if seed % 2 else text.replace("! ", "!\n\n", 2)


def _pages(count: int = 4) -> list[Page]:
    return [Page(n, _page_text(n)) for n in range(1, count + 1)]


CONFIGS = [ChunkerConfig(), ChunkerConfig(200, 0, 0), ChunkerConfig(300, 2, 100),
           ChunkerConfig(150, 1, 50)]


@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_chunks_never_cross_a_page_and_are_exact_slices(config: ChunkerConfig) -> None:
    pages = _pages()
    chunks = chunk_document(DOC, pages, config)
    by_number = {p.number: p for p in pages}
    assert {c.page for c in chunks} == set(by_number)
    for chunk in chunks:
        page = by_number[chunk.page]
        assert 0 <= chunk.char_start < chunk.char_end <= len(page.text)
        assert chunk.text == page.text[chunk.char_start:chunk.char_end]
        assert chunk.document_id == DOC


@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_chunks_cover_every_sentence_of_the_page(config: ChunkerConfig) -> None:
    for page in _pages():
        spans = chunk_spans(page.text, config)
        for start, end in split_sentences(page.text):
            inside = [s for s in spans if s[0] <= start and end <= s[1]]
            long_sentence = end - start > config.target_chars
            assert inside or long_sentence, page.text[start:end]


@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_target_size_is_respected(config: ChunkerConfig) -> None:
    for page in _pages(6):
        spans = chunk_spans(page.text, config)
        for start, end in spans[:-1]:
            assert end - start <= config.target_chars
        # only the page's last chunk may have absorbed a short tail
        last_start, last_end = spans[-1]
        assert last_end - last_start < config.target_chars + config.min_chars


def test_a_long_sentence_is_cut_at_whitespace() -> None:
    text = " ".join(["word"] * 200) + "."  # 1,000 characters, one sentence
    config = ChunkerConfig(target_chars=200, overlap_sentences=0, min_chars=0)
    spans = chunk_spans(text, config)
    assert len(spans) >= 5
    for start, end in spans:
        assert end - start <= 200
        assert text[start:end] == text[start:end].strip()
        assert text[start:end].startswith("word")
    assert spans[0][0] == 0 and spans[-1][1] == len(text)


def test_a_long_run_without_spaces_is_cut_hard() -> None:
    text = "x" * 450
    spans = chunk_spans(text, ChunkerConfig(target_chars=200, overlap_sentences=0,
                                            min_chars=0))
    assert spans == [(0, 200), (200, 400), (400, 450)]


def test_overlap_repeats_the_last_sentence() -> None:
    sentences = [f"Sentence number {i} is here with some padding words." for i in range(12)]
    text = " ".join(sentences)
    config = ChunkerConfig(target_chars=160, overlap_sentences=1, min_chars=0)
    chunks = [text[s:e] for s, e in chunk_spans(text, config)]
    assert len(chunks) > 2
    for previous, following in pairwise(chunks):
        last_sentence = [previous[s:e] for s, e in split_sentences(previous)][-1]
        assert following.startswith(last_sentence)


def test_overlap_is_dropped_when_it_would_fill_over_half_a_chunk() -> None:
    sentences = [f"Sentence {i:02d} has sixty characters ".ljust(59, "z") + "." for i in range(9)]
    assert {len(x) for x in sentences} == {60}
    text = " ".join(sentences)
    one = chunk_spans(text, ChunkerConfig(target_chars=200, overlap_sentences=1, min_chars=0))
    two = chunk_spans(text, ChunkerConfig(target_chars=200, overlap_sentences=2, min_chars=0))
    # one repeated sentence (60 chars) fits in half of 200; two (121 chars) do not
    assert any(b[0] < a[1] for a, b in pairwise(one))
    assert all(a[1] <= b[0] for a, b in pairwise(two))


def test_no_overlap_means_disjoint_chunks() -> None:
    text = " ".join(f"Sentence {i} says something useful." for i in range(30))
    spans = chunk_spans(text, ChunkerConfig(target_chars=120, overlap_sentences=0,
                                            min_chars=0))
    for (_, end), (start, _) in pairwise(spans):
        assert end <= start


def test_short_tail_joins_the_previous_chunk() -> None:
    long = "This is a fairly long sentence that fills most of one chunk by itself."
    text = f"{long} {long} Tail."
    spans = chunk_spans(text, ChunkerConfig(target_chars=145, overlap_sentences=0,
                                            min_chars=20))
    assert spans[-1][1] == len(text)
    assert text[spans[-1][0]:spans[-1][1]].endswith(f"{long} Tail.")
    assert all(text[s:e] != "Tail." for s, e in spans)
    without_merge = chunk_spans(text, ChunkerConfig(target_chars=145, overlap_sentences=0,
                                                    min_chars=0))
    assert text[without_merge[-1][0]:without_merge[-1][1]] == "Tail."


def test_short_single_chunk_page_is_kept() -> None:
    assert chunk_spans("Tiny.", ChunkerConfig(min_chars=150)) == [(0, 5)]


def test_empty_page_has_no_chunks() -> None:
    assert chunk_document(DOC, [Page(1, ""), Page(2, "Text.")], ChunkerConfig()) == [
        chunk_document(DOC, [Page(2, "Text.")], ChunkerConfig())[0]]


def test_chunk_ids_are_stable_positive_int64_and_unique() -> None:
    pages = _pages()
    first = chunk_document(DOC, pages, ChunkerConfig(200, 1, 50))
    second = chunk_document(DOC, pages, ChunkerConfig(200, 1, 50))
    assert [c.id for c in first] == [c.id for c in second]
    assert len({c.id for c in first}) == len(first)
    assert all(0 < c.id < 2**63 for c in first)
    other = chunk_document("cd" * 32, pages, ChunkerConfig(200, 1, 50))
    assert not {c.id for c in first} & {c.id for c in other}


def test_chunk_id_depends_on_every_part() -> None:
    base = chunk_id(DOC, 1, 0, 10)
    assert base == chunk_id(DOC, 1, 0, 10)
    assert len({base, chunk_id(DOC, 2, 0, 10), chunk_id(DOC, 1, 1, 10),
                chunk_id(DOC, 1, 0, 11), chunk_id("ef" * 32, 1, 0, 10)}) == 5


def test_korean_text_is_chunked_on_sentence_boundaries() -> None:
    sentence = "서울은 대한민국의 수도이며 한강이 도시를 가로질러 흐른다."
    text = " ".join([sentence] * 20)
    spans = chunk_spans(text, ChunkerConfig(target_chars=100, overlap_sentences=0,
                                            min_chars=0))
    assert len(spans) > 1
    for start, end in spans:
        assert text[start:end].endswith("흐른다.")
        assert end - start <= 100


def test_describe_names_the_settings() -> None:
    assert ChunkerConfig(300, 2, 10).describe() == {
        "name": "sentence-pack-v1", "target_chars": 300, "overlap_sentences": 2,
        "min_chars": 10}
