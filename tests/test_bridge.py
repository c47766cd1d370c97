"""The cross-lingual word bridge: a question's words among the other language's terms."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from qa_service import bridge
from qa_service.bridge import TermVectorCache, WordBridge, question_words
from qa_service.embedding import Embedder
from qa_service.glossary import Glossary
from qa_service.tokens import Tokenizer

KOREAN_TERMS = ["보증", "배터리", "기간", "호텔", "수영장", "요금", "객실", "청구서",
                "금액", "제품", "부품", "수리", "서비스", "전화", "번호", "온도", "모터",
                "좌석", "레스토랑", "시간"]
ENGLISH_TERMS = ["bank", "loan", "rate", "research", "famili", "conflict", "age", "report",
                 "invoic", "total", "amount", "paper", "model", "data", "train", "test"]


class ConceptEncoder:
    """Words of one concept get nearby vectors; each other word is a random direction of
    its own. Counts what it embeds."""

    def __init__(self, concepts: dict[str, int], dimension: int = 64) -> None:
        self.concepts = concepts
        self.dimension = dimension
        self.embedded: list[str] = []

    def __call__(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.embedded += list(texts)
        rows = []
        for text in texts:
            seed = int.from_bytes(text.encode("utf-8")[:8].ljust(8, b"\0"), "big") % 2**32
            vector = np.random.default_rng(seed).normal(size=self.dimension) * 0.3
            if text in self.concepts:
                vector[self.concepts[text]] += 3.0
            rows.append(vector / np.linalg.norm(vector))
        return np.asarray(rows, dtype=np.float32)


@pytest.fixture
def few_terms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bridge, "MIN_TERMS", 3)


def test_question_words_are_the_words_of_its_own_language(tokenizer: Tokenizer) -> None:
    assert question_words(tokenizer, "How long is the battery warranty of the Samsung X1?") == [
        ("long", "long"), ("batteri", "battery"), ("warranti", "warranty"),
        ("samsung", "Samsung")]
    # a Korean question: its Hangul morphemes of two syllables or more; its Latin names
    # are matched as written, not translated
    words = question_words(tokenizer, "PaSa 논문에서 배터리 보증 기간은 몇 년인가요?")
    assert [t for t, _ in words] == ["논문", "배터리", "보증", "기간"]
    assert all(token == word for token, word in words)


def test_a_hyphenated_word_is_translated_by_its_parts(tokenizer: Tokenizer) -> None:
    """"non-controlling" is two tokens (non, control): each part is a word of the
    question (the balance sheet's 비지배지분 is found by "controlling"); a hyphenated word
    of one token ("check-in") stays whole."""
    assert question_words(tokenizer, "What were the non-controlling interests?") == [
        ("non", "non"), ("control", "controlling"), ("interest", "interests")]
    assert question_words(tokenizer, "When is check-in?") == [("check", "check-in")]


def test_a_word_is_translated_to_the_terms_of_its_concept(tmp_path: Path,
                                                          few_terms: None) -> None:
    encode = ConceptEncoder({"warranty": 1, "보증": 1, "battery": 2, "배터리": 2})
    # random directions in 64 dimensions reach a CSLS score of about 0.25 by chance
    words = WordBridge("concepts", encode, per_word=1, min_score=0.5)
    found = words.translations(tmp_path / "terms.bin", "state-1",
                               lambda: [*KOREAN_TERMS, *ENGLISH_TERMS],
                               [("warranti", "warranty"), ("batteri", "battery"),
                                ("unrelat", "unrelated")])
    assert found == {"warranti": ("보증",), "batteri": ("배터리",)}


def test_a_hub_close_to_every_word_is_discounted(tmp_path: Path, few_terms: None) -> None:
    """Every word shares a common direction; the hub lies on it, so its raw cosine to
    "warranty" (0.8) beats that of the translation 보증 (0.76). CSLS discounts the hub by
    its closeness to every English term and keeps the translation."""
    terms = [*KOREAN_TERMS, "만큼", *ENGLISH_TERMS]
    own = {word: i + 1 for i, word in enumerate([*terms, "warranty"])}

    def encode(texts: Sequence[str]) -> npt.NDArray[np.float32]:
        rows = []
        for text in texts:
            vector = np.zeros(len(own) + 1)
            if text == "만큼":
                vector[0] = 1.0
            elif text == "보증":
                vector[[0, own["warranty"], own[text]]] = 0.8, 0.2, 0.565
            else:
                vector[[0, own[text]]] = 0.8, 0.6
            rows.append(vector / np.linalg.norm(vector))
        return np.asarray(rows, dtype=np.float32)

    raw = encode(["warranty"])[0] @ encode(["만큼", "보증"]).T
    assert raw[0] > raw[1]
    words = WordBridge("explicit", encode, per_word=1, min_score=-10.0)
    found = words.translations(tmp_path / "terms.bin", 1, lambda: terms,
                               [("warranti", "warranty")])
    assert found == {"warranti": ("보증",)}


def test_the_glossary_s_labels_come_first_when_the_knowledge_base_holds_them(
        tmp_path: Path, few_terms: None, tokenizer: Tokenizer) -> None:
    """"total" lies near 전체 and 합계액 by their vectors; the glossary's 합계 (held) comes
    first, its 총액 and 총계 (not held) are left out, and of the vectors' terms only a form
    of a label (합계액) follows: 전체 is a neighbour in meaning, not the label printed."""
    encode = ConceptEncoder({"total": 7, "전체": 7, "합계액": 7, "합계": 9})
    glossary = Glossary(tokenizer, (("total", "합계 총액 총계"), ("vat", "부가세")))
    terms = [*KOREAN_TERMS, "전체", "합계", "합계액", *ENGLISH_TERMS]
    words = WordBridge("concepts", encode, per_word=2, min_score=0.5, glossary=glossary)
    found = words.translations(tmp_path / "terms.bin", 1, lambda: terms,
                               [("total", "total"), ("vat", "VAT"), ("batteri", "battery")])
    assert found == {"total": ("합계", "합계액")}
    without = WordBridge("concepts", encode, per_word=2, min_score=0.5)
    assert set(without.translations(tmp_path / "terms.bin", 1, lambda: terms,
                                    [("total", "total")])["total"]) == {"전체", "합계액"}
    back = words.translations(tmp_path / "terms.bin", 1, lambda: terms, [("합계", "합계")])
    assert back["합계"][0] == "total"


def test_a_korean_word_is_translated_to_english_terms(tmp_path: Path,
                                                      few_terms: None) -> None:
    encode = ConceptEncoder({"은행": 5, "bank": 5})
    words = WordBridge("concepts", encode, per_word=2)
    found = words.translations(tmp_path / "terms.bin", 1,
                               lambda: [*KOREAN_TERMS, *ENGLISH_TERMS], [("은행", "은행")])
    assert found["은행"][0] == "bank"


def test_no_translation_into_a_language_with_too_few_terms(tmp_path: Path) -> None:
    encode = ConceptEncoder({"warranty": 1, "보증": 1})
    words = WordBridge("concepts", encode)
    assert words.translations(tmp_path / "terms.bin", 1,
                              lambda: [*KOREAN_TERMS, *ENGLISH_TERMS],
                              [("warranti", "warranty")]) == {}
    assert encode.embedded == []  # nothing embedded for it


def test_terms_are_embedded_once_and_kept_with_the_knowledge_base(
        tmp_path: Path, few_terms: None) -> None:
    path = tmp_path / "term-vectors.bin"
    terms = [*KOREAN_TERMS, *ENGLISH_TERMS]
    encode = ConceptEncoder({"warranty": 1, "보증": 1})
    first = WordBridge("concepts", encode)
    first.translations(path, 1, lambda: terms, [("warranti", "warranty")])
    assert path.exists()
    assert sorted(set(encode.embedded) - {"warranty"}) == sorted(terms)
    # a new state (a document added) embeds only its new terms
    encode.embedded.clear()
    first.translations(path, 2, lambda: [*terms, "야외"], [("warranti", "warranty")])
    assert set(encode.embedded) == {"야외", "warranty"}
    # another process: the terms come from the file
    again = ConceptEncoder({"warranty": 1, "보증": 1})
    second = WordBridge("concepts", again)
    assert second.translations(path, 1, lambda: terms, [("warranti", "warranty")]) == \
        first.translations(path, 1, lambda: terms, [("warranti", "warranty")])
    assert again.embedded == ["warranty"]  # the question's word only
    assert path.read_bytes()[4:].startswith(b'{"model": "concepts"')  # JSON, no pickle


def test_another_model_s_term_vectors_are_not_used(tmp_path: Path) -> None:
    path = tmp_path / "term-vectors.bin"
    TermVectorCache(path, "model-a", ConceptEncoder({})).vectors(["보증", "기간"])
    other = ConceptEncoder({})
    TermVectorCache(path, "model-b", other).vectors(["보증", "기간"])
    assert other.embedded == ["보증", "기간"]


def test_an_unreadable_cache_is_embedded_again(tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "term-vectors.bin"
    path.write_bytes(b"\x10\x00\x00\x00not a header")
    encode = ConceptEncoder({})
    vectors = TermVectorCache(path, "m", encode).vectors(["보증"])
    assert vectors.shape == (1, 64) and encode.embedded == ["보증"]
    assert "unreadable" in caplog.text
    again = ConceptEncoder({})  # and replaced by a good one
    assert TermVectorCache(path, "m", again).vectors(["보증"]).shape == (1, 64)
    assert again.embedded == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_knowledge_base_still_translates(tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    tmp_path.chmod(0o500)
    try:
        vectors = TermVectorCache(tmp_path / "t.bin", "m", ConceptEncoder({})).vectors(["보증"])
    finally:
        tmp_path.chmod(0o700)
    assert vectors.shape == (1, 64) and "not kept" in caplog.text


def test_the_real_model_translates_content_words(embedder: Embedder, tmp_path: Path,
                                                 few_terms: None) -> None:
    """With the default multilingual model, English words find their Korean terms and
    Korean words their English stems."""
    words = WordBridge(embedder.name, embedder.embed_passages)
    terms = [*KOREAN_TERMS, *ENGLISH_TERMS]
    found = words.translations(tmp_path / "t.bin", 1, lambda: terms,
                               [("warranti", "warranty"), ("batteri", "battery"),
                                ("temperatur", "temperature"), ("seat", "seats")])
    assert found["warranti"][0] == "보증"
    assert found["batteri"][0] == "배터리"
    assert found["temperatur"][0] == "온도"
    assert found["seat"][0] == "좌석"
    back = words.translations(tmp_path / "t.bin", 1, lambda: terms,
                              [("은행", "은행"), ("연구", "연구")])
    assert back["은행"][0] == "bank" and back["연구"][0] == "research"


def test_a_cache_cut_short_is_embedded_again(tmp_path: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "term-vectors.bin"
    TermVectorCache(path, "m", ConceptEncoder({})).vectors(["보증", "기간"])
    path.write_bytes(path.read_bytes()[:-10])  # a torn copy
    encode = ConceptEncoder({})
    TermVectorCache(path, "m", encode).vectors(["보증"])
    assert encode.embedded == ["보증"] and "do not match" in caplog.text


def test_the_vectors_of_deleted_terms_are_dropped_once_they_are_the_majority(
        tmp_path: Path) -> None:
    path = tmp_path / "term-vectors.bin"
    cache = TermVectorCache(path, "m", ConceptEncoder({}))
    cache.vectors(["보증", "기간", "호텔", "수영장"])
    cache.retain(["보증", "기간"])  # half stale: kept
    kept = ConceptEncoder({})
    TermVectorCache(path, "m", kept).vectors(["호텔"])
    assert kept.embedded == []
    cache.retain(["보증"])  # most stale: dropped, the rest kept
    again = ConceptEncoder({})
    reread = TermVectorCache(path, "m", again)
    assert reread.vectors(["보증"]).shape == (1, 64) and again.embedded == []
    reread.vectors(["호텔"])
    assert again.embedded == ["호텔"]


def test_a_language_with_too_few_terms_is_not_listed_again(tmp_path: Path) -> None:
    """Listing a large knowledge base's terms costs more than a search: an English-only
    one is listed once per state of its index, not at every question."""
    listed: list[int] = []

    def terms() -> list[str]:
        listed.append(1)
        return list(ENGLISH_TERMS)

    words = WordBridge("concepts", ConceptEncoder({}))
    for _ in range(3):
        assert words.translations(tmp_path / "t.bin", 1, terms, [("seat", "seats")]) == {}
    words.translations(tmp_path / "t.bin", 2, terms, [("seat", "seats")])
    assert len(listed) == 2


def test_a_new_process_reads_the_side_kept_for_an_unchanged_index(
        tmp_path: Path, few_terms: None) -> None:
    """Listing every indexed term and measuring the hubs is most of a first question on a
    large knowledge base: a server started again on the same index state reads them back
    (`SideFile`), and translates exactly as the process that built them."""
    path = tmp_path / "term-vectors.bin"
    listed: list[int] = []

    def terms() -> list[str]:
        listed.append(1)
        return [*KOREAN_TERMS, *ENGLISH_TERMS]

    concepts = {"warranty": 1, "보증": 1, "battery": 2, "배터리": 2, "은행": 5, "bank": 5}
    words = [("warranti", "warranty"), ("batteri", "battery")]
    state = ("kb-uid", 3, 40, "2026-12-06T00:00:00", 40)
    built = WordBridge("concepts", ConceptEncoder(concepts)).translations(
        path, state, terms, words)
    assert built["warranti"][0] == "보증" and listed == [1]
    again = ConceptEncoder(concepts)
    restarted = WordBridge("concepts", again)
    assert restarted.translations(path, state, terms, words) == built
    assert listed == [1]  # not listed again
    assert again.embedded == ["warranty", "battery"]  # the question's words only
    # the other language's side is its own file
    assert restarted.translations(path, state, terms, [("은행", "은행")])["은행"][0] == "bank"
    assert len(listed) == 2
    # a new state of the index (a document added or deleted) builds it again
    WordBridge("concepts", ConceptEncoder(concepts)).translations(
        path, (*state[:-1], 41), terms, words)
    assert len(listed) == 3
    # so does another model
    WordBridge("other", ConceptEncoder(concepts)).translations(
        path, (*state[:-1], 41), terms, words)
    assert len(listed) == 4


def test_a_side_with_too_few_terms_is_kept_as_such(tmp_path: Path) -> None:
    listed: list[int] = []

    def terms() -> list[str]:
        listed.append(1)
        return list(ENGLISH_TERMS)

    for _ in range(2):  # two processes
        assert WordBridge("concepts", ConceptEncoder({})).translations(
            tmp_path / "t.bin", ("uid", 1), terms, [("seat", "seats")]) == {}
    assert listed == [1]


def test_an_unreadable_side_is_built_again(tmp_path: Path, few_terms: None,
                                           caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "t.bin"
    listed: list[int] = []

    def terms() -> list[str]:
        listed.append(1)
        return [*KOREAN_TERMS, *ENGLISH_TERMS]

    encode = ConceptEncoder({"warranty": 1, "보증": 1})
    words = [("warranti", "warranty")]
    built = WordBridge("concepts", encode).translations(path, ("uid", 1), terms, words)
    side = tmp_path / "t-en-side.bin"
    assert side.exists() and side.read_bytes()[4:].startswith(b'{"model": "concepts"')
    side.write_bytes(side.read_bytes()[:-8])  # a torn copy: fewer hub scores than terms
    assert WordBridge("concepts", encode).translations(path, ("uid", 1), terms,
                                                       words) == built
    assert len(listed) == 2 and "do not match" in caplog.text
    # and kept whole again
    WordBridge("concepts", encode).translations(path, ("uid", 1), terms, words)
    assert len(listed) == 2
