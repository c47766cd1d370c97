"""What a question asks, without what it tells the answerer.

"What is Netflix's year end FY2017 total current liabilities (in USD millions)? Base your
judgments on the information provided primarily in the balance sheet." The second sentence
says how to answer, not what: a passage that answers holds "total current liabilities"
and never "judgments" or "primarily". The extractive answerer therefore weighs sentences,
and the answerability their coverage, by the asked part alone, and retrieval's BM25
matches its words alone; the vectors still read the whole question, retrieval reads the
statements it names from the whole question ("balance sheet" says where to look), and an
LLM is given it whole.

A sentence tells the answerer when it has no question mark and opens with an imperative of
answering ("Answer in USD millions.", "Round your answer to two decimal places.",
"Calculate what was asked by utilizing ...") or addresses the answerer ("We want to
calculate a financial metric.", "Please help us compute it ..."), or, in Korean, ends in a
request ("단위는 백만 원으로 답해 주세요."); a leading clause that addresses the answerer is
left out of the sentence that asks ("Basing your judgment by information plainly provided
in the statement of income, what is ...?", "Here's the question: what is ...?"). A
condition whose consequence is such an imperative instructs too ("If operating margin is
not a useful metric for a company like this, then state that and explain why."), and so
does a bracket that says in what units or how to answer ("(in USD millions)", "(in units
of percents and round to one decimal place)"; not "(formerly Consumer Health)"). A
question made of requests alone ("Summarize the paper, please.", "요약해 주세요") is all
asked.

An instruction to calculate ("Calculate what was asked ...", "We need to calculate ...")
or a definition of the measure ("DPO is defined as: 365 * ...") says that the answer is
computed from the documents' figures, not printed in them (`asks_computation`).
"""

from __future__ import annotations

import re

__all__ = ["asked_part", "asks_computation"]

_SENTENCE_ENDS = re.compile(r"(?<=[.?!])\s+")
_IMPERATIVE = re.compile(
    r"^(?:please\s+)?(?:answer|round|give|base|basing|use|using|calculate|compute|provide|"
    r"express|respond|state|show|explain|assume|consider|note|utilize|utilizing|rely|"
    r"relying|focus|report|treat|ignore|exclude|list|return|write|keep|address)\b",
    re.IGNORECASE)
_ADDRESSED = re.compile(r"\b(?:you|your|please|we\s+need|we\s+want|help\s+us|"
                        r"here(?:'s|\s+is)\s+the\s+question)\b", re.IGNORECASE)
_KOREAN_REQUEST = re.compile(r"(?:주세요|주십시오|줘|하시오|하세요|바랍니다|하라)[.!]?$")
_CLAUSES = re.compile(r"(?<=[,:])\s+")
# "If X is not a useful metric ..., then state that": the consequence after the condition
_CONDITIONAL = re.compile(r"^(?:if|when|where|unless)\b[^,]{1,200},\s*(?:then\s+)?",
                          re.IGNORECASE)


# a bracket that says in what units or how to answer: "(in USD millions)", "(in units of
# percents and round to one decimal place)", "(round to two decimals)"
_BRACKET = re.compile(r"\s*\(([^()]{1,120})\)")
_BRACKET_PARTS = re.compile(r"\s*(?:,|;|\band\b)\s*", re.IGNORECASE)
_UNITS = re.compile(
    r"^(?:in\s+)?(?:units\s+of\s+)?(?:(?:USD|US\$|\$|EUR|KRW|dollars?|won|percents?|"
    r"percentages?|%|basis\s+points|thousands?|millions?|billions?|trillions?)\s*)+$",
    re.IGNORECASE)

# what an instruction says when the answer is to be computed, not read
_COMPUTE = re.compile(r"\b(?:calculat(?:e|es|ed|ing|ion)|comput(?:e|es|ed|ing|ation)|"
                      r"(?:is|are)\s+defined\s+as)\b|계산", re.IGNORECASE)
# "... using FY2022 Adjusted EBIT as the numerator and annual Interest Expense as the
# denominator?"
_RATIO_PARTS = re.compile(r"\bas\s+the\s+(?:numerator|denominator)\b", re.IGNORECASE)


def asks_computation(question: str) -> bool:
    """Whether `question` tells the answerer to compute its answer from the documents'
    figures: an instruction (a sentence without a question mark, or a leading clause that
    addresses the answerer) to calculate, one that defines the measure asked for, or the
    ratio's numerator and denominator."""
    if _RATIO_PARTS.search(question):
        return True
    asked, told = _parts(question, brackets=False)
    return (any(_COMPUTE.search(part) for part in told)
            or any("?" not in part and "defined" in part and _COMPUTE.search(part) is not None
                   for part in asked))


def asked_part(question: str) -> str:
    """`question` without the sentences and leading clauses that instruct the answerer (see
    the module); the whole question when nothing else is left."""
    asked, _ = _parts(question, brackets=True)
    return " ".join(asked) or question


def _parts(question: str, brackets: bool) -> tuple[list[str], list[str]]:
    """What `question` asks (its sentences, less their leading clauses that address the
    answerer, and with `brackets` less the brackets that instruct) and what it tells the
    answerer (the sentences and clauses left out)."""
    asked: list[str] = []
    told: list[str] = []
    for sentence in _SENTENCE_ENDS.split(question.strip()):
        if not sentence:
            continue
        if "?" not in sentence and _instructs(sentence):
            told.append(sentence)
            continue
        if brackets:
            sentence = _BRACKET.sub(_unless_instructing, sentence)
        clauses = _CLAUSES.split(sentence)
        while len(clauses) > 1 and "?" not in clauses[0] and _ADDRESSED.search(clauses[0]):
            told.append(clauses.pop(0))
        asked.append(" ".join(clauses))
    return asked, told


def _unless_instructing(bracket: re.Match[str]) -> str:
    """A bracket as it is, or "" when it says in what units or how to answer: each of its
    parts names units or opens with an imperative ("(in units of percents and round to
    one decimal place)"; not "(formerly Consumer Health)" nor "(USA)")."""
    parts = [p for p in _BRACKET_PARTS.split(bracket.group(1).strip()) if p]
    if parts and all(_UNITS.match(p) or _IMPERATIVE.match(p) for p in parts):
        return ""
    return bracket.group()


def _instructs(sentence: str) -> bool:
    condition = _CONDITIONAL.match(sentence)
    if condition is not None and _IMPERATIVE.match(sentence[condition.end():]):
        return True
    return bool(_IMPERATIVE.match(sentence) or _ADDRESSED.search(sentence)
                or _KOREAN_REQUEST.search(sentence.strip()))
