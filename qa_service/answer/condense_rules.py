"""`RuleCondenser`: a follow-up made standalone without an LLM, from the previous question.

The previous user question (itself condensed first, so a chain of follow-ups keeps its
subject) and the follow-up are read into phrases (`qa_service.answer.phrases`). Then:

1. A follow-up that stands alone is returned unchanged: it has no anaphor ("it", "its",
   "this company", "그 회사", "그것", "해당"), opens with no cue ("and", "what about", "그럼"),
   is no fragment ("삼성은?"), and names something of its own (a name), or says
   `ALONE_KEYS` content words of which the previous question has none.
2. A follow-up that restates the previous question with a slot changed gives the previous
   question with that slot replaced (`substitute`): a year ("and in 2022?"), a quantity
   of the same unit ("4시간이면?"), a name ("what about Samsung?", "여수 엑스포역은요?":
   the previous question's last name), a noun phrase of the same head noun ("디럭스
   객실은?" for "온돌 객실"), or, for a bare fragment, the thing asked about ("유동자산은요?"
   for the topic "부채총계는"; "what about operating income?" for "Netflix's revenue")
   when the previous question asks how much, how many or what. Korean particles follow
   the new word (은/는, 이/가, 을/를, 과/와, 으로/로).
3. Otherwise (`carry`) an anaphor becomes what it points at: a pointing noun phrase ("that
   accident", "그 청구서") the previous question's phrase with the same noun, a pronoun or
   a generic one ("it", "the company", "그 회사") the previous question's first name (its
   subject); and the names, subject and date the follow-up still lacks follow in
   parentheses: "How long is the warranty? (Kraxi Systems invoice 2020-10)",
   "보증 기간은? (삼성 무선 청소기)".

Retrieval is lexical and dense, so carrying the right words matters most; the result is
shown to users, so it stays a readable question rather than a bag of words.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from qa_service.answer.phrases import Anaphor, Kind, Parsed, Phrase, parse_question
from qa_service.answer.wording import Edit, applied
from qa_service.tokens import Tokenizer

if TYPE_CHECKING:
    from qa_service.answer.conversation import Turn

__all__ = ["ALONE_KEYS", "RuleCondenser"]

CHAIN = 4  # earlier user questions condensed in turn, at most
MAX_CONTEXT = 4  # phrases carried in parentheses, at most ...
MAX_CONTEXT_CHARS = 120  # ... and characters
# a follow-up that names nothing stands alone with this many content words, none of them
# the previous question's ("부품 보유 기간은 얼마인가요?" has 3: it is about the same product)
ALONE_KEYS = 4
# a question that asks when, where or who: its predicate does not fit another attribute
_NOT_AN_AMOUNT = frozenset({"when", "where", "who", "whom", "언제", "어디", "누구"})
_DATES: tuple[Kind, ...] = ("year", "month")
_PREPOSITIONS = frozenset({"of", "for", "on", "at", "in", "with", "about", "from", "by"})


class RuleCondenser:
    """Thread-safe (the tokenizer is); no LLM, no state."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self._tokenizer = tokenizer

    def condense(self, history: Sequence[Turn], question: str) -> str:
        question = question.strip()
        earlier = [t.content.strip() for t in history
                   if t.role == "user" and t.content.strip()][-CHAIN:]
        if not earlier or not question:
            return question
        standalone = earlier[0]
        for follow_up in earlier[1:]:
            standalone = self.rewrite(standalone, follow_up)
        return self.rewrite(standalone, question)

    def content_words(self, text: str) -> frozenset[str]:
        """The words of `text`'s names and nouns (stems, Korean morphemes), without
        question words and counters ("몇 개")."""
        return parse_question(text.strip(), self._tokenizer).keys

    def names(self, text: str) -> frozenset[str]:
        """The words of `text`'s names, years, months and quantities: what a rewrite of
        it must keep."""
        parsed = parse_question(text.strip(), self._tokenizer)
        kinds: tuple[Kind, ...] = ("entity", "year", "month", "quantity")
        return frozenset(k for p in parsed.of_kind(*kinds) for k in p.keys)

    def rewrite(self, previous: str, question: str) -> str:
        """`question` made standalone given the (standalone) question before it."""
        before = parse_question(previous, self._tokenizer)
        after = parse_question(question, self._tokenizer)
        if stands_alone(after, before):
            return question
        if before.korean != after.korean:  # keep the follow-up's language; carry more
            return carry(before, after, every_run=True)
        return substitute(before, after) or carry(before, after)


def stands_alone(question: Parsed, previous: Parsed) -> bool:
    if question.anaphors or question.cue_end or question.fragment:
        return False
    if not previous.phrases or question.of_kind("entity"):
        return True
    return len(question.keys) >= ALONE_KEYS and not question.keys & previous.keys


# --- 2. the previous question with a slot replaced --------------------------------------


def substitute(previous: Parsed, question: Parsed) -> str | None:
    named = _name_swap(previous, question)
    if named is not None:
        return named
    edits: list[Edit] = []
    used: set[int] = set()
    for phrase in question.phrases:
        if phrase.keys <= previous.keys:
            continue
        target = _slot(previous, phrase, question, used)
        if target is None:
            return None
        used.add(target)
        edits.append(_edit(previous, previous.phrases[target], phrase))
    return applied(previous.text, edits, previous.korean) if edits else None


def _name_swap(previous: Parsed, question: Parsed) -> str | None:
    """"What about China?", "여수 엑스포역은요?": a fragment that is one run of words with
    a name in it takes the place of the previous question's last name that is not a
    possessor (and, when the run has other nouns too, of that name's whole run)."""
    runs = {p.run for p in question.phrases}
    if not question.fragment or question.anaphors or len(runs) != 1 \
            or not question.of_kind("entity") or question.keys <= previous.keys:
        return None
    names = [p for p in previous.of_kind("entity")
             if not previous.run_keys(p.run) <= question.keys]
    owned = [p for p in names if p.role != "possessive"]  # not "JAL Group's", "삼성전자의"
    if not names:
        return None
    target, run = (owned or names)[-1], runs.pop()
    if all(p.kind == "entity" for p in question.phrases):
        start, end = _word_span(previous, target)
    else:
        start, end = previous.runs[target.run]
    return applied(previous.text, [(start, end, question.run_text(run))], previous.korean)


def _slot(previous: Parsed, phrase: Phrase, question: Parsed, used: set[int]) -> int | None:
    """The phrase of `previous` that `phrase` of the follow-up takes the place of."""
    free = [i for i in range(len(previous.phrases)) if i not in used]
    old = previous.phrases
    if phrase.kind in ("year", "month"):
        return next((i for i in free if old[i].kind == phrase.kind), None)
    if phrase.kind == "quantity":
        return next((i for i in free if old[i].kind == "quantity" and phrase.unit
                     and old[i].unit == phrase.unit), None)
    if phrase.kind == "entity":
        names = [i for i in free if old[i].kind == "entity"]
        beside = _runs_beside(previous, question, phrase)
        return next((i for i in names if old[i].run in beside), None)
    same_head = next((i for i in free if old[i].kind == "noun" and phrase.head in old[i].keys),
                     None)
    if same_head is not None:
        return same_head
    attribute = _attribute(previous) if _asks_another_amount(previous, question) else None
    return attribute if attribute not in used else None


def _runs_beside(previous: Parsed, question: Parsed, phrase: Phrase) -> set[int]:
    """Runs of `previous` holding a phrase that the follow-up repeats in `phrase`'s run:
    "Deluxe rooms" for "Ondol rooms" replaces Ondol."""
    repeated = {k for p in question.phrases if p.run == phrase.run and p is not phrase
                for k in p.keys}
    return {p.run for p in previous.phrases if p.keys & repeated}


def _asks_another_amount(previous: Parsed, question: Parsed) -> bool:
    """A bare fragment ("유동자산은요?", "and its operating income?") with one new noun,
    after a question that asks how much, how many or what (not when, where or who) and,
    in English, has one noun phrase (which is then what it asks about)."""
    new = [p for p in question.phrases if not p.keys <= previous.keys]
    words = {w.casefold() for w in previous.text.replace("?", " ").split()}
    asked = {m for m in _NOT_AN_AMOUNT if any(w.startswith(m) for w in words)}
    pointing = any(a.head and not a.generic for a in question.anaphors)  # "그 사업의 ..."
    one_noun = previous.korean or len(previous.of_kind("noun")) == 1
    return (question.fragment and not pointing and len(new) == 1 and one_noun
            and new[0].kind == "noun" and new[0].role in ("topic", "subject", "object", "")
            and not asked)


def _attribute(previous: Parsed) -> int | None:
    """The phrase a question asks about: in Korean its topic (은/는), else its subject or
    object; in English the first noun phrase after its question word ("how many
    employees", "what was Netflix's revenue")."""
    nouns = [i for i, p in enumerate(previous.phrases)
             if p.kind == "noun" and p.role != "verbal"]
    if previous.korean:
        for role in ("topic", "subject", "object"):
            found = [i for i in nouns if previous.phrases[i].role == role]
            if found:
                return found[-1]
        return None
    after = [i for i in nouns if previous.phrases[i].start >= previous.asked_at >= 0]
    return after[0] if after else (nouns[0] if nouns else None)


def _edit(previous: Parsed, old: Phrase, new: Phrase) -> Edit:
    """A year or quantity keeps its unit and changes its number; a Korean attribute goes
    with the names before it in its run ("프리미어 객실" -> "주니어 스위트"); anything else is
    replaced whole."""
    if old.kind in ("year", "quantity") and new.kind == old.kind:
        offset = new.start
        return old.value_start, old.value_end, new.text[new.value_start - offset:
                                                        new.value_end - offset]
    start = old.start
    if previous.korean and old.kind == "noun" and new.head not in old.keys:
        same_run = [p for p in previous.phrases if p.run == old.run and p.end <= old.start]
        for phrase in reversed(same_run):
            if phrase.kind not in ("entity", "noun"):
                break
            start = phrase.start
    return start, old.end, new.text


def _word_span(previous: Parsed, name: Phrase) -> tuple[int, int]:
    """A name with the nouns written together with it (a Korean word: 여수공항)."""
    end = name.end
    for phrase in previous.phrases:
        if phrase.run == name.run and phrase.start == end and phrase.kind == "noun":
            end = phrase.end
    return name.start, end


# --- 3. the anaphor resolved, what is missing carried -----------------------------------


def carry(previous: Parsed, question: Parsed, every_run: bool = False) -> str:
    """The follow-up, its first anaphor replaced by what it points at, and what it lacks
    of the previous question in parentheses. `every_run`: the previous question is in
    another language, so its anaphor is left alone and its words only carried."""
    if not previous.phrases:
        return question.text
    edits: list[Edit] = []
    placed: set[str] = set()  # content words already in the rewritten follow-up
    if question.anaphors and not every_run:
        found = _antecedent(previous, question.anaphors[0])
        if found is not None:
            text, keys = found
            anaphor = question.anaphors[0]
            edits.append((anaphor.start, anaphor.end,
                          text + "'s" if anaphor.possessive and not question.korean else text))
            placed = set(keys)
    text = applied(question.text, edits, question.korean)[question.cue_end:].strip()
    if not text.strip(" ?.!"):
        return previous.text
    if not question.korean:
        text, opening = _english_opening(previous, text, every_run)
        placed |= opening
    context = _context(previous, question, placed)
    return f"{text} ({', '.join(context)})" if context else text


def _english_opening(previous: Parsed, text: str, foreign: bool
                     ) -> tuple[str, frozenset[str]]:
    """A capital first letter; a fragment that opens with a preposition ("of the
    stabilizer wiring change?") gets the thing the previous question asked about first
    ("Cost of the stabilizer wiring change?"). Also the content words that added."""
    first = text.split(" ", 1)[0].casefold()
    attribute = None if foreign else _attribute(previous)
    added: frozenset[str] = frozenset()
    if first in _PREPOSITIONS and attribute is not None:
        text = f"{previous.phrases[attribute].text} {text}"
        added = previous.phrases[attribute].keys
    return text[:1].upper() + text[1:], added


def _antecedent(previous: Parsed, anaphor: Anaphor) -> tuple[str, frozenset[str]] | None:
    """What an anaphor points at, and its content words: for "that accident" or "그
    청구서", the previous question's run of nouns with that noun; else, for a pronoun or a
    generic noun ("it", "the company", "그 회사"), the subject. None: keep the anaphor."""
    if anaphor.head:
        runs = [p.run for p in previous.phrases if anaphor.head in p.keys]
        if runs:
            text = previous.run_text(runs[0])
            return ("the " + text if not previous.korean else text,
                    previous.run_keys(runs[0]))
        if not anaphor.generic:
            return None
    return _subject(previous, whole=anaphor.plural)


def _subject(previous: Parsed, whole: bool = False) -> tuple[str, frozenset[str]] | None:
    """The previous question's subject, and its content words. In Korean, its first run
    of nouns ("삼성 무선 청소기", "크리에이티브 디자인 주식회사"): a Korean question names
    its topic first. In English, its first name ("Netflix"; with `whole`, for "they" and
    "them", that name's run: "NICS firearm background checks"), else its first noun
    phrase (after "of": "the capacity of the ballroom" is about the ballroom)."""
    if previous.korean:
        first = next((p for p in previous.phrases if p.kind in ("entity", "noun")), None)
        if first is None:
            return None
        return _run_words(previous, first.run), previous.run_keys(first.run)
    named = previous.of_kind("entity")
    if named:
        owners = {p.run for p in previous.phrases if p.role == "possessive"}
        named = [p for p in named if p.run not in owners] or named  # not "INSEC paper's"
        if whole:
            return _run_words(previous, named[0].run), previous.run_keys(named[0].run)
        return named[0].text, named[0].keys
    nouns = previous.of_kind("noun")
    if not nouns:
        return None
    first = nouns[0]
    if first.role == "of" and not previous.korean:
        later = [p for p in nouns if p.run > first.run]
        first = later[0] if later else first
    return previous.run_text(first.run), previous.run_keys(first.run)


def _context(previous: Parsed, question: Parsed, placed: set[str]) -> list[str]:
    """What the follow-up lacks of the previous question: the parts of its runs of nouns
    that the follow-up (or what replaced its anaphor) does not say, then its date when
    the follow-up has none; at most `MAX_CONTEXT` pieces and `MAX_CONTEXT_CHARS`."""
    covered = set(question.keys) | placed
    runs = dict.fromkeys(p.run for p in previous.phrases if p.kind in ("entity", "noun"))
    texts = [t for t in (_uncovered(previous, run, covered) for run in runs) if t]
    if not question.of_kind(*_DATES):
        texts += [d for d in _dates(previous) if not any(d in t for t in texts)]
    kept: list[str] = []
    for text in dict.fromkeys(texts):
        if len(kept) == MAX_CONTEXT or sum(map(len, kept)) + len(text) > MAX_CONTEXT_CHARS:
            break
        kept.append(text)
    return kept


def _run_words(previous: Parsed, run: int) -> str:
    """A run's text from its first to its last name or noun (no number at either end)."""
    return _uncovered(previous, run, set())


def _uncovered(previous: Parsed, run: int, covered: set[str]) -> str:
    """A run's text from its first to its last name or noun that the follow-up (or the
    anaphor's replacement) does not already say."""
    words = [p for p in previous.phrases if p.run == run and p.kind in ("entity", "noun")
             and p.role != "verbal" and not p.keys <= covered]
    return previous.text[words[0].start:words[-1].end] if words else ""


def _dates(previous: Parsed) -> list[str]:
    """The previous question's years and months, a month with the year right after it
    together: "November 2015", "2022년"."""
    dates = previous.of_kind(*_DATES)
    texts: list[str] = []
    for i, phrase in enumerate(dates):
        if i and dates[i - 1].run == phrase.run and dates[i - 1].kind == "month" \
                and not previous.text[dates[i - 1].end:phrase.start].strip(" ,"):
            texts[-1] = previous.text[dates[i - 1].start:phrase.end]
        else:
            texts.append(phrase.text)
    return texts
