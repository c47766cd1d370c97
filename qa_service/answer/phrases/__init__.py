"""What a question is made of, for rewriting a follow-up (`condense_rules`).

`parse_question` finds a question's content phrases (names, years, quantities with their
unit, other nouns), its anaphors ("it", "its", "this company", "그 회사", "그것", "해당
문서"), the follow-up cue it opens with ("and", "what about", "그럼") and whether it is a
fragment without a predicate ("삼성은?", "revenue in 2022?").

Korean is read through Kiwi's morphemes (`Tokenizer.morphemes`): nouns that follow each
other (spaces between them allowed) make one run, split into names (NNP, Latin words),
numbers with their unit and other nouns; the particle after a phrase says its role
(topic 은/는, subject 이/가, possessive 의). English has no analyser here: words that are
not stop words make runs; a capitalized word inside the sentence (or a word in capitals,
or with digits) is a name; a possessive ends a run.
"""

from __future__ import annotations

from qa_service.answer.phrases.english import EnglishQuestion
from qa_service.answer.phrases.korean import KoreanQuestion
from qa_service.answer.phrases.model import Anaphor, Kind, Parsed, Phrase
from qa_service.tokens import Tokenizer, has_hangul

__all__ = ["Anaphor", "Kind", "Parsed", "Phrase", "parse_question"]


def parse_question(text: str, tokenizer: Tokenizer) -> Parsed:
    if has_hangul(text):
        return KoreanQuestion(text, tokenizer).parse()
    return EnglishQuestion(text, tokenizer).parse()
