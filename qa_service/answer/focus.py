"""The question's focus: the words naming what it asks for.

"주식회사 데이터 애널리틱스의 데이터 분석 프로젝트 청구서에 붙은 소비세는 얼마인가요?" names
a company, a project and an invoice to say *where* to look, and 소비세 to say *what* to
read there. The words that say where match the document's title lines as well as, or
better than, the line that answers; the focus picks that line (a table row's label, most
often). Read from the question's wording alone, in both languages:

- Korean (Kiwi's morphemes): the nouns marked as topic or subject (은/는/이/가) right
  before the question word (얼마, 몇, 언제, 무엇, 어떻게, 누구, 어디, 궁금) or at the
  question's end ("목표치는?"): "청구서에 붙은 소비세는 얼마" -> 소비세, "수정 비용은 얼마로"
  -> 수정 비용; up to a figure, which names a period or a column rather than what is asked
  ("12월 31일 기준 재고자산은" -> 재고자산, "2023년 목표치는" -> 목표치);
- English: what follows "how many"/"how much" (or "how much is [charged for] the", "how
  much does X charge for": "how much is the development fee line item (before tax)" ->
  development fee, a bracket and the words "line item" left out), a possessive after
  "what is" ("what is Amazon's FY2019 net income ..." -> net income, the period left
  out), "what is the" ("what is the estimated total cost on ..." -> estimated total
  cost), or "what X does/did/is" ("what accuracy does ..." -> accuracy), up to a
  preposition, a verb or a clause; a change names the quantity that changed ("the
  year-over-year change in revenue" -> revenue: a statement's row names revenue, not its
  change), and so does a bare measure ("the value of non-controlling interests" ->
  non-controlling interests).

Empty when the wording names none.
"""

from __future__ import annotations

import re

from qa_service.tokens import Tokenizer, has_hangul

__all__ = ["ANSWER_TYPE_NOUNS", "content_tokens", "question_focus", "question_locator"]

# Kiwi's tags: the nouns (and numbers, Latin words, brackets) a focus is made of
_NOUN_TAGS = frozenset({"NNG", "NNP", "NNB", "NR", "SL", "SN", "SH", "XSN", "XPN", "SSO",
                        "SSC"})
_TOPIC_TAGS = frozenset({"JX", "JKS"})  # 은/는 (and 도, 만), 이/가
_TOPIC_FORMS = frozenset({"은", "는", "이", "가"})
# the question word after the focus: "소비세는 얼마인가요", "객실은 총 몇 개", "금액이
# 궁금합니다", "시간은 어떻게 되나요"
_ASKS = ("얼마", "몇", "언제", "무엇", "무슨", "뭐", "뭔", "어떻", "어떤", "어느", "누구", "누가",
         "어디", "궁금")
_FILLERS = frozenset({"총", "모두", "전부", "대략", "약", "각각", "정확히", "실제"})
_AFTER_FIGURE = frozenset({"기준", "현재", "말", "초", "당시"})  # "12월 31일 기준", "2021년 말"
FOCUS_MORPHEMES = 6  # nouns of the focus, at most (the nearest to its particle)
_ENGLISH_PATTERNS = tuple(re.compile(p, re.IGNORECASE) for p in (
    r"\bhow (?:many|much)\s+(?P<focus>[^?,]+)",
    # "how much is charged for the reporting line item", "how much is the development fee"
    r"\bhow much\s+(?:is|was|are|were)\s+(?:(?:charged|billed|paid|owed|due|spent|budgeted"
    r"|allocated|invested)\s+(?:for|on)\s+(?:the\s+)?|the\s+)(?P<focus>[^?,]+)",
    # "how much does Smart Networks charge for support on its invoice"
    r"\bhow much (?:does|did|do|will)\s+[^?,]{1,60}?\s+(?:charge|bill|pay|spend|invest)\s+"
    r"(?:for|on)\s+(?:the\s+)?(?P<focus>[^?,]+)",
    # "what is Amazon's FY2019 net income ...", "what was the company's total revenue"
    # "what were Samsung Electronics' consolidated cash and cash equivalents ..."
    r"\bwhat (?:is|was|are|were)\s+(?:the\s+)?[^?,]{1,40}?(?:['\u2019]s|s['\u2019])\s+"
    r"(?P<focus>[^?,]+)",
    r"\bwhat (?:is|was|are|were)\s+(?:the|a|an)\s+(?P<focus>[^?,]+)",
    r"\bwhich\s+(?P<focus>[^?,]+?)\s+(?:does|did|do|is|was|are|were|has|had)\b",
    r"\bwhat\s+(?P<focus>(?!is\b|was\b|are\b|were\b|does\b|did\b|do\b)[^?,]+?)\s+"
    r"(?:does|did|do|is|was|are|were|has|had)\b",
))
# where an English focus phrase ends: a preposition, a verb, a clause, a participle that
# qualifies it ("net income attributable to ...")
_ENGLISH_STOP = re.compile(
    r"\s(?:of|for|in|on|at|to|from|by|with|under|over|per|that|which|who|when|where|as"
    r"|does|did|do|is|was|are|were|has|had|have|will|would|can|could|should|according"
    r"|before|after|between|during|than|attributable|excluding|including|related|reported"
    r"|ended|ending)\b", re.IGNORECASE)
# a focus that names how a quantity moved ("the year-over-year change in revenue", "the
# growth of net sales") or a measure of it ("the value of non-controlling interests", "the
# amount of goodwill"): the quantity is what a page's row or sentence names
_ENGLISH_CHANGE = re.compile(r"\b(?:change|growth|increase|decrease|decline|rise|drop|fall)s?$"
                             r"|^(?:value|amount|number)$", re.IGNORECASE)
_ENGLISH_MEASURED = re.compile(r"^\s*(?:in|of)\s+(?:the\s+|its\s+|their\s+)?", re.IGNORECASE)
_ENGLISH_LINE_ITEM = re.compile(r"\s+(?:line\s+)?items?$", re.IGNORECASE)
_ENGLISH_SKIP = re.compile(r"^(?:the|a|an|it|they|there|this|that|these|those)\b",
                           re.IGNORECASE)
# the period before a possessive's focus: "Amazon's FY2019 net income", "3M's 2018 ..."
_ENGLISH_PERIOD = re.compile(
    r"^(?:(?:(?:FY|CY|fiscal(?:\s+year)?|Q[1-4]|H[12])\s*['\u2019]?\d{2,4}|(?:19|20)\d{2}"
    r"|year[- ]end)\s+)+", re.IGNORECASE)
FOCUS_CHARS = 40
# Korean nouns that name the kind of answer a question asks for ("... 선언을 한 날짜는?",
# "... 맡은 직위는?", "... 우승한 인물은?"): the sentence that answers states the date or
# the person itself and seldom the noun, so it is no content a sentence must hold
ANSWER_TYPE_NOUNS = frozenset({"날짜", "연도", "년도", "시기", "이름", "명칭", "장소", "곳",
                               "인물", "기관", "직위", "직책"})


def question_focus(question: str, tokenizer: Tokenizer) -> str:
    """The words of `question` that name what it asks for, or "" (see the module)."""
    if has_hangul(question):
        return _korean_focus(question, tokenizer.morphemes(question))
    return _english_focus(question)


def _korean_focus(question: str, morphemes: list[tuple[str, str, int, int]]) -> str:
    """The nouns before the last topic or subject particle that a question word (or the
    question's end) follows."""
    marked = None
    for i, (form, tag, _, _) in enumerate(morphemes):
        if tag not in _TOPIC_TAGS or form not in _TOPIC_FORMS:
            continue
        following = next((m for m in morphemes[i + 1:] if m[0] not in _FILLERS), None)
        if following is None or following[1] == "SF" or following[0].startswith(_ASKS):
            marked = i
    if marked is None:
        return ""
    first = marked
    while (first > 0 and morphemes[first - 1][1] in _NOUN_TAGS and morphemes[first - 1][1] != "SN"
           and marked - first < FOCUS_MORPHEMES):
        first -= 1
    while first < marked and (morphemes[first][1] == "NNB"  # the unit of a figure left out
                              or (first > 0 and morphemes[first - 1][1] in ("SN", "NNB")
                                  and morphemes[first][0] in _AFTER_FIGURE)):
        first += 1
    while first < marked and morphemes[first][1] == "SSC":  # ")" of a bracket left out
        first += 1
    if first == marked:
        return ""
    return question[morphemes[first][2]:morphemes[marked - 1][3]].strip("(\"' ")


def _english_focus(question: str) -> str:
    for pattern in _ENGLISH_PATTERNS:
        found = pattern.search(question)
        if found is None:
            continue
        phrase = _english_phrase(found["focus"])
        if _ENGLISH_CHANGE.search(phrase):
            # "the year-over-year change in revenue": the row to read is revenue's
            rest = found["focus"].strip()[len(phrase):]
            measured = _ENGLISH_MEASURED.match(rest)
            phrase = _english_phrase(rest[measured.end():]) if measured else phrase
        if phrase and not _ENGLISH_SKIP.match(phrase):
            return phrase[:FOCUS_CHARS]
    return ""


def _english_phrase(text: str) -> str:
    """A focus phrase from where it starts: without a leading period, up to a
    preposition, a verb or a clause (`_ENGLISH_STOP`) or a bracket."""
    phrase = _ENGLISH_PERIOD.sub("", text.strip())
    stop = _ENGLISH_STOP.search(" " + phrase)
    phrase = (phrase[:stop.start()] if stop else phrase).split("(")[0].strip()
    return _ENGLISH_LINE_ITEM.sub("", phrase)  # "development fee line item"


# A leading clause that says where to look: "In the Fond du Lac County 90-day report on
# the December 2015 incident, what did ...", "According to the warranty card, how long
# ...", "서울시 스마트도시 기본계획에서 ...", "교재의 신체 성장 챕터에 따르면 ..."
_ENGLISH_LOCATOR = re.compile(
    r"^(?:in|according to|under|for|on|at|from|among|per|based on|as of|within)\s"
    r"[^,?]{3,200}?,\s+(?=\w)", re.IGNORECASE)
_KOREAN_LOCATOR = re.compile(r"^[^,?]{3,200}?(?:에서|에 따르면|에 의하면|기준으로),?\s+")


def question_locator(question: str) -> str:
    """The question's leading clause that says where to look (a document, a section, an
    event), or "": its words locate the passage, and a sentence that repeats them is not
    thereby the answer (see the patterns above)."""
    pattern = _KOREAN_LOCATOR if has_hangul(question) else _ENGLISH_LOCATOR
    found = pattern.match(question.strip())
    return found.group() if found else ""


def content_tokens(tokens: list[str]) -> list[str]:
    """A question's tokens without the nouns that name its answer's kind
    (`ANSWER_TYPE_NOUNS`), unless nothing else is left."""
    kept = [token for token in tokens if token not in ANSWER_TYPE_NOUNS]
    return kept or tokens
