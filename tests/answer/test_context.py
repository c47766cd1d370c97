"""The LLM's prompt fits its context: token estimates against a real model's counts, the
sentences kept, and what the answerer sends and does when a server still refuses."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from bench.token_counts import prompt_text
from qa_service.answer.context import (
    GAP,
    MIN_PASSAGE_TOKENS,
    Excerpt,
    TooLong,
    estimate_tokens,
    fit_excerpts,
)
from qa_service.answer.llm import CHAT_TOKENS, LLMAnswerer
from qa_service.config import Settings
from qa_service.errors import LLMContextOverflow
from qa_service.schemas import Passage
from qa_service.sentences import split_sentences
from qa_service.tokens import Tokenizer
from tests.answer.conftest import assert_citations_exact, evidence_of, make_passages
from tests.llm_server import ScriptedLLM

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "token_counts.json")
                     .read_text("utf-8"))
ENTRIES = {entry["name"]: entry for entry in FIXTURE["entries"]}
TEXTS = {name: entry["text"] for name, entry in ENTRIES.items() if entry["kind"] == "text"}
LLAMA_CPP_TOO_LONG = "Requested tokens (5210) exceed context window of 4096"

Make = Callable[..., Settings]


@pytest.mark.parametrize("name", list(ENTRIES))
def test_the_estimate_is_above_the_models_own_count_and_not_far(name: str) -> None:
    entry = ENTRIES[name]
    assert FIXTURE["model"] and entry["tokens"] > 100
    estimate = estimate_tokens(entry["text"])
    assert entry["tokens"] <= estimate <= 1.5 * entry["tokens"], (estimate, entry["tokens"])


@pytest.mark.parametrize("name", [n for n, e in ENTRIES.items() if e["kind"] == "prompt"])
def test_the_counted_prompts_are_the_prompts_built_today(name: str) -> None:
    """When the instructions or the passage format change, the counts are captured again
    (`python -m bench.token_counts`), so the estimate is always checked on real prompts."""
    entry = ENTRIES[name]
    assert entry["text"] == prompt_text(entry["question"],
                                        [TEXTS[n] for n in entry["passages"]])


def _passages(*names: str) -> list[Passage]:
    return make_passages([TEXTS[name] for name in names])


def _in_reading_order(passages: list[Passage]) -> list[tuple[int, int, int]]:
    return [(i, a, b) for i, p in enumerate(passages) for a, b in split_sentences(p.text)]


def test_excerpts_keep_the_best_sentences_whole_in_reading_order() -> None:
    passages = _passages("english-handbook", "korean-rules")
    spans = split_sentences(passages[0].text)
    best = [(1, *split_sentences(passages[1].text)[3]), (0, *spans[6]), (0, *spans[1])]
    excerpts = fit_excerpts(passages, best + _in_reading_order(passages), room=160)
    # both shown, the passage of the best sentence first
    assert [e.passage for e in excerpts] == [passages[1], passages[0]]
    second, first = excerpts
    assert set(best[1:]) <= {(0, a, b) for a, b in first.spans}
    assert (1, *best[0][1:]) in {(1, a, b) for a, b in second.spans}
    for excerpt in excerpts:
        sentences = set(split_sentences(excerpt.passage.text))
        assert set(excerpt.spans) <= sentences  # never a sentence cut short
        assert list(excerpt.spans) == sorted(excerpt.spans)
    text = first.text
    assert GAP in text and text.startswith(first.passage.text[slice(*first.spans[0])])
    used = sum(estimate_tokens(e.passage.text[a:b]) + estimate_tokens(GAP)
               for e in excerpts for a, b in e.spans)
    assert used <= 160


def test_adjacent_sentences_read_as_written_and_a_whole_passage_is_its_text() -> None:
    [passage] = _passages("mixed-faq")
    [excerpt] = fit_excerpts([passage], _in_reading_order([passage]), room=10_000)
    assert excerpt.text == passage.text.strip()
    assert GAP not in excerpt.text


def test_a_row_inside_a_kept_sentence_joins_it_and_an_unfitting_one_is_skipped() -> None:
    [passage] = _passages("korean-table")
    text = passage.text
    row = text.index("가전 |"), text.index("\n", text.index("가전 |"))
    whole = (0, len(text))
    [excerpt] = fit_excerpts([passage], [(0, *row), (0, *whole)], room=10_000)
    assert excerpt.spans == (whole,)
    [excerpt] = fit_excerpts([passage], [(0, *whole), (0, *row)], room=60)
    assert excerpt.spans == (row,)  # the whole table does not fit; its row does


def test_no_room_for_any_passage_is_too_long() -> None:
    with pytest.raises(TooLong):
        fit_excerpts(_passages("mixed-faq"), [(0, 0, 10)], room=MIN_PASSAGE_TOKENS - 1)
    assert fit_excerpts(_passages("mixed-faq"), [], room=500) == []


def _sent_prompt(llm: ScriptedLLM, index: int = -1) -> str:
    system, user = llm.requests[index]["messages"]
    return str(system["content"]) + "\n\n" + str(user["content"])


@pytest.mark.parametrize(("context", "max_tokens"), [(1536, 256), (2048, 800), (4096, 800)])
def test_the_prompt_sent_fits_the_context_with_the_reply(
        context: int, max_tokens: int, llm_settings: Make, scripted_llm: ScriptedLLM,
        tokenizer: Tokenizer) -> None:
    # the prompt of these passages, unbounded, is 3,115 tokens of the real model
    passages = _passages(*ENTRIES["long-korean-prompt"]["passages"])
    question = ENTRIES["long-korean-prompt"]["question"]
    settings = llm_settings(llm_context_tokens=context, llm_max_tokens=max_tokens,
                            llm_passage_tokens=100_000)
    scripted_llm.reply("연장근로에는 통상임금의 100분의 50 이상을 가산하여 지급한다. [1]")
    answer = LLMAnswerer(settings, tokenizer).answer(evidence_of(question, passages))
    sent = _sent_prompt(scripted_llm)
    assert estimate_tokens(sent) + CHAT_TOKENS + max_tokens <= context
    assert scripted_llm.requests[-1]["max_tokens"] == max_tokens
    # what was shown of each passage is whole sentences of it, joined as written or by GAP
    for block in re.findall(r'page="\d+">\n(.*?)\n</passage>', sent, re.DOTALL):
        for piece in block.replace("&gt;", ">").split(GAP):
            assert any(piece in p.text for p in passages), piece
    assert not answer.abstained and answer.mode.value == "llm"
    assert_citations_exact(answer)


def test_the_passage_budget_bounds_a_large_context(llm_settings: Make,
                                                   scripted_llm: ScriptedLLM,
                                                   tokenizer: Tokenizer) -> None:
    passages = _passages("english-handbook", "korean-rules", "korean-table")
    settings = llm_settings(llm_context_tokens=128_000, llm_passage_tokens=300)
    scripted_llm.reply("NOT_IN_DOCUMENTS")
    LLMAnswerer(settings, tokenizer).answer(evidence_of("How is overtime paid?", passages))
    user = scripted_llm.requests[-1]["messages"][1]["content"]
    shown = re.findall(r'page="\d+">\n(.*?)\n</passage>', str(user), re.DOTALL)
    assert 0 < sum(estimate_tokens(block) for block in shown) <= 300 + 2 * len(passages)


def test_a_server_that_finds_the_prompt_too_long_is_asked_again_with_half(
        llm_settings: Make, scripted_llm: ScriptedLLM, tokenizer: Tokenizer) -> None:
    passages = _passages("english-handbook", "mixed-faq")
    answerer = LLMAnswerer(llm_settings(), tokenizer)
    scripted_llm.fail(400, LLAMA_CPP_TOO_LONG)
    scripted_llm.reply("The multimeter must be recalibrated every 12 months by an accredited "
                       "laboratory. [1]")
    answer = answerer.answer(evidence_of("How often is the multimeter recalibrated?",
                                         passages))
    assert not answer.abstained and "12 months" in answer.answer
    first, second = (estimate_tokens(_sent_prompt(scripted_llm, i)) for i in (0, 1))
    assert second < first


@pytest.mark.parametrize("streaming", [False, True])
def test_a_prompt_refused_twice_is_a_context_overflow(streaming: bool, llm_settings: Make,
                                                      scripted_llm: ScriptedLLM,
                                                      tokenizer: Tokenizer) -> None:
    answerer = LLMAnswerer(llm_settings(), tokenizer)
    for message in (LLAMA_CPP_TOO_LONG, "This model's maximum context length is 4096 tokens"):
        scripted_llm.fail(400, message)
    evidence = evidence_of("How often is the multimeter recalibrated?",
                           _passages("english-handbook"))
    with pytest.raises(LLMContextOverflow) as caught:
        list(answerer.stream(evidence)) if streaming else answerer.answer(evidence)
    assert caught.value.code == "llm_context_overflow" and caught.value.http_status == 502
    assert "QA_LLM_CONTEXT_TOKENS" in caught.value.message
    assert len(scripted_llm.requests) == 2


def test_a_question_that_leaves_no_room_is_refused_before_any_request(
        llm_settings: Make, scripted_llm: ScriptedLLM, tokenizer: Tokenizer) -> None:
    settings = llm_settings(llm_context_tokens=1536, llm_max_tokens=512)
    question = "연장근로의 가산 임금을 알려 주세요. " * 60
    with pytest.raises(LLMContextOverflow) as caught:
        LLMAnswerer(settings, tokenizer).answer(evidence_of(question, _passages("mixed-faq")))
    assert "QA_LLM_CONTEXT_TOKENS is 1536" in caught.value.message
    assert scripted_llm.requests == []


def test_an_http_400_about_something_else_is_not_an_overflow(llm_settings: Make,
                                                              scripted_llm: ScriptedLLM,
                                                              tokenizer: Tokenizer) -> None:
    scripted_llm.fail(400, "unknown parameter: stream_options")
    with pytest.raises(Exception) as caught:
        LLMAnswerer(llm_settings(), tokenizer).answer(
            evidence_of("How is overtime paid?", _passages("english-handbook")))
    assert not isinstance(caught.value, LLMContextOverflow)
    assert len(scripted_llm.requests) == 1


def test_a_context_too_small_for_the_reply_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="QA_LLM_CONTEXT_TOKENS"):
        Settings(llm_context_tokens=1024, llm_max_tokens=800)


def test_excerpt_text_of_one_span() -> None:
    [passage] = _passages("korean-rules")
    first = split_sentences(passage.text)[0]
    assert Excerpt(passage, (first,)).text == passage.text[slice(*first)]




def test_passages_whose_every_sentence_is_too_long_are_an_overflow(
        llm_settings: Make, scripted_llm: ScriptedLLM, tokenizer: Tokenizer) -> None:
    settings = llm_settings(llm_context_tokens=1536, llm_max_tokens=512,
                            llm_passage_tokens=64)
    row = " ".join(f"{n:,}" for n in range(100_000, 100_060))  # one long "sentence" of figures
    with pytest.raises(LLMContextOverflow, match="no sentence of the passages fits"):
        LLMAnswerer(settings, tokenizer).answer(evidence_of("What is the total?",
                                                            make_passages([row])))
    assert scripted_llm.requests == []


class _Ranker:
    """Ranks one chosen sentence first, then the rest in reading order."""

    def __init__(self, passages: list[Passage], first: tuple[int, int, int]) -> None:
        self.order = [first, *(r for r in _in_reading_order(passages) if r != first)]

    def ranked_sentences(self, evidence: object) -> list[tuple[int, int, int]]:
        return self.order


def test_the_sentence_ranked_first_leads_the_question_in_its_passages_numbering(
        llm_settings: Make, scripted_llm: ScriptedLLM, tokenizer: Tokenizer) -> None:
    passages = _passages("english-handbook", "korean-rules")
    sentence = split_sentences(passages[1].text)[6]  # 제15조's second sentence
    top = passages[1].text[slice(*sentence)]
    ranker = _Ranker(passages, (1, *sentence))
    scripted_llm.reply("NOT_IN_DOCUMENTS")
    LLMAnswerer(llm_settings(), tokenizer, ranker=ranker).answer(
        evidence_of("연장근로 가산 임금은?", passages))
    user = str(scripted_llm.requests[-1]["messages"][1]["content"])
    assert user.index('<passage number="1" document="guide.pdf" page="2">') < user.index(
        '<passage number="2" document="guide.pdf" page="1">')  # its passage comes first
    assert f'<lead passage="1">\n{top}\n</lead>\n\n<question>' in user
    assert user.count(top) == 2  # in its passage, and repeated as the lead
    # too little room for passage text to repeat it: the passages alone
    scripted_llm.reply("NOT_IN_DOCUMENTS")
    LLMAnswerer(llm_settings(llm_passage_tokens=120), tokenizer,
                ranker=ranker).answer(evidence_of("연장근로 가산 임금은?", passages))
    assert "<lead" not in str(scripted_llm.requests[-1]["messages"][1]["content"])
    # without a ranking (reading order), no sentence is singled out
    scripted_llm.reply("NOT_IN_DOCUMENTS")
    LLMAnswerer(llm_settings(), tokenizer).answer(evidence_of("연장근로 가산 임금은?", passages))
    assert "<lead" not in str(scripted_llm.requests[-1]["messages"][1]["content"])
