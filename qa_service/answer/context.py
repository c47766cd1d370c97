"""What the LLM reads of the passages: the sentences that matter, within its context.

A model's context (`QA_LLM_CONTEXT_TOKENS`) holds the prompt and the reply
(`QA_LLM_MAX_TOKENS`). The prompt's fixed parts (instructions, the question, each
passage's header) are counted first; what remains, at most `QA_LLM_PASSAGE_TOKENS`, goes to
passage text. The passages' sentences are taken best first (the ranking the extractive
answerer computes: the sentence that answers, its table row, then the rest) until the next
one would not fit; the passage of the best sentence comes first, and each passage shows
its kept sentences in reading order, a run of adjacent ones as written and a gap between
runs as " … ". A sentence is never cut: one
that does not fit is left out, and a passage with none kept is not shown.

Tokens are counted without the model's tokenizer, conservatively for the tokenizers of
current open models (Qwen2.5, Llama 3, Gemma) and OpenAI's: a Hangul syllable or a CJK
character counts 1.25 tokens, a digit 1 (several tokenizers split numbers into digits),
any other non-space symbol 1, a space before a digit 1, a Latin letter 0.3 (a word of five
letters 1.5 tokens; real English runs 4 to 5 characters a token), other letters 1. Against
Qwen2.5's own counts this is 6 to 30% over (`tests/answer/test_context.py` checks it on
texts and prompts the model counted). A server whose tokenizer counts more (a byte-level
one without Korean words) refuses the prompt as too long: the answerer then asks once more
with half the passage text, and falls back with that reason when it still does not fit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from qa_service.schemas import Passage

__all__ = ["GAP", "Excerpt", "TooLong", "estimate_tokens", "fit_excerpts"]

GAP = " … "  # between two runs of kept sentences of one passage
MIN_PASSAGE_TOKENS = 48  # less room than this for passage text: the prompt cannot fit

_WIDE = re.compile(r"[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff"
                   r"\uac00-\ud7a3\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")
_DIGIT = re.compile(r"[0-9]")
_LETTER = re.compile(r"[^\W\d_]")
_SPACE = re.compile(r"\s")
_SPACED_NUMBER = re.compile(r"\s[0-9]")


class TooLong(ValueError):
    """The prompt's fixed parts leave too little room for any passage text."""


def estimate_tokens(text: str) -> int:
    """An upper estimate of `text`'s tokens for common tokenizers (see the module)."""
    wide = len(_WIDE.findall(text))
    latin = len(_LATIN.findall(text))
    digits = len(_DIGIT.findall(text))
    letters = len(_LETTER.findall(text)) - wide - latin
    spaces = len(_SPACE.findall(text))
    symbols = len(text) - wide - latin - digits - letters - spaces
    spaced_numbers = len(_SPACED_NUMBER.findall(text))  # " 12": the space is a token
    return math.ceil(1.25 * wide + 0.3 * latin + digits + letters + symbols + spaced_numbers)


@dataclass(frozen=True)
class Excerpt:
    """What the model reads of one passage: `spans` (start, end) of `passage.text`, in
    order, none overlapping."""

    passage: Passage
    spans: tuple[tuple[int, int], ...]

    @property
    def text(self) -> str:
        text, parts, previous = self.passage.text, [], None
        for start, end in self.spans:
            if previous is not None:
                between = text[previous:start]
                parts.append(between if not between.strip() else GAP)
            parts.append(text[start:end])
            previous = end
        return "".join(parts)


def fit_excerpts(passages: Sequence[Passage], ranked: Sequence[tuple[int, int, int]],
                 room: int) -> list[Excerpt]:
    """The excerpts of `passages` holding the best of `ranked` ((passage index, start, end),
    best first; spans into that passage's text) that fit in `room` tokens of passage text,
    the passage of the best sentence first (a small model reads the first passage most
    closely); a passage with nothing kept is left out. `TooLong` when `room` is under
    `MIN_PASSAGE_TOKENS`."""
    if room < MIN_PASSAGE_TOKENS:
        raise TooLong(f"{room} tokens left for passage text")
    kept: dict[int, list[tuple[int, int]]] = {}
    used = 0
    for index, start, end in ranked:
        if not 0 <= index < len(passages) or end <= start:
            continue
        spans = kept.get(index, [])
        text = passages[index].text
        # a span overlapping kept ones (a table row inside its sentence) joins them
        joined = [(a, b) for a, b in spans if start < b and a < end]
        low, high = min([start, *(a for a, _ in joined)]), max([end, *(b for _, b in joined)])
        cost = estimate_tokens(text[low:high]) - sum(estimate_tokens(text[a:b])
                                                     for a, b in joined)
        cost += 0 if joined else estimate_tokens(GAP)
        if used + cost > room:
            continue  # a shorter one further down may still fit
        kept[index] = [s for s in spans if s not in joined] + [(low, high)]
        used += cost
    return [Excerpt(passages[i], tuple(sorted(spans))) for i, spans in kept.items() if spans]
