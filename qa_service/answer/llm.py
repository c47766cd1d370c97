"""Answers written by an LLM behind an OpenAI-compatible chat completions API, then checked.

The model sees the passages as numbered, escaped data (`prompt.py`), cut to the sentences
that matter so that the prompt and the reply fit the model's context (`context.py`); its
reply is checked sentence by sentence against them (`verify.py`) before it becomes an
`Answer`, and when streaming a sentence is released only once it has passed.
The client is built on first use and never retries: a failure surfaces at once as
`LLMUnavailable` (502) or `LLMTimeout` (504), and the caller decides about a fallback.
`QA_LLM_TIMEOUT` bounds connecting and every read: the whole reply without streaming,
each silence between chunks when streaming.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from qa_service.answer.context import (
    MIN_PASSAGE_TOKENS,
    Excerpt,
    TooLong,
    estimate_tokens,
    fit_excerpts,
)
from qa_service.answer.models import Answer
from qa_service.answer.prompt import Prompt, build_prompt
from qa_service.answer.verify import ReplyChecker, abstention
from qa_service.config import Settings
from qa_service.errors import LLMContextOverflow, LLMTimeout, LLMUnavailable, QAError
from qa_service.evidence import Evidence
from qa_service.schemas import Passage
from qa_service.sentences import MAX_SENTENCE_CHARS, bounded_sentences
from qa_service.tokens import Tokenizer

if TYPE_CHECKING:
    from openai import OpenAI

__all__ = ["LLMAnswerer", "SentenceRanker"]

CHAT_TOKENS = 64  # the chat template's role markers, and a margin
LEAD_TOKENS = 16  # the <lead passage="n"> block's tags
# how servers word a prompt over the context: llama.cpp ("exceed context window"),
# OpenAI and vLLM ("maximum context length"), others ("too long", "context length")
_TOO_LONG = re.compile(r"context|too long|too many tokens|maximum.*tokens", re.IGNORECASE)

_HINTS = {
    401: "check QA_LLM_API_KEY",
    403: "check QA_LLM_API_KEY",
    404: "check QA_LLM_BASE_URL (it usually ends in /v1) and QA_LLM_MODEL",
    429: "the LLM is rate-limited; retry later",
}


class SentenceRanker(Protocol):
    def ranked_sentences(self, evidence: Evidence) -> list[tuple[int, int, int]]:
        """The passages' sentences best first, as (passage rank, start, end) in its text."""
        ...


class LLMAnswerer:
    """Answers from passages through the configured LLM; thread-safe, one shared client.

    `ranker` orders the sentences the prompt shows when not all fit (the extractive
    answerer's ranking in production); without one they are taken in reading order."""

    def __init__(self, settings: Settings, tokenizer: Tokenizer,
                 ranker: SentenceRanker | None = None) -> None:
        if not settings.llm_base_url:
            raise QAError(
                "QA_LLM_BASE_URL is not set; set it to an OpenAI-compatible API "
                "(for example http://127.0.0.1:11434/v1) or answer extractively"
            )
        if not settings.llm_model.strip():
            raise QAError(
                f"QA_LLM_BASE_URL is set ({settings.llm_base_url}) but QA_LLM_MODEL is empty; "
                "set QA_LLM_MODEL to a model the server serves"
            )
        self._settings = settings
        self._base_url = settings.llm_base_url
        self._tokenizer = tokenizer
        self._ranker = ranker
        self._client: OpenAI | None = None
        self._lock = threading.Lock()

    def answer(self, evidence: Evidence) -> Answer:
        """Ask the LLM once (no streaming) and return the checked answer."""
        question, passages = evidence.question, _passages(evidence)
        if not passages:
            return _timed(abstention(question, passages), {})
        started = time.perf_counter()
        completion, shown = self._request(evidence, passages, stream=False)
        with self._mapped_errors():
            text = self._completion_text(completion)
        llm_ms = _since(started)
        checker = self._checker(evidence, shown)
        checker.feed(text)
        answer = checker.finish()[1]
        return _timed(answer, {"llm": llm_ms, "verify": _since(started) - llm_ms})

    def stream(self, evidence: Evidence) -> Iterator[str | Answer]:
        """Yield the answer's text as its sentences pass the checks, then the `Answer`.

        The model's reply is held back one sentence: a sentence is released once the next
        one begins (or the reply ends) and only if the passages support it, so the text
        yielded is always a prefix of the final `Answer.answer` (and, at the end, all of
        it): nothing shown is ever taken back."""
        question, passages = evidence.question, _passages(evidence)
        if not passages:
            yield _timed(abstention(question, passages), {})
            return
        started = time.perf_counter()
        first_token = first_text = None
        chunks, shown = self._request(evidence, passages, stream=True)
        checker = self._checker(evidence, shown)
        with self._mapped_errors(), chunks:
            for chunk in chunks:
                delta = self._delta_text(chunk)
                if not delta:
                    continue
                first_token = first_token or _since(started)
                if released := checker.feed(delta):
                    first_text = first_text or _since(started)
                    yield released
        llm_ms = _since(started)
        rest, answer = checker.finish()
        if rest:
            first_text = first_text or _since(started)
            yield rest
        timings = {"llm": llm_ms, "verify": _since(started) - llm_ms}
        if first_token is not None:
            timings["llm_first_token"] = first_token
        if first_text is not None:
            timings["first_text"] = first_text
        yield _timed(answer, timings)

    def close(self) -> None:
        """Release the HTTP connections (at shutdown); a later call opens new ones."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def _checker(self, evidence: Evidence, shown: list[Passage]) -> ReplyChecker:
        return ReplyChecker(evidence.question, shown, self._tokenizer,
                            self._settings.answer.support_threshold, evidence.encode)

    def _request(self, evidence: Evidence, passages: list[Passage], stream: bool
                 ) -> tuple[Any, list[Passage]]:
        """Send the prompt; the response and the passages it showed. A server that
        refuses the prompt as too long is asked once more with half the passage text."""
        room = self._room(evidence.question, passages)
        ranked = self._ranked(evidence, passages)
        for attempt in range(2):
            prompt, shown = self._prompt(evidence.question, passages, ranked, room,
                                         lead=not evidence.overview and self._ranker is not None)
            try:
                with self._mapped_errors():
                    response = self._openai().chat.completions.create(
                        model=self._settings.llm_model,
                        messages=[{"role": "system", "content": prompt.system},
                                  {"role": "user", "content": prompt.user}],
                        temperature=self._settings.llm_temperature,
                        max_tokens=self._settings.llm_max_tokens, stream=stream,
                    )
                return response, shown
            except LLMContextOverflow:
                if attempt:
                    raise
                room //= 2
        raise AssertionError("unreachable")  # pragma: no cover

    def _prompt(self, question: str, passages: list[Passage],
                ranked: list[tuple[int, int, int]], room: int, lead: bool
                ) -> tuple[Prompt, list[Passage]]:
        """The prompt showing the best of `ranked` in `room` tokens (less what the lead
        sentence takes, repeated), and the passages it shows, in its numbering."""
        top = ranked[0] if lead and ranked else None
        text = passages[top[0]].text[top[1]:top[2]] if top is not None else ""
        cost = estimate_tokens(text) + LEAD_TOKENS if top is not None else 0
        if room - cost < cost + MIN_PASSAGE_TOKENS:  # a small context: no room to repeat it
            top, text, cost = None, "", 0
        excerpts = self._excerpts(passages, ranked, room - cost)
        shown = [e.passage for e in excerpts]
        numbered = None
        if top is not None and passages[top[0]] in shown:
            number = shown.index(passages[top[0]])
            if any(a <= top[1] and top[2] <= b for a, b in excerpts[number].spans):
                numbered = (number + 1, text)
        return build_prompt(question, shown, [e.text for e in excerpts], numbered), shown

    def _room(self, question: str, passages: list[Passage]) -> int:
        """Tokens of passage text that fit beside the instructions, the question, the
        passages' headers and the reply."""
        settings = self._settings
        frame = build_prompt(question, passages, [""] * len(passages))
        fixed = estimate_tokens(frame.system) + estimate_tokens(frame.user) + CHAT_TOKENS
        free = settings.llm_context_tokens - settings.llm_max_tokens - fixed
        return min(settings.llm_passage_tokens, free)

    def _ranked(self, evidence: Evidence, passages: list[Passage]
                ) -> list[tuple[int, int, int]]:
        """The passages' sentences best first: the ranker's order, or reading order for an
        overview (its passages are the document's opening)."""
        if evidence.overview or self._ranker is None:
            return [(i, a, b) for i, p in enumerate(passages)
                    for a, b in bounded_sentences(p.text, MAX_SENTENCE_CHARS)]
        return self._ranker.ranked_sentences(evidence)

    def _excerpts(self, passages: list[Passage], ranked: list[tuple[int, int, int]],
                  room: int) -> list[Excerpt]:
        try:
            excerpts = fit_excerpts(passages, ranked, room)
            if ranked and not excerpts:
                raise TooLong(f"no sentence of the passages fits in {room} tokens")
        except TooLong as err:
            raise LLMContextOverflow(
                f"the question and the instructions leave no room for passages in the LLM's "
                f"context ({err}): QA_LLM_CONTEXT_TOKENS is "
                f"{self._settings.llm_context_tokens} and QA_LLM_MAX_TOKENS "
                f"{self._settings.llm_max_tokens}; raise the first (to the context the server "
                "gives the model) or lower the second"
            ) from err
        return excerpts

    def complete(self, messages: list[dict[str, str]], max_tokens: int,
                 timeout: float | None = None) -> str:
        """One non-streamed chat completion's text, through this answerer's client and
        error mapping (`LLMTimeout`, `LLMUnavailable`): for other short tasks on the same
        LLM (rewriting a follow-up question). Temperature 0."""
        with self._mapped_errors():
            completion = self._openai().chat.completions.create(
                model=self._settings.llm_model, messages=messages,  # type: ignore[arg-type]
                temperature=0.0, max_tokens=max_tokens, stream=False,
                timeout=timeout if timeout is not None else self._settings.llm_timeout)
            return self._completion_text(completion)

    def _openai(self) -> OpenAI:
        with self._lock:
            if self._client is None:
                from openai import OpenAI

                key = self._settings.llm_api_key
                self._client = OpenAI(
                    base_url=self._base_url,
                    api_key=key.get_secret_value() if key else "not-needed",
                    timeout=self._settings.llm_timeout, max_retries=0,
                )
            return self._client

    def _completion_text(self, completion: Any) -> str:
        choices = getattr(completion, "choices", None)
        message = getattr(choices[0], "message", None) if choices else None
        content = getattr(message, "content", None)
        if not isinstance(content, str):
            raise self._malformed("a completion without choices or message text")
        return content

    def _delta_text(self, chunk: Any) -> str:
        choices = getattr(chunk, "choices", None)
        if not choices:
            return ""  # usage-only and keep-alive chunks carry no choices
        content = getattr(getattr(choices[0], "delta", None), "content", None)
        if content is not None and not isinstance(content, str):
            raise self._malformed("a stream chunk whose delta content is not text")
        return content or ""

    def _malformed(self, what: str) -> LLMUnavailable:
        return LLMUnavailable(
            f"the LLM at {self._base_url} sent {what}; check that QA_LLM_BASE_URL points to "
            "an OpenAI-compatible chat completions API, or set QA_LLM_FALLBACK=true"
        )

    @contextmanager
    def _mapped_errors(self) -> Iterator[None]:
        """Turn the client's exceptions into `LLMTimeout` / `LLMUnavailable`."""
        import openai

        where = f"the LLM at {self._base_url}"
        try:
            yield
        except openai.APITimeoutError as err:
            raise LLMTimeout(
                f"{where} did not answer within {self._settings.llm_timeout:g} s; raise "
                "QA_LLM_TIMEOUT, use a faster model, or set QA_LLM_FALLBACK=true to answer "
                "extractively"
            ) from err
        except openai.APIConnectionError as err:
            raise LLMUnavailable(
                f"{where} cannot be reached ({_cause(err)}); check QA_LLM_BASE_URL and that "
                "the server is running, or set QA_LLM_FALLBACK=true to answer extractively"
            ) from err
        except openai.APIStatusError as err:
            if err.status_code in (400, 413) and _TOO_LONG.search(_server_message(err.body)):
                raise LLMContextOverflow(
                    f"{where} refused the prompt as too long for the model's context "
                    f"({_server_message(err.body)}); set QA_LLM_CONTEXT_TOKENS to the context "
                    "the server gives the model"
                ) from err
            hint = _HINTS.get(err.status_code, "check the LLM server's log")
            raise LLMUnavailable(
                f"{where} answered HTTP {err.status_code}: {_server_message(err.body)}; "
                f"{hint}, or set QA_LLM_FALLBACK=true to answer extractively"
            ) from err
        except (openai.APIError, ValueError) as err:  # a broken stream event, non-JSON body
            raise self._malformed(f"a malformed reply ({type(err).__name__}: {err})") from err


def _passages(evidence: Evidence) -> list[Passage]:
    """What the LLM reads: the retrieved passages or, for an overview request, as many of
    the document's opening passages (in reading order)."""
    if evidence.overview:
        return list(evidence.overview[:max(len(evidence.items), 1)])
    return evidence.passages


def _timed(answer: Answer, timings: dict[str, float]) -> Answer:
    return replace(answer, timings_ms={k: round(v, 1) for k, v in timings.items()})


def _since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _cause(err: BaseException) -> str:
    """The innermost cause's message: "Connection refused" rather than "Connection error."."""
    while err.__cause__ is not None:
        err = err.__cause__
    return str(err) or type(err).__name__


def _server_message(body: object) -> str:
    message = body.get("message") if isinstance(body, dict) else body
    return str(message or "no message")[:300]
