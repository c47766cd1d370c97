from __future__ import annotations

from itertools import pairwise

import pytest

from qa_service.sentences import split_sentences


def sentences(text: str) -> list[str]:
    return [text[start:end] for start, end in split_sentences(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The cat sat. The dog ran! Did it? Yes.",
         ["The cat sat.", "The dog ran!", "Did it?", "Yes."]),
        ("Dr. Smith met Mrs. Jones at St. Paul's. They talked.",
         ["Dr. Smith met Mrs. Jones at St. Paul's.", "They talked."]),
        ("Use a tool, e.g. a hammer, i.e. something heavy. Then stop.",
         ["Use a tool, e.g. a hammer, i.e. something heavy.", "Then stop."]),
        ("The U.S. Army is large. It has many soldiers.",
         ["The U.S. Army is large.", "It has many soldiers."]),
        ("The meeting starts at 9 a.m. sharp. Be on time.",
         ["The meeting starts at 9 a.m. sharp.", "Be on time."]),
    ],
    ids=["plain", "titles", "latin", "country", "time"],
)
def test_english_abbreviations_do_not_end_a_sentence(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_initials_do_not_end_a_sentence() -> None:
    text = "J. R. R. Tolkien wrote books. They sold well."
    assert sentences(text) == ["J. R. R. Tolkien wrote books.", "They sold well."]


def test_decimal_points_do_not_end_a_sentence() -> None:
    text = "Pi is about 3.14 and e is 2.718. The ratio is 1.5 times."
    assert sentences(text) == ["Pi is about 3.14 and e is 2.718.", "The ratio is 1.5 times."]


def test_the_word_no_ends_a_sentence() -> None:
    # "no" is listed as an abbreviation for "No. 5"; as a plain word it must still end one.
    text = "Is the museum open? The answer is no. It closed in 1987."
    assert sentences(text) == ["Is the museum open?", "The answer is no.", "It closed in 1987."]


def test_number_abbreviation_before_a_number() -> None:
    assert sentences("He wore No. 5 on his shirt. Fans cheered.") == [
        "He wore No. 5 on his shirt.", "Fans cheered."]


def test_a_number_can_end_a_sentence() -> None:
    assert sentences("It opened in 1987. Then it closed.") == ["It opened in 1987.",
                                                             "Then it closed."]


def test_korean_sentence_endings() -> None:
    text = "서울은 대한민국의 수도이다. 그러나 부산은 항구 도시다! 정말인가요? 그렇습니다."
    assert sentences(text) == [
        "서울은 대한민국의 수도이다.",
        "그러나 부산은 항구 도시다!",
        "정말인가요?",
        "그렇습니다.",
    ]


def test_full_width_and_ellipsis_marks() -> None:
    assert sentences("좋았다。 다음 날… 비가 왔다") == ["좋았다。", "다음 날…", "비가 왔다"]


def test_closing_quotes_and_brackets_stay_with_their_sentence() -> None:
    text = 'He said "stop." Then he left. (It was late.) Fine.'
    assert sentences(text) == ['He said "stop."', "Then he left.", "(It was late.)", "Fine."]


def test_blank_line_always_ends_a_sentence() -> None:
    text = "A heading without a full stop\n\nThe body starts here. It goes on\nacross lines."
    assert sentences(text) == [
        "A heading without a full stop",
        "The body starts here.",
        "It goes on\nacross lines.",
    ]


def test_blank_line_with_spaces_is_a_break() -> None:
    assert sentences("first part\n   \nsecond part") == ["first part", "second part"]


def test_a_mark_without_following_space_is_not_an_end() -> None:
    assert sentences("see example.com/page.html for more. Done.") == [
        "see example.com/page.html for more.", "Done."]


def test_spans_exclude_surrounding_whitespace_and_are_in_order() -> None:
    text = "  First one.   Second one.  \n\n  Third  "
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == ["First one.", "Second one.", "Third"]
    assert all(not text[s].isspace() and not text[e - 1].isspace() for s, e in spans)
    assert all(a[1] <= b[0] for a, b in pairwise(spans))


@pytest.mark.parametrize("text", ["", "   ", "\n\n\n"])
def test_nothing_to_split(text: str) -> None:
    assert split_sentences(text) == []


@pytest.mark.parametrize(("text", "expected"), [
    ("No objections.[citation needed] Since Ireland refused.",
     ["No objections.[citation needed]", "Since Ireland refused."]),
    ("It was fine.[12][13] Next one.", ["It was fine.[12][13]", "Next one."]),
    ("Wrapped.[citation\nneeded] Next.", ["Wrapped.[citation\nneeded]", "Next."]),
    ("근거가 있다.[3] 그러나 없다.", ["근거가 있다.[3]", "그러나 없다."]),
    ("A list [1] inside. Then.", ["A list [1] inside.", "Then."]),
])
def test_footnote_markers_stay_with_their_sentence(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected
