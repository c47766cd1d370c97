"""The bilingual glossary of business-document labels (qa_service/glossary.py)."""

from __future__ import annotations

from qa_service.glossary import ENTRIES, Glossary, compound_parts
from qa_service.tokens import Tokenizer, has_hangul


def test_english_labels_find_their_korean_words_and_back(tokenizer: Tokenizer) -> None:
    glossary = Glossary(tokenizer)
    assert glossary.lookup("total") == ("합계", "총액", "총계")
    assert glossary.lookup("due") == ("기한",)
    assert glossary.lookup("invoic") == ("청구서", "인보이스", "송장")  # "invoices" too
    assert glossary.lookup("부가세") == ("vat",)
    assert set(glossary.lookup("이익")) == {"profit", "incom"}
    # the balance sheet's 현금및현금성자산 is "cash and cash equivalents"
    assert glossary.lookup("equival") == ("현금", "자산")
    assert glossary.lookup("unrelat") == () and glossary.lookup("바다") == ()
    # a rate sheet's labels: a Korean question about an English home loan's variable rate
    assert glossary.lookup("loan") == ("대출",) and glossary.lookup("대출") == ("loan", "lend")
    assert glossary.lookup("mortgag") == ("담보",)
    assert glossary.lookup("변동") == ("variabl",)
    # a balance sheet's non-controlling interests: 비지배지분 (지배, 지분)
    assert glossary.lookup("control") == ("지배",)
    assert glossary.lookup("interest") == ("지분", "이자")
    # a paper's table of results by split: 검증 (validation, dev) and 평가 (test)
    assert glossary.lookup("valid") == ("검증",) and glossary.lookup("dev") == ("검증",)
    assert glossary.lookup("평가") == ("test", "evalu")


def test_every_entry_reads_as_words_of_its_own_language(tokenizer: Tokenizer) -> None:
    """Each entry's English side gives English stems and its Korean side Hangul morphemes
    of two syllables or more (the bridge translates no one-syllable word): a typo in the
    table (a Korean word on the English side, a word the tokenizer drops) fails here."""
    for english, korean in ENTRIES:
        stems = tokenizer.tokens(english)
        morphemes = tokenizer.tokens(korean)
        assert stems and not any(has_hangul(t) for t in stems), english
        assert morphemes and all(has_hangul(t) and len(t) >= 2 for t in morphemes), korean


def test_the_table_is_read_when_first_needed(tokenizer: Tokenizer) -> None:
    glossary = Glossary(tokenizer, (("tax", "세금"),))
    assert glossary._english is None  # nothing tokenized at construction
    assert glossary.lookup("세금") == ("tax",)
    assert glossary.lookup("tax") == ("세금",)


def test_a_korean_compound_label_has_its_parts() -> None:
    """개발비 is a development fee (개발 + 비용), 발행일 a date of issue (발행 + 날짜); a
    two-syllable word (금액, 준비) and raw material (원재료) are no such compounds."""
    assert compound_parts("개발비") == ("개발", "비용")
    assert compound_parts("입장료") == ("입장", "요금")
    assert compound_parts("투자액") == ("투자", "금액")
    assert compound_parts("소비세") == ("소비", "세금")
    assert compound_parts("발행일") == ("발행", "날짜")  # the date of issue
    # loanwords that end in 일 are no dates: e-mail, mobile, style, profile
    for word in ("금액", "준비", "원재료", "보증", "fee", "비", "이메일", "모바일", "스타일",
                 "프로파일"):
        assert compound_parts(word) == (), word
