"""The offline answerer: quote the sentences of the retrieved passages that answer.

No LLM and no network. Every sentence of the retrieved passages is a candidate (the same
sentence spans whose vectors were stored at ingest, handed over in the `Evidence`, so no
sentence is embedded at ask time). A candidate's score adds, with the weights in
`SentenceWeights`:
- `local_overlap`: the share of the question's content tokens found in the sentence,
  each token weighted by its IDF in the knowledge base times its rarity among the
  candidate sentences (a word every candidate has, such as the document's topic, tells
  little about which sentence answers);
- `window_overlap`: the same share, with plain IDF weights, over the sentence and its two
  neighbours (questions often name the subject of the previous sentence);
- `previous_overlap`: the local share over the sentence and the one before it;
- `bigrams`: the share of the question's consecutive token pairs found in the sentence;
- `answer_type`: when/what-year questions and a date in the sentence, how-many questions
  and a number;
- `similarity`: the cosine of the question's and the sentence's vectors;
- `passage_score` and `passage_rank`: the passage's fused retrieval score and its rank.
In the three overlaps a question word that the passage's context holds (its document's
identity, its section) counts `context_words` (a half): it says where to look, not what
to read. The sentences of the financial statement the question asks for gain
`asked_statement`; when the question names documents, the sentences of the others lose
`unnamed_document`, and so do those of documents that do not print a date the question
names ("the invoice dated November 9, 2023": `qa_service.dates`) when another does.
A sentence in the other language than the question (Korean/English) shares no words with
it: it scores `cross_lingual_similarity` x its cosine instead of the word overlaps, unless
the question's words have translations among the knowledge base's terms
(`Evidence.translations`, `qa_service.bridge`): then a sentence holding a translation
holds the word, in every overlap and line weight, and its cosine counts
`translated_similarity` more.
The weights were set on half of the SQuAD v1.1 dev articles and checked on the other half
and on KorQuAD (README "Answering").

When a short span answers (`qa_service.answer.short`: a table cell, a date, an amount...),
the answer leads with it on its own line, and the line or sentence it was read from is
the first quote (a table row with its header line). It is sought in the lines of the best
sentences, heaviest first (a sentence of prose wrapped over lines also counts as one line:
the question's words may lie on every line but the one with the fact): a line weighs the
share of the question it holds, leaving out the words its passage's context already holds
(they name the document, not the line); a
table row, or a label stacked above its value, also weighs the question's focus
(`qa_service.answer.focus`: 소비세 in "...청구서에 붙은 소비세는 얼마인가요?"), and the rows
of the first passages that hold the focus are weighed whatever their sentence's rank. A
line of an English passage weighs the share of a Korean question's names and terms (its
words without Hangul) it holds. A short sentence whose line holds no span is
searched whole. Then the best sentences, best first,
at most `max_sentences` quotes and `max_chars` characters; a sentence longer than the room
left is cut to the window of words that holds most of the question's weight (a verbatim
substring, marked with "…"). Line breaks of the PDF text are shown as spaces in the
answer; citation quotes are exact page text. An overview request is answered from the
document's opening and headings (`qa_service.answer.overview`).

Abstention: `answerability` is the probability of `qa_service.answer.answerability`'s
model over the features this answerer computes (`features`); below `abstain_below` the
answer is an abstention. It is 0 when the table row the answer would be read from says
nothing for the question: the question asks for a period (a year, 제51기), the row has
columns of other periods only and no other line gives a short answer
(`qa_service.answer.short.other_periods`: a balance sheet of 2022 and 2021 does not say
2019's figures); or the column the question names is printed empty in it
(`qa_service.answer.short.empty_column`: "GPT-o1 - 0.058 0.0134 - - -" gives no Recall@20
of GPT-o1, and a lighter row's, another method's, is no answer either); or the question
names a code that no passage prints and the knowledge base never saw (`qa_service.codes`:
the bulletin of precinct 0050003A does not give the votes of precinct 0050004A), or a
version of which the passages print only others (Edition 1.0's data model does not say
when Edition 2.0 was published), or a month of a year that no passage prints, or that the
page of the short answer does not print (`qa_service.dates.asked_months`: the rate sheet of
April 2019 does not give April 2018's rates), or, in Korean, a name in the possessive that
no chunk holds ("SK하이닉스의 ..." over Samsung's statements). It is 0 too when no short
answer was found and the question asks how many or how much while no sentence the answer
would quote states a quantity (`qa_service.answer.short.states_quantity`: the brochure's
"입장료 별도." for the pool's admission fee), or asks what something costs and what it
asks the cost of is in no passage (an invoice without a shipping line).
When no line heavy enough gives a short answer to a question that counts something ("How
many U.S.-registered airplanes ...?"), a lighter one of the best sentences that counts it
does ("... affects 73 airplanes of U.S. registry.").
"""

from __future__ import annotations

import itertools
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from qa_service.answer.answerability import (
    DEFAULT_MODEL,
    AnswerabilityFeatures,
    AnswerabilityModel,
)
from qa_service.answer.focus import content_tokens, question_focus, question_locator
from qa_service.answer.models import (
    ONE_LINE,
    Answer,
    AnswerMode,
    Citation,
    ShortAnswer,
    abstention_text,
    is_korean,
)
from qa_service.answer.overview import overview_text
from qa_service.answer.short import (
    QUANTITIES,
    AnswerType,
    answer_type,
    asks_cost,
    asks_quantity,
    column_header,
    fiscal_years,
    in_currency,
    of_counted,
    row_headings,
    row_lacks,
    short_span,
    short_years,
    stacked_value,
    states_quantity,
)
from qa_service.codes import asked_codes, asked_versions, printed
from qa_service.config import AnswerSettings
from qa_service.dates import AskedMonth, asked_dates, asked_months
from qa_service.evidence import Evidence, PassageEvidence
from qa_service.glossary import compound_parts
from qa_service.instructions import asked_part, asks_computation
from qa_service.line_items import ItemNames
from qa_service.schemas import Passage
from qa_service.statements import STATEMENTS, of_statements, statements_asked
from qa_service.table_lines import CELL_SEPARATOR, is_table_row, lines_of, table_cells
from qa_service.tokens import Tokenizer, has_hangul

__all__ = ["ExtractiveAnswerer", "SentenceWeights"]

_DATE_QUESTION = re.compile(
    r"\bwhen\b|\bwhat (?:year|date|century|decade|month|day)\b|\bwhich (?:year|century)\b"
    r"|언제|몇\s*년|연도|날짜", re.IGNORECASE)
_NUMBER_QUESTION = re.compile(
    r"\bhow (?:many|much|long|far|old|large|big|tall|high)\b|\bwhat (?:percent|percentage"
    r"|number)\b|몇|얼마", re.IGNORECASE)
_DATE = re.compile(
    r"\b(?:1\d{3}|20\d{2})\b|\b(?:January|February|March|April|May|June|July|August"
    r"|September|October|November|December)\b|\d+\s*(?:년|월|일|세기)")
_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|hundred"
    r"|thousand|million|billion|dozen)\b", re.IGNORECASE)
_WORD = re.compile(r"\S+")
_FIGURE = re.compile(r"\d{2,}")  # a year, a period, an amount a question names
NUMBER_PASSAGES = 3  # where the question's figures are looked for
# a form's label (a few words, no figure, no comma) before a colon, then its value, short
# (a colon in prose is followed by a clause: "... advertising revenues: ABC's revenue ...")
_COLON_LABEL = re.compile(r"[ \t]*([^\W\d_][^\n:\uff1a|\d,]{0,38}?)[ \t]*[:\uff1a][ \t]*"
                          r"(?=\S[^\n]{0,39}$)", re.MULTILINE)
_COMPOUND = re.compile(r"\d[^\W\d_]|[^\W\d_]\d")
ELLIPSIS = "…"
LEAD_SENTENCES = 8  # the best sentences whose lines may hold the short answer
LEAD_RANK_STEP = 0.1  # a line's weight lost per rank of its sentence
LEAD_LINE_SHARE = 0.5  # lines holding less than this share of the best line's weight: none
LEAD_MIN_WEIGHT = 0.25  # nor lines holding less of the question (or, in the other
# language, less similar to it): a wrong short answer misleads more than none
SHORT_SENTENCE_CHARS = 200  # a sentence this short is searched whole when its line fails
WRAPPED_SENTENCE_CHARS = 300  # a sentence of prose this long, wrapped over lines, is also
# weighed as one line
LEAD_SEPARATOR = "\n\n"  # between the short answer and the quotes
FOCUS_WEIGHT = 0.5  # a line holding all of the question's focus gains this much weight
LABEL_EXTRA_WORDS = 0.25  # ... less this share when its label holds only other words
TABLE_PASSAGES = 2  # whose table rows are all weighed (not only the best sentences')
TABLE_FOCUS_SHARE = 0.5  # ... when they hold this share of the question's focus
CROSS_LINGUAL_LINES = 48  # lines of the other language embedded at ask time, at most
CROSS_LINGUAL_LINE_WEIGHT = 1.0  # a line's cosine counts as this share of the question
OVERVIEW_MIN_CHARS = 900  # an overview quotes a few sentences and headings
MIN_QUOTE_CHARS = 40  # a second quote shorter than this is not worth cutting down to
TOKEN_CACHE_CHUNKS = 4096


@dataclass(frozen=True)
class SentenceWeights:
    local_overlap: float = 0.5
    window_overlap: float = 0.3
    previous_overlap: float = 0.3
    bigrams: float = 0.2
    answer_type: float = 0.1
    similarity: float = 1.0
    passage_score: float = 0.05
    passage_rank: float = -0.05
    cross_lingual_similarity: float = 2.0  # a sentence in the other language: its cosine
    # a question word that its passage's context holds (the document's identity, the
    # section) says where to look rather than what to read: it counts this much
    context_words: float = 0.5
    # a word of the question's leading clause that says where to look ("In the Fond du
    # Lac County 90-day report on the December 2015 incident, ...") and nowhere else in
    # it: a form's header repeats them all, the sentence that answers seldom does
    located_words: float = 0.25
    # a sentence of the financial statement the question asks for
    asked_statement: float = 0.3
    # a sentence of a document the question does not name, when it names some; and the
    # short answer's lines of a document it does not name at all, when it names one by the
    # name it puts in the possessive (`_unnamed_lines`)
    unnamed_document: float = 0.3
    # a sentence in the other language, when the question's words have translations
    # there (`Evidence.translations`): its words are weighed, and its cosine counts this
    # much more
    translated_similarity: float = 0.5


@dataclass
class _Candidate:
    passage: int  # rank of its passage, from 0
    start: int  # span in the passage's text
    end: int
    tokens: frozenset[str]
    bigrams: frozenset[tuple[str, str]]
    similarity: float
    score: float = 0.0
    window_overlap: float = 0.0


_T = TypeVar("_T")

# A line of a candidate sentence: (weight, passage, start, end, the sentence's span)
_Line = tuple[float, int, int, int, tuple[int, int]]


@dataclass(frozen=True)
class _Lead:
    """The short answer `passage.text[span_start:span_end]`, quoted with
    `passage.text[line_start:line_end]` (its table row, or its sentence) of passage
    `passage` (its rank)."""

    passage: int
    line_start: int
    line_end: int
    span_start: int
    span_end: int
    header: tuple[int, int] | None = None  # a table row's nearest header line, also quoted


@dataclass(frozen=True)
class _Assessment:
    idf: dict[str, float]  # the question's distinct content tokens, in order
    candidates: list[_Candidate]  # scored
    lead: _Lead | None
    features: AnswerabilityFeatures
    # the documents do not say it: the row that would give the short answer says nothing
    # for the question (its columns are other periods than the one asked, and no other line
    # answers; or the asked column is empty), or the question names a code they never print,
    # a version of which they print only others, a month they do not print (or the short
    # answer's page does not), a Korean owner no chunk names; or no short answer and no
    # quantity quoted for how many / how much, or no passage names what a cost is asked of
    not_stated: bool = False


class ExtractiveAnswerer:
    def __init__(self, tokenizer: Tokenizer, settings: AnswerSettings,
                 weights: SentenceWeights | None = None,
                 model: AnswerabilityModel = DEFAULT_MODEL) -> None:
        self.tokenizer = tokenizer
        self.settings = settings
        self.weights = weights or SentenceWeights()
        self.model = model
        self._tokens: OrderedDict[int, list[list[str]]] = OrderedDict()
        self._contexts: OrderedDict[int, frozenset[str]] = OrderedDict()
        self._lock = threading.Lock()

    def answer(self, evidence: Evidence) -> Answer:
        question, passages = evidence.question, evidence.passages
        if evidence.overview:
            return self._overview(evidence)
        assessed = self._assess(evidence)
        # what the documents do not state (a period the table has no column for, an empty
        # cell, a code or a version they never print) is not there to quote
        answerability = (0.0 if assessed.not_stated
                         else self.model.probability(assessed.features))
        threshold = self.settings.abstain_below
        if answerability < threshold or threshold >= 1.0 or not assessed.candidates:
            return Answer(question=question, answer=abstention_text(question), abstained=True,
                          mode=AnswerMode.EXTRACTIVE, citations=[], passages=list(passages),
                          answerability=round(answerability, 4))
        # a figure to compute is printed nowhere: the line read first is quoted first, as
        # what it is computed from, but no figure of it stands as the answer
        text, citations, short = self._compose(assessed.idf, assessed.candidates, passages,
                                               assessed.lead,
                                               shown=not asks_computation(question))
        return Answer(question=question, answer=text, abstained=False,
                      mode=AnswerMode.EXTRACTIVE, citations=citations, passages=list(passages),
                      answerability=round(answerability, 4), short_answer=short)

    def _overview(self, evidence: Evidence) -> Answer:
        """An overview request: the document's opening sentences and section headings
        (`qa_service.answer.overview`), cited; declined only when nothing can be quoted."""
        text, citations = overview_text(evidence.question, evidence.overview,
                                        max(self.settings.max_chars, OVERVIEW_MIN_CHARS))
        passages = list(evidence.overview[:len(evidence.items)]) or evidence.passages
        if not citations:
            return Answer(question=evidence.question,
                          answer=abstention_text(evidence.question), abstained=True,
                          mode=AnswerMode.EXTRACTIVE, citations=[], passages=passages)
        cited = {c.chunk_id for c in citations}
        shown = [p for p in evidence.overview if p.chunk_id in cited]
        return Answer(question=evidence.question, answer=text, abstained=False,
                      mode=AnswerMode.EXTRACTIVE, citations=citations,
                      passages=shown + [p for p in evidence.passages if p.chunk_id not in cited])

    def features(self, evidence: Evidence) -> AnswerabilityFeatures:
        """What the answerability model sees for this evidence (for calibration)."""
        return self._assess(evidence).features

    def _assess(self, evidence: Evidence) -> _Assessment:
        question, passages = evidence.question, evidence.passages
        asked = asked_part(question)  # not what it tells the answerer ("Answer in USD ...")
        content = content_tokens(_parts_only(self.tokenizer.tokens(asked)))
        tokens = [evidence.spellings.get(t, t) for t in content]  # "hollwood" -> "hollywood"
        idf = {t: evidence.terms.idf(t) for t in dict.fromkeys(tokens)}
        # the line items it names (`qa_service.line_items`): a sentence that names one by
        # another name ("Cost of sales" for "cost of goods sold") holds its words for it
        items = ItemNames.of_question(asked, self.tokenizer.tokens)
        candidates = self._candidates(evidence, items)
        contexts = [self._context_tokens(item.passage.chunk_id, item.context)
                    for item in evidence.items]
        korean = is_korean(question)
        other_language = [is_korean(p.text) != korean for p in passages]
        # the words of a leading "In the X report, ..." say where to look, as a passage's
        # context does: they count as its words do
        locator = question_locator(asked)
        located = (frozenset(self.tokenizer.tokens(locator))
                   - frozenset(self.tokenizer.tokens(asked[len(locator):])))
        coverage, context_coverage, similarity = self._score(
            question, idf, set(itertools.pairwise(tokens)), candidates, passages, contexts,
            other_language, bool(evidence.translations), located)
        self._prefer_asked_statement(question, evidence, candidates)
        # a date the question names ("the invoice dated November 9, 2023") names the
        # documents that print it
        undated = _undated(evidence)
        self._prefer_named_documents(evidence, candidates, undated)
        lead, line_share, not_stated = self._short_answer(
            evidence, idf, candidates, undated, [context | located for context in contexts],
            other_language, items)
        # as typed: a misspelled word still counts as one the knowledge base never saw
        typed = {t: evidence.terms.idf(t) for t in dict.fromkeys(content)}
        total = math.fsum(typed.values())
        # a compound the tokenizer also splits ("fy2017" -> "fy", "2017") is never unseen,
        # nor a word a passage's sentence holds by another form: its translation (유럽 ->
        # europe), another name of the line item it names ("topline" -> "net sales")
        held = frozenset(t for c in candidates for t in c.tokens)
        unseen = (math.fsum(w for t, w in typed.items()
                            if not evidence.terms.frequencies.get(t) and not _COMPOUND.search(t)
                            and t not in held)
                  / total) if total else 1.0
        figures = set(_FIGURE.findall(asked.replace(",", "")))
        shown = "".join(f"{item.passage.text} {item.context}" for item in evidence.items
                        [:NUMBER_PASSAGES]).replace(",", "")
        found = {n for n in figures if re.search(rf"(?<!\d){n}(?!\d)", shown)}
        found |= figures & short_years(shown)  # "'23" in a table's header is 2023
        features = AnswerabilityFeatures(
            coverage=coverage, context_coverage=context_coverage, line_share=line_share,
            unseen=unseen, similarity=max(similarity, 0.0),
            cross_lingual=float(bool(other_language) and other_language[0]),
            top_score=passages[0].score if passages else 0.0,
            typed=float(answer_type(question) is not AnswerType.NONE),
            short_answer=float(lead is not None),
            numbers_found=len(found) / len(figures) if figures else 1.0)
        # a code the question names that no passage prints and the knowledge base never
        # saw, a version of which they print only others, a month they do not print (or
        # the short answer's page does not), a Korean owner no chunk names: the documents
        # are about other precincts, models, editions, months, companies
        shown = "\n".join(f"{item.passage.text}\n{item.context}" for item in evidence.items)
        elsewhere = (_unprinted_codes(asked, evidence, self.tokenizer.tokens)
                     or _other_versions(asked, shown) or _other_months(asked, evidence, lead)
                     or self._unknown_owner(asked, evidence, held, shown))
        # no short answer, and the quotes would hold no quantity or name no cost's object
        unanswered = (self._unquantified(asked, passages, candidates, lead)
                      or self._unfocused(asked, evidence, lead, held))
        return _Assessment(idf, candidates, lead, features,
                           not_stated or elsewhere or unanswered)

    def _unknown_owner(self, question: str, evidence: Evidence, held: frozenset[str],
                       shown: str) -> bool:
        """Whether a Korean question asks about a name in the possessive that no chunk of
        the knowledge base holds ("SK하이닉스의 ... 재고자산" over Samsung's statements): the
        documents are about others. The name is Kiwi's proper noun before 의; a word a
        passage holds by its translation is held, and a name a passage prints (`shown`:
        the passages and their contexts) is held however its words are analysed there
        ("메탈리카" may be two morphemes in a sentence)."""
        if "의" not in question:  # no possessive: the question is not analysed again
            return False
        morphemes = self.tokenizer.morphemes(question)
        return any(
            name[1] == "NNP" and after[:2] == ("의", "JKG") and name[0] not in shown and all(
                not evidence.terms.frequencies.get(t) and t not in held
                for t in self.tokenizer.tokens(name[0]))
            for name, after in itertools.pairwise(morphemes))

    def _unfocused(self, question: str, evidence: Evidence, lead: _Lead | None,
                   held: frozenset[str]) -> bool:
        """Whether the question asks how much something costs (`qa_service.answer.short.
        asks_cost`, `asks_quantity`), no short answer was found, and what it asks the cost
        of (its focus, `qa_service.answer.focus`: "shipping" of "How much did Kraxi charge
        for shipping on invoice 2020-10?") is in no passage, by none of its words nor their
        translations (`held`): the invoice has no shipping line. (Not for any question of
        a type: the focus of "이름은?", "What year ...?" names what the answer is, and the
        passage that answers need not print it; nor for one that names a fee and asks
        something else: "What is the name of the scheme that provides fee assistance?")"""
        if lead is not None or not asks_cost(question) or not asks_quantity(question):
            return False
        focus = frozenset(evidence.spellings.get(t, t) for t in self.tokenizer.tokens(
            question_focus(question, self.tokenizer)))
        return bool(focus) and not focus & held

    def _unquantified(self, question: str, passages: Sequence[Passage],
                      candidates: list[_Candidate], lead: _Lead | None) -> bool:
        """Whether the question asks how many or how much and no sentence the answer
        would quote states a quantity (`qa_service.answer.short.states_quantity`: the
        pool's "입장료 별도." for its admission fee)."""
        if lead is not None or not candidates or not asks_quantity(question):
            return False
        quoted = _pieces(candidates, None)[:self.settings.max_sentences]
        return not any(states_quantity(question, passages[p].text, start, end)
                       for p, start, end in quoted)

    def ranked_sentences(self, evidence: Evidence) -> list[tuple[int, int, int]]:
        """The passages' sentences best first, as (passage rank, start, end) in its text:
        the short answer's line and its table header first, then by score (what an LLM is
        shown when not every sentence fits its context)."""
        assessed = self._assess(evidence)
        ranked: list[tuple[int, int, int]] = []
        if (lead := assessed.lead) is not None:
            ranked.append((lead.passage, lead.line_start, lead.line_end))
            if lead.header is not None:
                ranked.append((lead.passage, *lead.header))
        ordered = sorted(assessed.candidates, key=lambda c: (-c.score, c.passage, c.start))
        return ranked + [(c.passage, c.start, c.end) for c in ordered]

    def stream(self, evidence: Evidence) -> Iterator[str | Answer]:
        """The finished answer's whole text as one piece, then the answer."""
        answer = self.answer(evidence)
        yield answer.answer
        yield answer

    def close(self) -> None:
        """Nothing to release: no connections, no files."""

    # --- candidates ------------------------------------------------------------------

    def _candidates(self, evidence: Evidence, items: ItemNames) -> list[_Candidate]:
        candidates: list[_Candidate] = []
        seen: set[tuple[str, int, int]] = set()  # overlapping chunks repeat a sentence
        meaning = _meanings(evidence)
        for rank, item in enumerate(evidence.items):
            passage, spans = item.passage, list(item.sentences)
            tokens = self._sentence_tokens(passage, spans)
            similarities = (item.vectors @ evidence.query_vector if item.vectors is not None
                            else np.zeros(len(spans)))
            for (start, end), words, similarity in zip(spans, tokens, similarities,
                                                       strict=True):
                key = (passage.document_id, passage.page, passage.char_start + start)
                if key in seen:
                    continue
                seen.add(key)
                held = _meant(words, meaning)
                if items.words:
                    held |= items.shared_words(passage.text[start:end])
                candidates.append(_Candidate(
                    passage=rank, start=start, end=end, tokens=held,
                    bigrams=frozenset(itertools.pairwise(words)),
                    similarity=float(similarity)))
        return candidates

    def _context_tokens(self, chunk_id: int, context: str) -> frozenset[str]:
        """The words of a chunk's context that say where it is (its document's identity,
        its section), without the names of the statement it is part of: those name what
        its rows report ("liabilities" on a balance sheet), as the question does."""
        return self._cached(self._contexts, chunk_id,
                            lambda: frozenset(self.tokenizer.tokens(_without_names(context))))

    def _sentence_tokens(self, passage: Passage, spans: list[tuple[int, int]]
                         ) -> list[list[str]]:
        return self._cached(
            self._tokens, passage.chunk_id,
            lambda: [self.tokenizer.tokens(passage.text[a:b]) for a, b in spans],
            lambda cached: len(cached) == len(spans))

    def _cached(self, cache: OrderedDict[int, _T], chunk_id: int, make: Callable[[], _T],
                fits: Callable[[_T], bool] = lambda _cached: True) -> _T:
        """A chunk's tokens from `cache` (least recently used out past
        `TOKEN_CACHE_CHUNKS`), made by `make` when missing or when `fits` says no."""
        with self._lock:
            cached = cache.get(chunk_id)
            if cached is not None and fits(cached):
                cache.move_to_end(chunk_id)
                return cached
        made = make()
        with self._lock:
            cache[chunk_id] = made
            while len(cache) > TOKEN_CACHE_CHUNKS:
                cache.popitem(last=False)
        return made

    def _score(self, question: str, idf: dict[str, float], pairs: set[tuple[str, str]],
               candidates: list[_Candidate], passages: Sequence[Passage],
               contexts: Sequence[frozenset[str]], other_language: Sequence[bool],
               translated: bool = False, located: frozenset[str] = frozenset()
               ) -> tuple[float, float, float]:
        """Score every candidate; return the best coverage (without, then with its
        passage's context: `contexts`, by passage rank) and the best similarity.
        `other_language`: by passage rank, whether it is in another language than the
        question.

        `idf`: the question's distinct content tokens, in order, with their IDF. A sentence
        in another language than the question (Korean/English) shares no words with it:
        its vector's similarity stands for its words (`cross_lingual_similarity`)."""
        if not candidates:
            return 0.0, 0.0, 0.0
        similarity = max(c.similarity for c in candidates)
        if not idf:
            return 0.0, 0.0, similarity
        with_context = 0.0
        question_tokens = list(idf)
        count = len(candidates)
        spread = {t: sum(1 for c in candidates if t in c.tokens) for t in question_tokens}
        local = {t: idf[t] * math.log(1 + count / (1 + spread[t])) for t in question_tokens}
        total_idf, total_local = math.fsum(idf.values()) or 1.0, math.fsum(local.values()) or 1.0
        wants_date = _DATE_QUESTION.search(question) is not None
        wants_number = not wants_date and _NUMBER_QUESTION.search(question) is not None
        w = self.weights
        for i, c in enumerate(candidates):
            if other_language[c.passage] and not translated:
                c.score = (w.cross_lingual_similarity * c.similarity
                           + w.passage_score * passages[c.passage].score
                           + w.passage_rank * c.passage)
                continue
            neighbours = [n for n in candidates[max(0, i - 1):i + 2] if n.passage == c.passage]
            neighbourhood = frozenset().union(*(n.tokens for n in neighbours))
            before = c.tokens | (candidates[i - 1].tokens
                                 if i > 0 and candidates[i - 1].passage == c.passage
                                 else frozenset())
            c.window_overlap = math.fsum(idf[t] for t in neighbourhood if t in idf) / total_idf
            known = contexts[c.passage] if c.passage < len(contexts) else frozenset()
            with_context = max(with_context, math.fsum(
                idf[t] for t in neighbourhood | known if t in idf) / total_idf)
            text = passages[c.passage].text[c.start:c.end]
            typed = ((wants_date and _DATE.search(text) is not None)
                     or (wants_number and _NUMBER.search(text) is not None))
            # a word its passage's context holds counts `context_words` in every overlap
            where = {t: w.context_words if t in known else w.located_words if t in located
                     else 1.0 for t in idf}
            c.score = (
                w.local_overlap * math.fsum(local[t] * where[t] for t in c.tokens if t in local)
                / total_local
                + w.window_overlap * math.fsum(idf[t] * where[t] for t in neighbourhood if t in idf)
                / total_idf
                + w.previous_overlap * math.fsum(local[t] * where[t] for t in before if t in local)
                / total_local
                + w.bigrams * (len(pairs & c.bigrams) / len(pairs) if pairs else 0.0)
                + w.answer_type * typed
                + w.similarity * c.similarity
                + (w.translated_similarity * c.similarity if other_language[c.passage] else 0.0)
                + w.passage_score * passages[c.passage].score
                + w.passage_rank * c.passage
            )
        return max(c.window_overlap for c in candidates), with_context, similarity

    def _prefer_asked_statement(self, question: str, evidence: Evidence,
                                candidates: list[_Candidate]) -> None:
        """Lift the sentences of the financial statement the question asks for (by name or
        by a line item only it reports: `qa_service.statements`), whose passage's context
        carries the statement's names: "total current liabilities" is read off the balance
        sheet, not off the note that discusses them."""
        asked = statements_asked(question)
        if not asked:
            return
        of_statement = [of_statements(item.context, asked) for item in evidence.items]
        for candidate in candidates:
            if of_statement[candidate.passage]:
                candidate.score += self.weights.asked_statement

    def _unnamed_lines(self, evidence: Evidence) -> list[float]:
        """By passage rank, 1.0 for a passage of a document the question does not name at
        all, when a passage of the document it names best carries in its context the name
        the question asks about in the possessive ("Amazon's FY2019 net income" over
        AMAZON_2019_10K); 0.0 otherwise. A document named by common words only ("invoice",
        "report"), or by a name used otherwise ("American cars" and the American
        Broadcasting Company), is no reason to pass over the others' lines: names in the
        identities of a knowledge base of loosely named files match by chance."""
        if not evidence.named:
            return [0.0] * len(evidence.items)
        proper = frozenset(self.tokenizer.tokens(" ".join(_possessors(evidence.question))))
        found = any(evidence.named.get(item.passage.document_id, 0.0) >= 1.0
                    and proper & self._context_tokens(item.passage.chunk_id, item.context)
                    for item in evidence.items)
        return [1.0 if found and item.passage.document_id not in evidence.named else 0.0
                for item in evidence.items]

    def _prefer_named_documents(self, evidence: Evidence, candidates: list[_Candidate],
                                undated: Sequence[float]) -> None:
        """When the question names documents ("Kraxi Systems 인보이스 ..."), the sentences
        of the others lose `unnamed_document` (scaled by how much less they are named):
        another invoice's "청구 금액" does not answer for Kraxi's. So do those of a
        document that does not print the date the question names when another does
        (`undated`: `_undated`)."""
        unnamed = _unnamed(evidence)
        for candidate in candidates:
            candidate.score -= self.weights.unnamed_document * max(
                unnamed[candidate.passage], undated[candidate.passage])

    # --- the answer ------------------------------------------------------------------

    def _short_answer(self, evidence: Evidence, idf: dict[str, float],
                      candidates: list[_Candidate], undated: Sequence[float],
                      contexts: Sequence[frozenset[str]],
                      other_language: Sequence[bool], items: ItemNames
                      ) -> tuple[_Lead | None, float, bool]:
        """The short answer (`qa_service.answer.short`) in the lines of the best sentences
        that hold most of the question's weight, with the line it was read from; the best
        line's share of the question's weight; and whether the documents do not state it:
        the heaviest table row among the lines it reads has the column the question names
        printed empty (`qa_service.answer.short.empty_column`; no lighter line answers
        then), or columns of other periods than the one the question names and no line
        gives a short answer (`qa_service.answer.short.other_periods`: 2022's and 2021's
        for "2019년 말"). A line holds the question's words for the line items it names
        otherwise (`items`)."""
        question, passages = evidence.question, evidence.passages
        cache: dict[str, frozenset[str]] = {}

        meaning = _meanings(evidence)

        def words(text: str) -> frozenset[str]:
            if text not in cache:
                cache[text] = (_meant(self.tokenizer.tokens(text), meaning)
                               | items.shared_words(text))
            return cache[text]

        def matched(text: str) -> float:
            return math.fsum(idf.get(t, 0.0) for t in words(text))

        focus = {t: idf.get(t, 0.0) for t in self.tokenizer.tokens(
            question_focus(question, self.tokenizer))}
        lines, best = self._weighed_lines(evidence, idf, focus, candidates, undated,
                                          contexts, words, other_language)
        kind = answer_type(question)
        cost = kind is AnswerType.MONEY and asks_cost(question)
        uncurrencied: _Lead | None = None  # an amount that names no currency, for a cost
        fiscal = _fiscal_years(passages)
        # the question's words in the other language may name a table's column
        translated = frozenset(w for words in evidence.translations.values() for w in words)
        empty, other_period = _heaviest_row_lacks(question, passages, lines, fiscal, matched,
                                                  translated)
        if empty:
            return None, best, True
        for weight, passage, start, end, sentence in lines:
            if weight < LEAD_MIN_WEIGHT or (weight < LEAD_LINE_SHARE * lines[0][0]
                                            and uncurrencied is None):
                break
            text = passages[passage].text
            lead = _lead_at(question, text, passage, (start, end), sentence, matched, kind,
                            other_language[passage], fiscal[passages[passage].document_id],
                            translated)
            if lead is None:
                continue
            if cost and _in_prose_without_currency(text, lead):
                # "2.1 million" (tokens) for "how much does it cost": a lighter line of
                # prose that names the currency ("... is merely USD 5.80") answers if there
                # is one (a table's amounts seldom name theirs: they replace nothing)
                uncurrencied = uncurrencied or lead
                continue
            if uncurrencied is not None and is_table_row(text, lead.line_start, lead.line_end):
                continue
            return lead, best, False
        # (no line heavy enough gave one: what the question counts, in a lighter line)
        uncurrencied = uncurrencied or _counted_lead(question, passages, candidates, matched,
                                                     other_language, fiscal)
        return uncurrencied, best, other_period and uncurrencied is None

    def _weighed_lines(self, evidence: Evidence, idf: dict[str, float],
                       focus: dict[str, float], candidates: list[_Candidate],
                       undated: Sequence[float], contexts: Sequence[frozenset[str]],
                       words: Callable[[str], frozenset[str]], other_language: Sequence[bool]
                       ) -> tuple[list[_Line], float]:
        """The lines of the best sentences (and each of them that is prose wrapped over
        lines, whole: `_wrapped`) as (weight, passage, start, end, the sentence's span),
        heaviest first, and the best line's (not a whole sentence's) share of the IDF
        weight of the question's words that its passage can hold (`_readable`). A line's
        weight is its share of the weight of the question's words that its passage's
        context does not hold; plus, for a table row, a label stacked above its value
        (`qa_service.answer.short.stacked_value`) or before it and a colon
        (`_colon_label`), `FOCUS_WEIGHT` times its share of the
        focus's (`qa_service.answer.focus`: what the question asks for, such as the row
        label 소비세, where the rest of its words name the document); less
        `LEAD_RANK_STEP` per rank of its sentence, and less `unnamed_document` for a line
        of a document the question does not name when it names another by the name it puts
        in the possessive (`_unnamed_lines`), or that does not print the date the question
        names when another does (`undated`). A line in the other language than the
        question shares no words with it: it weighs its vector's similarity to the
        question's (embedded now, when the evidence can). `contexts`: each passage's
        context tokens, by rank."""
        passages = evidence.passages
        total = math.fsum(idf.values()) or 1.0
        focus_total = math.fsum(focus.values())
        # the question's words that a passage's context (its document's identity and
        # section) holds say which document, not which line (unless it holds them all)
        located = [frozenset(t for t in idf if t in context) for context in contexts]
        located = [named if len(named) < len(idf) else frozenset() for named in located]
        # an English passage can hold only a Korean question's names and figures
        readable = [_readable(idf, is_korean(evidence.question), other,
                              evidence.translations)
                    for other in other_language]
        readable_totals = [math.fsum(weights.values()) or total for weights in readable]
        rest = [math.fsum(w for t, w in readable[rank].items() if t not in named)
                or readable_totals[rank] for rank, named in enumerate(located)]
        unnamed = [self.weights.unnamed_document * max(u, d)
                   for u, d in zip(self._unnamed_lines(evidence), undated, strict=True)]

        def own(passage: int, held: frozenset[str]) -> float:
            """A line's share of the question's words its passage can hold and its
            passage's context does not."""
            return math.fsum(readable[passage].get(t, 0.0)
                             for t in held - located[passage]) / rest[passage]

        def focused(held: frozenset[str]) -> float:
            """A line's share of the question's focus."""
            return math.fsum(w for t, w in focus.items() if t in held) / focus_total

        lines: list[_Line] = []
        foreign: list[tuple[int, _Line]] = []  # (rank, line weighed 0)
        best = 0.0
        for rank, c in enumerate(sorted(candidates, key=lambda c: -c.score)[:LEAD_SENTENCES]):
            text = passages[c.passage].text
            other = other_language[c.passage]
            sentence_lines = lines_of(text, c.start, c.end)
            for start, end in sentence_lines:
                held = words(text[start:end])
                share = math.fsum(idf.get(t, 0.0) for t in held) / total
                best = max(best, math.fsum(readable[c.passage].get(t, 0.0) for t in held)
                           / readable_totals[c.passage])
                headed = held | _headings(text, (start, end), words)
                row = is_table_row(text, start, end)
                labels = (_named(text, (start, end), words, focused, focus, headed)
                          if focus_total and _labels_a_value(text, (start, end), row)
                          else 0.0)
                # a whole table row loses weight by its passage's rank when that is lower
                # than its sentence's: on a table page each row is a sentence, ranked by
                # its neighbours' words too
                step = (min(rank, c.passage) if row and _whole_line(text, start, end)
                        else rank)
                line = (own(c.passage, headed) + FOCUS_WEIGHT * labels
                        - LEAD_RANK_STEP * step - unnamed[c.passage], c.passage, start, end,
                        (c.start, c.end))
                if other and share == 0:
                    foreign.append((rank, line))
                else:
                    lines.append(line)
            if not other and _wrapped(text, sentence_lines):
                # a sentence of prose wrapped over lines also counts as one line: the
                # question's words may lie on every line but the one with the fact (its
                # share is no line's: `best` stays the answerability's line share)
                held = words(text[c.start:c.end])
                lines.append((own(c.passage, held) - LEAD_RANK_STEP * rank
                              - unnamed[c.passage], c.passage, c.start, c.end,
                              (c.start, c.end)))
        if focus_total:
            lines.extend(self._focused_rows(evidence, words, own, focused, focus, unnamed))
        if foreign and evidence.encode is not None:
            foreign = foreign[:CROSS_LINGUAL_LINES]
            vectors = evidence.encode([passages[line[1]].text[line[2]:line[3]]
                                       for _, line in foreign])
            for (rank, line), similarity in zip(foreign, vectors @ evidence.query_vector,
                                                strict=True):
                weight = (CROSS_LINGUAL_LINE_WEIGHT * float(similarity) - LEAD_RANK_STEP * rank
                          - unnamed[line[1]])
                lines.append((weight, *line[1:]))
        lines.sort(key=lambda line: -line[0])
        return lines, best

    @staticmethod
    def _focused_rows(evidence: Evidence, words: Callable[[str], frozenset[str]],
                      own: Callable[[int, frozenset[str]], float],
                      focused: Callable[[frozenset[str]], float],
                      focus: Mapping[str, float], unnamed: Sequence[float]) -> list[_Line]:
        """The table rows of the first `TABLE_PASSAGES` passages whose cells hold at least
        `TABLE_FOCUS_SHARE` of the question's focus, weighed as `_weighed_lines` weighs a
        row (`own`, `_named`), less `LEAD_RANK_STEP` per rank of its passage (not of its
        sentence: on a table page every row is a sentence, and the rows that hold the
        question's period or the statement's title outrank the one it asks for)."""
        rows: list[_Line] = []
        for rank, item in enumerate(evidence.items[:TABLE_PASSAGES]):
            text = item.passage.text
            for start, end in lines_of(text, 0, len(text)):
                if not is_table_row(text, start, end):
                    continue
                held = words(text[start:end])
                if not focused(held):
                    continue
                held |= _headings(text, (start, end), words)
                if focused(held) < TABLE_FOCUS_SHARE:
                    continue
                rows.append((own(rank, held)
                             + FOCUS_WEIGHT * _named(text, (start, end), words, focused, focus,
                                                     held)
                             - LEAD_RANK_STEP * rank - unnamed[rank],
                             rank, start, end, (start, end)))
        return rows

    def _compose(self, weights: dict[str, float], candidates: list[_Candidate],
                 passages: Sequence[Passage], lead: _Lead | None, shown: bool = True
                 ) -> tuple[str, list[Citation], ShortAnswer | None]:
        """The answer text: the short answer (when there is one, and it is `shown`) on its
        own line, then the quotes: the line it was read from first, then the best
        sentences."""
        head = (passages[lead.passage].text[lead.span_start:lead.span_end]
                if lead and shown else "")
        pieces = _pieces(candidates, lead)
        prefix_chars = len(head) + len(LEAD_SEPARATOR) if head else 0
        budget = self.settings.max_chars - prefix_chars
        parts: list[str] = []
        citations: list[Citation] = []
        short: ShortAnswer | None = None
        for number, (index, first, last) in enumerate(pieces):
            if len(citations) >= self.settings.max_sentences:
                break
            separator = 1 if parts else 0
            used = len(" ".join(parts))
            room = budget - used - separator
            passage = passages[index]
            start, end = first, last
            if end - start > room:
                if room < MIN_QUOTE_CHARS + 2 * len(ELLIPSIS):
                    break
                size = room - 2 * len(ELLIPSIS)
                start, end = (_around(passage.text, first, last, lead.span_start,
                                      lead.span_end, size)
                              if number == 0 and lead is not None
                              else self._window(passage.text, start, end, size, weights))
            quote = passage.text[start:end]
            prefix = ELLIPSIS if start > first else ""
            suffix = ELLIPSIS if end < last else ""
            offset = prefix_chars + used + separator + len(prefix)
            parts.append(prefix + quote.translate(ONE_LINE) + suffix)
            citations.append(Citation.quoting(len(citations) + 1, passage, start, end, offset))
            if number == 0 and lead is not None and shown:
                short = ShortAnswer(head, 1, lead.span_start - start, lead.span_end - start)
        text = " ".join(parts)
        if short is None:
            return text, citations, None
        return short.shown + LEAD_SEPARATOR + text, citations, short

    def _window(self, text: str, start: int, end: int, size: int,
                weights: dict[str, float]) -> tuple[int, int]:
        """The span of at most `size` characters, on word boundaries within
        `text[start:end]`, holding the most question weight, with the matched words
        as central as possible (the answer is usually next to them, on either side)."""
        words = [(m.start(), m.end(),
                  math.fsum(weights.get(t, 0.0) for t in set(self.tokenizer.tokens(m.group()))))
                 for m in _WORD.finditer(text, start, end)]
        best, best_key = (start, min(end, start + size)), (-1.0, -1)
        for i, (first, _, _) in enumerate(words):
            mass, last, matched = 0.0, None, []
            for word_start, word_end, weight in words[i:]:
                if word_end - first > size:
                    break
                mass, last = mass + weight, word_end
                if weight > 0:
                    matched.append((word_start, word_end))
            if last is None:
                continue
            margin = (min(matched[0][0] - first, last - matched[-1][1]) if matched else 0)
            key = (round(mass, 9), margin)
            if key > best_key:
                best, best_key = (first, last), key
        return best


def _without_names(context: str) -> str:
    """A chunk's context without the names of the statements it belongs to (see
    `_context_tokens`)."""
    for statement in STATEMENTS:
        context = context.replace(statement.names, " ")
    return context


# a name the question makes the owner of what it asks: "Amazon's", "Best Buy's",
# "Samsung Electronics'", "Data Analytics Co.'s" (not "American cars")
_POSSESSOR = re.compile(r"\b((?:[A-Z][\w&.-]*\s+){0,3}[A-Z][\w&.-]*?)"
                        r"(?:['\u2019]s|(?<=s)['\u2019])(?!\w)")


def _possessors(question: str) -> list[str]:
    """The capitalized names of `question` in the possessive: whose figures it asks."""
    return [m.group(1) for m in _POSSESSOR.finditer(question)]


def _unprinted_codes(asked: str, evidence: Evidence,
                     tokens: Callable[[str], list[str]]) -> bool:
    """Whether the question names a code (`qa_service.codes`: "precinct 0050004A", the
    "V15" vacuum) that no passage (nor its context) prints and that has a word no chunk
    of the knowledge base holds (as typed: the word one typing slip away, "0050003a",
    is another precinct); a code printed on a page not retrieved ("CWE-193") is not."""
    return any(
        not any(printed(code, f"{item.passage.text} {item.context}") for item in evidence.items)
        and any(not evidence.terms.frequencies.get(t) for t in tokens(code))
        for code in asked_codes(asked))


def _other_versions(asked: str, shown: str) -> bool:
    """Whether the question names a version (`qa_service.codes.asked_versions`: "Edition
    2.0") of which the passages and their contexts (`shown`) print only others ("Edition
    1.0")."""
    return any(version.other_in(shown) for version in asked_versions(asked))


def _other_months(asked: str, evidence: Evidence, lead: _Lead | None) -> bool:
    """Whether the question asks for a figure (an amount, a count, a rate) of a month of a
    year ("in April 2018") that no passage (nor its context) prints in any form
    (`qa_service.dates.AskedMonth`): the rate sheet of April 2019 does not give April
    2018's rates. (Prose says "같은 해 4월", "in April of that year": a question of another
    kind about a month is not declined for it.) Or whether the short answer (`lead`) is a
    table's figure and its page prints no month the question names ("Korea routes in
    November 2015", read from the route table of December 2015's page, where the monthly
    totals' page prints Nov-2015): a table's figures are its page's period's; a sentence
    of prose says its own."""
    months = asked_months(asked)
    if not months:
        return False

    def prints(item: PassageEvidence, month: AskedMonth) -> bool:
        return month.found_in(item.passage.text) or month.found_in(item.context)

    if answer_type(asked) in QUANTITIES and any(
            not any(prints(item, month) for item in evidence.items) for month in months):
        return True
    if lead is None:
        return False
    item = evidence.items[lead.passage]
    return is_table_row(item.passage.text, lead.line_start, lead.line_end) and any(
        not prints(item, month) for month in months)


def _undated(evidence: Evidence) -> list[float]:
    """By passage rank, 1.0 for a passage of a document that prints none of the dates the
    question names (`qa_service.dates`) in its passages or their context, when another
    document's does; 0.0 otherwise."""
    dates = asked_dates(evidence.question)
    dated = {item.passage.document_id for item in evidence.items
             if any(date.found_in(item.passage.text) or date.found_in(item.context)
                    for date in dates)} if dates else set()
    return [0.0 if not dated or item.passage.document_id in dated else 1.0
            for item in evidence.items]


def _unnamed(evidence: Evidence) -> list[float]:
    """By passage rank, how much less than the best its document is named by the question
    (`Evidence.named`; 0 for all when it names none)."""
    if not evidence.named:
        return [0.0] * len(evidence.items)
    return [1.0 - evidence.named.get(item.passage.document_id, 0.0) for item in evidence.items]


def _meanings(evidence: Evidence) -> dict[str, tuple[str, ...]]:
    """Each translation of the question's words (`Evidence.translations`) -> the words."""
    meaning: dict[str, tuple[str, ...]] = {}
    for word, translations in evidence.translations.items():
        for term in translations:
            meaning[term] = (*meaning.get(term, ()), word)
    return meaning


def _meant(tokens: Iterable[str], meaning: dict[str, tuple[str, ...]]) -> frozenset[str]:
    """`tokens` with the parts of Korean compound labels (개발비 -> 개발, 비용:
    `qa_service.glossary.compound_parts`) and the question's words their translations
    stand for."""
    held = set(tokens)
    for token in list(held):
        held.update(compound_parts(token))
    for token in list(held):
        held.update(meaning.get(token, ()))
    return frozenset(held)


def _readable(idf: dict[str, float], korean_question: bool, other_language: bool,
              translations: Mapping[str, tuple[str, ...]] | None = None
              ) -> dict[str, float]:
    """The question's words (with their weights) that a passage can hold: a Korean
    question's words without Hangul (names, terms, figures) when the passage is in
    English; all of them otherwise (an English question's words in a Korean passage are
    names and figures too, but which ones cannot be told from the word)."""
    if not (korean_question and other_language):
        return idf
    readable = {t: w for t, w in idf.items() if not has_hangul(t) or t in (translations or {})}
    # figures alone (a year) do not tie a Korean question to an English passage
    return readable if any(not t.isdigit() for t in readable) else idf


def _named(text: str, line: tuple[int, int], words: Callable[[str], frozenset[str]],
           focused: Callable[[frozenset[str]], float], focus: Mapping[str, float],
           held: frozenset[str]) -> float:
    """How much a row (or a stacked label) is the one the question's focus names: the
    share of the focus its words and headings (`held`) hold (`focused`), up to
    `LABEL_EXTRA_WORDS` less when its label (a row's first cell) also holds other words
    ("Other income (expense), net" for "net income")."""
    label = words(text[slice(*(_colon_label(text, line) or table_cells(text, *line)[0]))])
    exact = len(label & focus.keys()) / len(label) if label else 1.0
    return focused(held) * (1.0 - LABEL_EXTRA_WORDS * (1.0 - exact))


def _headings(text: str, line: tuple[int, int],
              words: Callable[[str], frozenset[str]]) -> frozenset[str]:
    """The words of the column header and the caption of a row laid out with spaces
    (`qa_service.answer.short.row_headings`); none for any other line, a row of a table
    the parser found (cells joined by ` | `) included: weighing those by their headers
    lost answers (README "Real documents: the answers")."""
    if CELL_SEPARATOR in text[line[0]:line[1]] or not is_table_row(text, *line):
        return frozenset()
    return frozenset().union(*(words(text[a:b]) for a, b in row_headings(text, line)))


def _wrapped(text: str, lines: Sequence[tuple[int, int]]) -> bool:
    """Whether `lines` (a sentence's) are prose wrapped over lines: two or more, no table
    row among them, not all of them a form's "Label: value" lines,
    `WRAPPED_SENTENCE_CHARS` at most."""
    return (len(lines) >= 2 and lines[-1][1] - lines[0][0] <= WRAPPED_SENTENCE_CHARS
            and not any(is_table_row(text, *line) for line in lines)
            and not all(_colon_label(text, line) is not None for line in lines))


def _labels_a_value(text: str, line: tuple[int, int], row: bool) -> bool:
    """Whether the line labels a value: a table row (`row`: `is_table_row`), a label
    stacked above its value, or a label before a colon (`_colon_label`)."""
    return row or stacked_value(text, line) is not None or _colon_label(text, line) is not None


def _colon_label(text: str, line: tuple[int, int]) -> tuple[int, int] | None:
    """The span of a form's label before a colon (or a full-width one) and its value on
    the same line ("Invoice date: 31 Oct 2023", "발행일: 2023년 10월 31일"), or None."""
    found = _COLON_LABEL.match(text, line[0], line[1])
    return found.span(1) if found is not None else None


def _fiscal_years(passages: Sequence[Passage]) -> dict[str, dict[str, str]]:
    """By document, the years its fiscal periods end in as any of its passages says them
    (`fiscal_years`): the balance sheet's second page continues the first's "제 54 기 :
    2022년 12월 31일 현재"."""
    found: dict[str, dict[str, str]] = {}
    for passage in passages:
        found.setdefault(passage.document_id, {}).update(fiscal_years(passage.text))
    return found


def _heaviest_row_lacks(question: str, passages: Sequence[Passage], lines: Sequence[_Line],
                        fiscal: Mapping[str, Mapping[str, str]],
                        matched: Callable[[str], float], translated: frozenset[str]
                        ) -> tuple[bool, bool]:
    """Of the heaviest table row among the lines the short answer is read from: whether
    the column the question names is empty in it (`empty_column`) while its label holds
    as much of the question's weight (`matched`) as any other row's read (it is the row
    the question names: "GPT-o1", not the row its focus word "target" put first), and
    whether its columns are of other periods than the one the question names
    (`other_periods`); the row's headers read once (`row_lacks`)."""
    read = max(LEAD_MIN_WEIGHT, LEAD_LINE_SHARE * lines[0][0]) if lines else 0.0
    rows = [line for line in lines if line[0] >= read
            and is_table_row(passages[line[1]].text, line[2], line[3])]
    if not rows:
        return False, False
    row = rows[0]
    text, years = passages[row[1]].text, fiscal[passages[row[1]].document_id]

    def label(line: _Line) -> float:
        cells = table_cells(passages[line[1]].text, line[2], line[3])
        return matched(passages[line[1]].text[cells[0][0]:cells[0][1]])

    empty, other_period = row_lacks(question, text, row[2], years, translated)
    return empty and label(row) >= max(map(label, rows)), other_period


def _lead_at(question: str, text: str, passage: int, line: tuple[int, int],
             sentence: tuple[int, int], matched: Callable[[str], float], kind: AnswerType,
             other_language: bool, fiscal: Mapping[str, str],
             translated: frozenset[str] = frozenset()) -> _Lead | None:
    """The short answer read from the line `text[line[0]:line[1]]` of passage `passage` (a
    line of its sentence `sentence`), with what it is quoted with, or None: a table cell
    with its row (and the row's column header), the value stacked below a label with the
    block of labels and values, a typed span with its sentence. `fiscal`: the years its
    document's fiscal periods end in (`qa_service.answer.short.fiscal_years`);
    `translated`: the question's words in the other language (a column's name)."""
    start, end = line
    foreign = other_language and matched(text[start:end]) == 0
    span = short_span(question, text, line, matched, kind, anchored=not foreign,
                      fiscal=fiscal, translated=translated)
    if span is None and kind is not AnswerType.NAME:
        stacked = stacked_value(text, line)  # "배터리 보증기간" ... "2 년"
        if stacked is not None:
            return _Lead(passage, stacked[2], stacked[3], stacked[0], stacked[1])
    if span is None and sentence != line and sentence[1] - sentence[0] <= SHORT_SENTENCE_CHARS:
        # the fact on the next line of a short sentence ("April 6, 2016\n7:30 a.m.")
        span = short_span(question, text, sentence, matched, kind, anchored=not foreign,
                          fiscal=fiscal, translated=translated)
        span = span if span is not None and not span.table else None
    if span is None:
        return None
    # quoted with its table row (and column header), or with its whole sentence
    first, last = line if span.table else sentence
    header = column_header(text, line) if span.table else None
    return _Lead(passage, first, last, span.start, span.end, header)


def _counted_lead(question: str, passages: Sequence[Passage], candidates: list[_Candidate],
                  matched: Callable[[str], float], other_language: Sequence[bool],
                  fiscal: Mapping[str, Mapping[str, str]]) -> _Lead | None:
    """When no line heavy enough gave a short answer: what the question counts, counted in
    one of the best sentences, best first ("This proposed AD affects 73 airplanes of U.S.
    registry." for "How many U.S.-registered airplanes ...?"), or None."""
    if answer_type(question) is not AnswerType.COUNT:
        return None
    for c in sorted(candidates, key=lambda c: -c.score)[:LEAD_SENTENCES]:
        text = passages[c.passage].text
        lead = _lead_at(question, text, c.passage, (c.start, c.end), (c.start, c.end),
                        matched, AnswerType.COUNT, other_language[c.passage],
                        fiscal[passages[c.passage].document_id])
        if lead is not None and of_counted(question, text[lead.span_start:lead.span_end]):
            return lead
    return None


def _in_prose_without_currency(text: str, lead: _Lead) -> bool:
    """Whether the short answer is an amount in prose that names no currency."""
    return (lead.header is None and not is_table_row(text, lead.line_start, lead.line_end)
            and not in_currency(text[lead.span_start:lead.span_end]))


def _whole_line(text: str, start: int, end: int) -> bool:
    """Whether `text[start:end]` is a whole line, not one cut by its sentence's bounds
    (such as the row after "8. ")."""
    return (start == 0 or text[start - 1] == "\n") and (end == len(text) or text[end] == "\n")


def _parts_only(tokens: list[str]) -> list[str]:
    """`tokens` without a compound the tokenizer also gives in parts ("fy2017" before "fy",
    "2017"; "q22023" before "q2", "2023"): a page that says "2017" under "Fiscal Year" holds
    what the question asks, and the rare compound would outweigh all its other words."""
    kept = []
    for i, token in enumerate(tokens):
        parts = itertools.accumulate(tokens[i + 1:i + 4])
        if not (_COMPOUND.search(token) and token in parts):
            kept.append(token)
    return kept


def _around(text: str, start: int, end: int, span_start: int, span_end: int, size: int
            ) -> tuple[int, int]:
    """At most `size` characters of `text[start:end]` around `text[span_start:span_end]`,
    cut at spaces where it can."""
    if span_end - span_start >= size:
        return span_start, span_end
    left = max(start, min(span_start - (size - (span_end - span_start)) // 2, end - size))
    right = min(end, left + size)
    space = text.find(" ", left, span_start)
    if space >= 0:
        left = space + 1
    space = text.rfind(" ", span_end, right)
    if space >= 0 and right < end:
        right = space
    return left, right


def _pieces(candidates: list[_Candidate], lead: _Lead | None) -> list[tuple[int, int, int]]:
    """What an answer quotes, in order, as (passage, start, end): the short answer's line
    or sentence (and a table row's header), then the best sentences that do not overlap
    them."""
    pieces: list[tuple[int, int, int]] = []
    if lead is not None:
        pieces.append((lead.passage, lead.line_start, lead.line_end))
        if lead.header is not None:  # a table row is quoted with its header
            pieces.append((lead.passage, *lead.header))
    quoted = list(pieces)
    for c in sorted(candidates, key=lambda c: -c.score):
        if not any(c.passage == p and c.start < end and start < c.end
                   for p, start, end in quoted):
            pieces.append((c.passage, c.start, c.end))
    return pieces
