"""BM25 with the project's tokens: Korean morphemes and English stems (`Tokenizer`).

Chunks are indexed as their tokens joined by spaces, so the index only splits on those
spaces and Korean gets morphemes, not whitespace words. Each chunk has three fields
(`LexicalFields`: its document's identity, its section, its text); a term's occurrences
count in each field at that field's weight (`FIELD_WEIGHTS`), normalized by the chunk's
whole length. This module decides what is matched (the query's terms, their spellings,
the `Budget`); the index's `Postings` score them (SQLite's FTS5 in the catalog's own
database: `qa_service.store.fts`, so adding or deleting a document updates BM25 in the
same transaction, at a cost proportional to that document).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from qa_service.schemas import LexicalFields
from qa_service.tokens import Tokenizer

__all__ = ["FIELD_WEIGHTS", "Budget", "LexicalIndex", "Postings", "TermStatistics", "one_edit"]

MAX_QUERY_TOKENS = 64
# A question's word that no chunk holds but an indexed word one typing slip away does
# ("hollwood", "anitrust", "frensh") is read as that word: Latin words this long only
# (shorter ones have too many neighbours; a Korean syllable block is not one keystroke)
SPELLING_MIN_CHARS = 5
_LATIN_WORD = re.compile(r"^[a-z]+$")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
# identity, section, text: a statement's title or a chunk's heading names what a whole
# table is, so it counts twice (measured on the FinanceBench dev tune half and the team
# set; see the README's "Evaluation")
FIELD_WEIGHTS = (1.0, 2.0, 1.0)


class Postings(Protocol):
    """What BM25 search reads of an index: one consistent snapshot of its postings (the
    knowledge base's snapshots are these: `qa_service.store.snapshot`)."""

    def bm25(self, terms: Sequence[str], limit: int,
             document_ids: Sequence[str] | None = None) -> list[tuple[int, float]]:
        """(chunk id, BM25 score; higher is better) of the chunks holding any of `terms`
        (only those of `document_ids` when given), best first; `FIELD_WEIGHTS` weigh the
        chunk's fields. Nothing for no terms or a `limit` of 0."""
        ...

    def bm25_documents(self, terms: Sequence[str], limit: int) -> list[tuple[str, float]]:
        """(document id, BM25 score of `terms` against the document's identity), best
        first."""
        ...

    def term_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """How many chunks hold each of `terms` that any chunk holds (terms no chunk holds
        are left out)."""
        ...

    def chunk_count(self) -> int:
        """How many chunks are searchable."""
        ...


class LexicalIndex:
    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer

    def chunk_fields(self, texts: Sequence[str], sections: Sequence[str] | None = None,
                     identity: str = "") -> list[LexicalFields]:
        """The FTS fields of a document's chunks: `identity` is the document's, `sections[i]`
        and `texts[i]` the chunk's."""
        tokens = self.tokenizer.tokens
        shared = " ".join(tokens(identity))
        headings = sections if sections is not None else [""] * len(texts)
        return [LexicalFields(shared, " ".join(tokens(section)), " ".join(tokens(text)))
                for section, text in zip(headings, texts, strict=True)]

    def query_terms(self, query: str, also: Sequence[str] = (),
                    budget: Budget | None = None) -> list[str]:
        """The terms BM25 matches for `query`: its distinct tokens (at most
        `MAX_QUERY_TOKENS`), then the tokens `also` given; with a `budget`, only those it
        keeps (`Budget.kept`)."""
        asked = list(dict.fromkeys(self.tokenizer.tokens(query)))[:MAX_QUERY_TOKENS]
        unique = list(dict.fromkeys([*asked, *also]))
        return budget.kept(unique) if budget is not None else unique

    def search(
        self,
        postings: Postings,
        query: str,
        limit: int,
        document_ids: Sequence[str] | None = None,
        also: Sequence[str] = (),
        budget: Budget | None = None,
    ) -> list[tuple[int, float]]:
        """(chunk id, BM25 score; higher is better), best first; `also`: more tokens to
        match (what the query's misspelled words most likely meant: `near_terms`);
        `budget`: which terms are worth their postings (`Budget`)."""
        return postings.bm25(self.query_terms(query, also, budget), limit, document_ids)

    def search_documents(self, postings: Postings, query: str, limit: int
                         ) -> list[tuple[str, float]]:
        """(document id, BM25 score of the query against the document's identity: its file
        name, title and first-page headings), best first."""
        return postings.bm25_documents(self.query_terms(query), limit)

    @staticmethod
    def statistics(postings: Postings, tokens: Sequence[str]) -> TermStatistics:
        """How many chunks there are, and how many contain each of `tokens`."""
        unique = list(dict.fromkeys(tokens))
        frequencies = dict.fromkeys(unique, 0)
        frequencies.update(postings.term_frequencies(unique))
        return TermStatistics(postings.chunk_count(), frequencies)

    @staticmethod
    def near_terms(postings: Postings, tokens: Sequence[str]) -> dict[str, str]:
        """For each of `tokens` that no chunk holds (a Latin word of `SPELLING_MIN_CHARS`
        letters or more), the indexed term one edit away (a letter left out, added,
        replaced, or two swapped) that the most chunks hold, if any: what a question's
        misspelled word most likely meant."""
        near: dict[str, str] = {}
        for token in dict.fromkeys(tokens):
            if len(token) < SPELLING_MIN_CHARS or not _LATIN_WORD.match(token):
                continue
            found = postings.term_frequencies([token, *sorted(one_edit(token))])  # one lookup
            if found and token not in found:
                near[token] = max(found.items(), key=lambda item: (item[1], item[0]))[0]
        return near


def one_edit(word: str) -> set[str]:
    """The words one edit away from `word` over a-z: a letter deleted, two adjacent letters
    swapped, a letter replaced, a letter inserted."""
    cuts = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    words = {left + right[1:] for left, right in cuts if right}
    words |= {left + right[1] + right[0] + right[2:] for left, right in cuts if len(right) > 1}
    words |= {left + c + right[1:] for left, right in cuts if right for c in _LETTERS}
    words |= {left + c + right for left, right in cuts for c in _LETTERS}
    words.discard(word)
    return words


@dataclass(frozen=True)
class Budget:
    """How many postings one BM25 search may read: FTS5 scores every row holding any term
    of an OR query, so a term held by a tenth of a million chunks costs a hundred thousand
    scored rows, while its IDF adds little to the ranking. `kept(terms)`: the terms, rarest
    first, while their postings (the chunks holding them: `frequencies`) stay within
    `postings`; the rarest is always kept, and terms no chunk holds cost nothing. The
    order of `terms` is kept."""

    postings: int
    frequencies: Mapping[str, int]

    def kept(self, terms: Sequence[str]) -> list[str]:
        if self.postings <= 0:
            return list(terms)
        spent, keep = 0, set[str]()
        for term in sorted(terms, key=lambda t: self.frequencies.get(t, 0)):
            cost = self.frequencies.get(term, 0)
            if keep and spent + cost > self.postings:
                break
            keep.add(term)
            spent += cost
        return [term for term in terms if term in keep]


@dataclass(frozen=True)
class TermStatistics:
    """Chunk count and per-token document (chunk) frequencies, for IDF weights."""

    chunks: int
    frequencies: dict[str, int]

    def with_terms(self, other: TermStatistics) -> TermStatistics:
        """These statistics and `other`'s frequencies (of the same chunks)."""
        return TermStatistics(self.chunks, {**self.frequencies, **other.frequencies})

    def idf(self, token: str) -> float:
        """BM25's IDF; a token no chunk contains gets the largest weight."""
        df = self.frequencies.get(token, 0)
        return math.log((self.chunks - df + 0.5) / (df + 0.5) + 1.0)
