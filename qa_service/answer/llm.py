"""Answers written by an LLM behind an OpenAI-compatible chat completions API, then checked.

The model sees the passages as numbered, escaped data (`prompt.py`); its reply is
checked sentence by sentence against them (`verify.py`) before it becomes an `Answer`.
The client is built on first use and never retries: a failure surfaces at once as
`LLMUnavailable` (502) or `LLMTimeout` (504), and the caller decides about a fallback.
`QA_LLM_TIMEOUT` bounds connecting and every read: the whole reply without streaming,
each silence between chunks when streaming.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from qa_service.answer.models import Answer
from qa_service.answer.prompt import build_prompt
from qa_service.answer.verify import StreamGuard, abstention, check_reply
from qa_service.config import Settings
from qa_service.errors import LLMTimeout, LLMUnavailable, QAError
from qa_service.evidence import Evidence
from qa_service.schemas import Passage
from qa_service.tokens import Tokenizer

if TYPE_CHECKING:
    from openai import OpenAI
    from openai.types.chat import ChatCompletionMessageParam

__all__ = ["LLMAnswerer"]

_HINTS = {
    401: "check QA_LLM_API_KEY",
    403: "check QA_LLM_API_KEY",
    404: "check QA_LLM_BASE_URL (it usually ends in /v1) and QA_LLM_MODEL",
    429: "the LLM is rate-limited; retry later",
}


class LLMAnswerer:
    """Answers from passages through the configured LLM; thread-safe, one shared client."""

    def __init__(self, settings: Settings, tokenizer: Tokenizer) -> None:
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
        self._client: OpenAI | None = None
        self._lock = threading.Lock()

    def answer(self, evidence: Evidence) -> Answer:
        """Ask the LLM once (no streaming) and return the checked answer."""
        question, passages = evidence.question, _passages(evidence)
        if not passages:
            return _timed(abstention(question, passages), 0.0, 0.0)
        started = time.perf_counter()
        with self._mapped_errors():
            completion = self._openai().chat.completions.create(
                model=self._settings.llm_model, messages=_messages(question, passages),
                temperature=self._settings.llm_temperature,
                max_tokens=self._settings.llm_max_tokens, stream=False,
            )
            text = self._completion_text(completion)
        return self._checked(question, text, passages, started)

    def stream(self, evidence: Evidence) -> Iterator[str | Answer]:
        """Yield the reply's text as it arrives, then the checked `Answer`.

        The streamed text has links and images removed (as the answer does) but is not
        yet checked for support: show it as provisional and replace it with the final
        `Answer.answer`, which alone is checked.
        """
        question, passages = evidence.question, _passages(evidence)
        if not passages:
            yield _timed(abstention(question, passages), 0.0, 0.0)
            return
        started = time.perf_counter()
        pieces: list[str] = []
        guard = StreamGuard(passages)
        with self._mapped_errors():
            chunks = self._openai().chat.completions.create(
                model=self._settings.llm_model, messages=_messages(question, passages),
                temperature=self._settings.llm_temperature,
                max_tokens=self._settings.llm_max_tokens, stream=True,
            )
            with chunks:
                for chunk in chunks:
                    delta = self._delta_text(chunk)
                    if delta:
                        pieces.append(delta)
                        if safe := guard.feed(delta):
                            yield safe
        if rest := guard.flush():
            yield rest
        yield self._checked(question, "".join(pieces), passages, started)

    def close(self) -> None:
        """Release the HTTP connections (at shutdown); a later call opens new ones."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def _checked(self, question: str, text: str, passages: list[Passage], started: float
                 ) -> Answer:
        llm_ms = (time.perf_counter() - started) * 1000
        checked = check_reply(question, text, passages, self._tokenizer,
                              self._settings.answer.support_threshold)
        verify_ms = (time.perf_counter() - started) * 1000 - llm_ms
        return _timed(checked, llm_ms, verify_ms)

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


def _messages(question: str, passages: Sequence[Passage]) -> list[ChatCompletionMessageParam]:
    prompt = build_prompt(question, passages)
    return [{"role": "system", "content": prompt.system},
            {"role": "user", "content": prompt.user}]


def _timed(answer: Answer, llm_ms: float, verify_ms: float) -> Answer:
    return replace(answer, timings_ms={"llm": round(llm_ms, 1), "verify": round(verify_ms, 1)})


def _cause(err: BaseException) -> str:
    """The innermost cause's message: "Connection refused" rather than "Connection error."."""
    while err.__cause__ is not None:
        err = err.__cause__
    return str(err) or type(err).__name__


def _server_message(body: object) -> str:
    message = body.get("message") if isinstance(body, dict) else body
    return str(message or "no message")[:300]
