"""Language-aware tokens for BM25: Korean morphemes (kiwipiepy), English words.

Text with Hangul goes through Kiwi's morphological analyser, keeping content morphemes
(nouns, verb and adjective stems, roots, foreign words, numbers, Chinese characters);
particles and endings are dropped, which is what makes Korean BM25 work at all. Other text
is split into lowercase words with English stop words removed. Both paths lowercase, so a
Latin word inside Korean text matches the same word in English text.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from typing import Any

__all__ = ["Tokenizer", "has_hangul"]

_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_WORD = re.compile(r"[^\W_]+")
_KEPT_TAGS = ("NNG", "NNP", "NNB", "NR", "NP", "VV", "VA", "XR", "SL", "SN", "SH", "MAG")
STOPWORDS = frozenset(
    "a an and are as at be been but by did do does for from had has have he her his how i "
    "if in into is it its of on or she so than that the their them then there these they "
    "this those to was we were what when where which who whom why will with you your".split()
)


def has_hangul(text: str) -> bool:
    return _HANGUL.search(text) is not None


class Tokenizer:
    """Thread-safe; the Korean analyser loads on first use (about a second)."""

    def __init__(self) -> None:
        self._kiwi: Any = None
        self._lock = threading.Lock()

    def tokens(self, text: str) -> list[str]:
        text = unicodedata.normalize("NFKC", text)
        if has_hangul(text):
            return self._korean(text)
        return _english(text)

    def _korean(self, text: str) -> list[str]:
        kiwi = self._analyser()
        out: list[str] = []
        for token in kiwi.tokenize(text):
            if token.tag.startswith(_KEPT_TAGS):
                form = token.form.casefold()
                if token.tag == "SL" and form in STOPWORDS:
                    continue
                out.append(form)
        return out

    def _analyser(self) -> Any:
        with self._lock:
            if self._kiwi is None:
                from kiwipiepy import Kiwi

                self._kiwi = Kiwi()
            return self._kiwi


def _english(text: str) -> list[str]:
    return [w for w in (m.casefold() for m in _WORD.findall(text)) if w not in STOPWORDS]
