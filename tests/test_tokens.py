from __future__ import annotations

import pytest

from qa_service.tokens import Tokenizer, has_hangul, is_korean


@pytest.mark.parametrize("word", ["서울에서", "서울은", "서울을", "서울의"])
def test_korean_particles_are_dropped(tokenizer: Tokenizer, word: str) -> None:
    assert tokenizer.tokens(word) == ["서울"]


def test_korean_sentence_keeps_content_morphemes(tokenizer: Tokenizer) -> None:
    tokens = tokenizer.tokens("한빛섬 등대는 보라색으로 칠했다.")
    assert "등대" in tokens
    assert "보라색" in tokens
    assert not {"는", "으로", "다", "."} & set(tokens)


def test_english_is_lowercased_stemmed_and_stop_words_removed(tokenizer: Tokenizer) -> None:
    assert tokenizer.tokens("The Quick brown FOX jumps and the dog sleeps") == [
        "quick", "brown", "fox", "jump", "dog", "sleep"]


@pytest.mark.parametrize(("a", "b"), [("organized", "organization"), ("running", "runs"),
                                      ("Policies", "policy"), ("connected", "connection")])
def test_english_inflections_meet(tokenizer: Tokenizer, a: str, b: str) -> None:
    assert tokenizer.tokens(a) == tokenizer.tokens(b)
    assert len(tokenizer.tokens(a)) == 1


def test_english_punctuation_and_underscores_split_words(tokenizer: Tokenizer) -> None:
    assert tokenizer.tokens("state-of-the-art, snake_case: 3.5%!") == [
        "state", "art", "snake", "case", "35"]  # a number keeps its digit groups


def test_only_stop_words_give_no_tokens(tokenizer: Tokenizer) -> None:
    assert tokenizer.tokens("What is it, and where was it?") == []


def test_mixed_text_lowercases_latin_and_drops_latin_stop_words(tokenizer: Tokenizer) -> None:
    tokens = tokenizer.tokens("The Python 코드는 서울에서 실행된다")
    assert "python" in tokens
    assert "서울" in tokens
    assert "코드" in tokens
    assert "the" not in tokens and "The" not in tokens


def test_latin_word_matches_across_languages(tokenizer: Tokenizer) -> None:
    korean = tokenizer.tokens("FAISS 인덱스를 Running 중에 만든다")
    english = tokenizer.tokens("Build a FAISS index while running")
    assert {"faiss", "run"} <= set(korean)
    assert {"faiss", "run"} <= set(english)


def test_full_width_forms_are_normalized(tokenizer: Tokenizer) -> None:
    full_width = "".join(chr(ord(c) + 0xFEE0) if c != " " else "\u3000" for c in "FAISS Index")
    assert tokenizer.tokens(full_width) == ["faiss", "index"]


def test_has_hangul() -> None:
    assert has_hangul("abc 가")
    assert has_hangul("ㄱ")
    assert not has_hangul("abc 123 漢字")


@pytest.mark.parametrize(("text", "tokens"), [
    ("5,466,312", ["5466312"]),
    ("3.5%", ["35"]),
    ("자산총계 293,064,763", ["자산", "총계", "293064763"]),
])
def test_a_number_keeps_its_digit_groups_together(tokenizer: Tokenizer, text: str,
                                                  tokens: list[str]) -> None:
    assert tokenizer.tokens(text) == tokens


@pytest.mark.parametrize(("query", "indexed"), [
    ("FY2017", "fiscal 2017"), ("FY23", "23"), ("FY2021", "2021년"), ("COVID19", "covid")])
def test_a_word_of_letters_and_digits_meets_its_parts(tokenizer: Tokenizer, query: str,
                                                      indexed: str) -> None:
    assert set(tokenizer.tokens(query)) & set(tokenizer.tokens(indexed))


@pytest.mark.parametrize("word", ["m1", "Q2", "10K", "H100", "GPT4"])
def test_short_codes_stay_one_token(tokenizer: Tokenizer, word: str) -> None:
    assert tokenizer.tokens(word) == [word.lower()]


@pytest.mark.parametrize(("text", "korean"), [
    ("자산총계는 293,064,763 백만원이다.", True), ("Total assets were 19,012,742.", False),
    ("BERT 모델의 F1 점수", True), ("", False), ("1,234 5,678", False)])
def test_is_korean(text: str, korean: bool) -> None:
    assert is_korean(text) is korean


@pytest.mark.parametrize(("text", "parts"), [
    ("2024Q2", ["2024", "q2"]),      # a file name's period
    ("Q22023", ["q2", "2023"]),      # "Q2 2023" written together
    ("FY2017", ["fy", "2017"]),
])
def test_a_year_glued_to_a_period_also_gives_both(text: str, parts: list[str]) -> None:
    tokens = Tokenizer().tokens(text)
    assert tokens[0] == text.casefold() and tokens[1:] == parts


def test_short_codes_are_not_split() -> None:
    assert Tokenizer().tokens("10K M1 H100 Q2") == ["10k", "m1", "h100", "q2"]


def test_korean_words_without_content_are_dropped() -> None:
    """A Korean question asks "how much" with a noun (얼마) that the page stating the
    amount never holds; light verbs and bound nouns say nothing either."""
    tokens = Tokenizer().tokens("재고자산은 얼마인가요? 할 수 있는 것은 어떻게 되나요?")
    assert {"재고", "자산"} <= set(tokens)
    assert not {"얼마", "하", "되", "있", "수", "것", "어떻"} & set(tokens)
