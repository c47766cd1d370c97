"""The short answer: the shortest span of a quoted line that answers the question.

People ask for a fact (a speed limit, an invoice total, a date, a name) and should not have
to find it inside a quote. Given the lines the extractive answerer ranks best, this module
picks one span of one line:

- **a table row** (cells joined by ` | `, as `ingest` writes the tables it finds; or a
  label followed by figures, as text extraction lays out a table drawn without rules:
  "Accumulated depreciation (14,166) (12,896)"): the value cell
  in the column the question names (a header cell holding one of its numbers or words:
  "8HRS" for "8시간", "제 53 (전) 기" for "제53기"; headers are matched right-aligned, as
  value columns are), else the row's first amount (a figure with separators or decimals
  before a bare note number such as `8`);
- **a label stacked above its value** (forms and warranty cards read column by column:
  "제품 보증기간 / 배터리 보증기간 / 1 년 / 2 년"): the value in the label's place
  (`stacked_value`);
- **prose**: a span of the type the question asks for (`AnswerType`: a date, a time, an
  amount of money, a percentage, a count, a name) nearest to the question's words in
  the line; a figure with its unit ("9.1 million", "5 miles") and, when it opens or closes
  a range, the whole range ("27 to 30 pounds", "30\u201375%" (en dash), "3년~5년").

A span the question already holds ("2022" in "in 2022") is never the answer. Pure
functions of text; no models.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from qa_service.codes import versions_name
from qa_service.table_lines import (
    CELL_SEPARATOR,
    FIGURE,
    NON_SPACE,
    PLAIN_FIGURE,
    PURE_VALUE,
    is_empty_cell,
    is_table_row,
    lines_of,
    names_columns,
    stripped,
    table_cells,
    text_row_cells,
    value_words,
)
from qa_service.tokens import has_hangul

__all__ = ["QUANTITIES", "AnswerType", "LineSpan", "answer_type", "asks_cost", "asks_quantity",
           "column_header", "in_currency", "of_counted", "row_headings", "short_span",
           "short_years", "stacked_value", "states_quantity"]


class AnswerType(StrEnum):
    DATE = "date"
    TIME = "time"
    MONEY = "money"
    PERCENT = "percent"
    COUNT = "count"
    NAME = "name"
    NONE = "none"


# the kinds a figure answers: an amount, a count, a share
QUANTITIES = frozenset({AnswerType.MONEY, AnswerType.COUNT, AnswerType.PERCENT})


# The question's wording -> the type of its answer, tried in this order.
_QUESTION_TYPES: tuple[tuple[AnswerType, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.IGNORECASE)) for kind, pattern in (
        (AnswerType.TIME, r"\bwhat time\b|\bwhat hours?\b|\bopening hours\b|몇\s*시"
                          r"|이용\s*시간|운영\s*시간|시간은\s*어떻게|시간이\s*어떻게"),
        (AnswerType.DATE, r"\bwhen\b|\bwhat (?:year|date|day|month)\b|\bwhich (?:year|date|day|"
                          r"month)\b|\bdeadline\b|\bdue date\b|언제|며칠|날짜|기한|일자|몇\s*년도"
                          r"|몇\s*년에"),
        (AnswerType.PERCENT, r"\bpercent(?:age)?\b|%|\brate\b|\bratio\b|\bmargin\b|\byield\b"
                             r"|\bshare of\b"
                             r"|퍼센트|비율|[률율]\b|[률율][은는이가을]"),
        (AnswerType.MONEY, r"\bhow much\b|\bcost|\bprice|\bfee\b|\bfees\b|\bamount\b|\btotal\b"
                           r"|\bpaid\b|\bpay\b|\bcharged?\b|\bbudget|\bvalue\b|\brevenue|\bsales\b"
                           r"|\bincome\b|\bexpenses?\b|\bassets\b|\bliabilities\b|\bcash\b"
                           r"|얼마|금액|비용|요금|가격|예산|매출|자산|부채|자본|이익|손실|현금|세액"
                           r"|소비세|부가세|합계|총액|대금"),
        (AnswerType.COUNT, r"\bhow many\b|\bhow long\b|\bhow old\b|\bnumber of\b|\bhow far\b"
                           r"|몇|개수|인원|건수|기간은"),
        # "who" opening the question or a clause, or in lower case: not "Doctor Who"
        (AnswerType.NAME, r"^\W*who\b|[,;:]\s*who\b|(?-i:\bwho\b)|\bwhich company\b"
                          r"|\bwhat (?:is|was) the name\b"
                          r"|누구|누가|이름|성명|회사는|업체는"),
    ))

# a whole number that opens with a zero is a code (the postcode "㉾ 03900", "No. 007"), no
# amount or count
_CODE = re.compile(r"0\d+(?![\d.,])")
# a question that opens with an auxiliary verb and asks nothing with a wh-word: whether
# (not a request: "Can you tell me the price ...?", "Do you know ...")
_WHETHER = re.compile(r"^\W*(?:did|does|do|is|are|was|were|has|have|had|can|could|will"
                      r"|would|should)\b(?!\s+you\b)"
                      r"(?![^?]*\b(?:what|how|when|which|who|whom|where|why)\b)",
                      re.IGNORECASE)
_MONTHS = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
           r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?")
# A whole date ("October 29, 2018", "2023년 07월 31일", "2023-07-31"): its figures are no
# amount or count
# (a Korean date's parts may lie in cells of their own: "2023년 | 07월 31일")
_CELL_GAP = r"\s*(?:\|\s*)?"
_WHOLE_DATE = (rf"\d{{4}}\s*년{_CELL_GAP}\d{{1,2}}\s*월(?:{_CELL_GAP}\d{{1,2}}\s*일)?"
               r"|\d{4}[-./]\d{1,2}[-./]\d{1,2}"
               rf"|\d{{1,2}}/\d{{1,2}}/\d{{2,4}}|{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"
               rf"|\d{{1,2}}\s+{_MONTHS},?\s+\d{{4}}")
# A figure of several parts, each smaller than the last ("11조4000억원", "8만 1219명"); the
# ones are no new figure's ("750" of "600억 750억")
_KOREAN_PART = r"\d[\d,]*(?:\.\d+)?"
_KOREAN_LAST = rf"(?:\s?{_KOREAN_PART}(?![\d,.])(?!\s?[조억만천]))?"
_KOREAN_FIGURE = (
    rf"(?:{FIGURE})\s?(?:조(?=\s?\d)(?:\s?{_KOREAN_PART}\s?억)?(?:\s?{_KOREAN_PART}\s?만)?"
    rf"|억(?=\s?\d)(?:\s?{_KOREAN_PART}\s?만)?|만(?=\s?\d))(?:\s?{_KOREAN_PART}\s?천)?"
    rf"{_KOREAN_LAST}")
_SPANS: dict[AnswerType, re.Pattern[str]] = {
    AnswerType.DATE: re.compile(
        rf"{_WHOLE_DATE}|\d{{1,2}}\s*월\s*\d{{1,2}}\s*일|{_MONTHS}\s+\d{{4}}"
        rf"|\b(?:1[5-9]|20)\d{{2}}\b(?:\s*년)?", re.IGNORECASE),
    AnswerType.TIME: re.compile(
        r"\d{1,2}:\d{2}\s*(?:[ap]\.?m\.?)?(?:\s*[-\u2013~\u223c]\s*\d{1,2}:\d{2}\s*(?:[ap]\.?m\.?)?)?"
        r"|\d{1,2}\s*[ap]\.m\.|\d{1,2}\s*시(?:\s*\d{1,2}\s*분)?(?:\s*[-\u2013~\u223c부터]+\s*\d{1,2}\s*시)?",
        re.IGNORECASE),
    AnswerType.MONEY: re.compile(
        # trillions and hundreds of millions, also in cells of their own: "1조 | 4,692억원"
        rf"(?:{FIGURE})\s?조{_CELL_GAP}{_KOREAN_PART}\s?억\s?원?|{_KOREAN_FIGURE}(?:\s?원)?"
        rf"|(?:[$₩€£¥]|USD|KRW|EUR|US\$)\s?(?:{FIGURE})(?:\s?(?:million|billion|thousand|[MBK]"
        rf"|만|억|조)\b)?|(?:{FIGURE})\s?(?:원|만원|억원|천원|백만원|조원|달러|dollars?|euros?"
        rf"|won)(?![A-Za-z])|(?:{FIGURE})(?:\s?(?:million|billion|thousand))?", re.IGNORECASE),
    AnswerType.PERCENT: re.compile(
        rf"(?:{FIGURE})\s?(?:%|percent|퍼센트|\uff05|basis points|bp)|(?:{FIGURE})",
        re.IGNORECASE),
    AnswerType.COUNT: re.compile(
        rf"{_KOREAN_FIGURE}|(?:{FIGURE})\s?(?:만|억|천)?\s?(?:(?:개월|개|명|건|회|대|장|곳|편|권"
        rf"|년|시간|분|일|주|km|kg|m|hours?|minutes?|days?|years?|months?|weeks?|people|persons?"
        rf"|employees|rooms?|times?)(?![A-Za-z]))?|\b(?:two|three|four|five|six|seven|eight|nine"
        rf"|ten|eleven|twelve|twenty|thirty|hundred)\b", re.IGNORECASE),
    AnswerType.NAME: re.compile(
        r"\b[A-Z][A-Za-z.'\u2019-]+(?:\s+(?:[A-Z][A-Za-z.'\u2019-]+|of|de|van|von|and|&))*\s+"
        r"[A-Z][A-Za-z.'\u2019-]+\b|\b[A-Z]{2,}(?:[ .-][A-Z]{2,})+\b"),
}
# A unit right after a figure: a short Korean word ("13,484 밀리초의" -> "밀리초") less its
# particle, or an English one
_UNIT_AFTER = re.compile(
    r"\s?(?:(?P<ko>[가-힣]{1,4})|(?P<en>(?:milli)?seconds?|ms|minutes?|hours?|days?|weeks?"
    r"|months?|years?|percent|people|persons|employees|times|pages?|words?|images?|GB|MB|KB"
    r"|thousand|million|billion|trillion|pounds?|lbs?|ounces?|oz|inches|feet|foot|ft|miles?"
    r"|tons?|tonnes?|grams?|kilograms?"
    r"|(?:kilo|centi|milli)?met(?:er|re)s?|lit(?:er|re)s?|km|kg|cm|mm|m|%|°\s?[CF]|℃)"
    r"(?![A-Za-z]))")
# A currency sign that may come before a figure, and what joins the two ends of a range
_CURRENCY_SIGN = r"(?:[$₩€£¥]\s?)?"
_RANGE_JOINER = r"(?:to|through|[\u2013~\u223c])"
# The rest of a range after its first figure (and that figure's unit): "27 to 30 pounds",
# "10\u201315%" (en dash), "3년~5년"; "and" only after "between" ("between 100 and 200 billion")
_RANGE_FIGURE = rf"\s?{_CURRENCY_SIGN}(?P<figure>{PLAIN_FIGURE})(?![\d,]\d)"
_RANGE_REST = re.compile(rf"\s?{_RANGE_JOINER}{_RANGE_FIGURE}", re.IGNORECASE)
_BETWEEN_REST = re.compile(rf"\s(?:and){_RANGE_FIGURE}", re.IGNORECASE)
_BETWEEN = re.compile(r"\bbetween\s$", re.IGNORECASE)
# ... and the start of a range whose last figure was found
_RANGE_OPENING = re.compile(
    rf"(?<![\w.,]){_CURRENCY_SIGN}{PLAIN_FIGURE}\s?(?:%|[가-힣]{{1,2}})?\s?{_RANGE_JOINER}\s?$"
    rf"|(?<=between\s){_CURRENCY_SIGN}{PLAIN_FIGURE}\s(?:and)\s$", re.IGNORECASE)
RANGE_OPENING_CHARS = 30
# What qualifies a figure after its unit: "85% 이상", "3년 미만"
_QUALIFIER = re.compile(r"\s?(?:이상|이하|미만|초과|가량|정도)"
                        r"(?=[인은는이가을를의에도로]?(?:[^가-힣]|$))|\s(?:or more|or less)\b")
# ... and the word before it: "over 70%", "약 940만 명"
_QUALIFIER_BEFORE = re.compile(
    r"(?<![\w-])(?:over|about|around|nearly|almost|approximately|roughly|some|more than"
    r"|less than|fewer than|at least|at most|up to|under|약|최대|최소)\s$", re.IGNORECASE)
QUALIFIER_BEFORE_CHARS = 14
# A figure that dates rather than amounts ("12월", "31일"), and a section's number
_DATE_UNIT = re.compile(r"\s?(?:년|월|일|시|분|초)(?![가-힣])")
_SECTION_NUMBER = re.compile(r"\d+(?:\.\d+)+\s+[^\W\d_]")
HEADER_CELLS = 4  # a line of this many cells, none of them a value, is a table's header
# a currency named with an amount: "USD 5.80", "₩1,500,000", "3,000원" (not "2.1 million")
_CURRENCY = re.compile(r"[$₩€£¥]|\b(?:USD|KRW|EUR|GBP|JPY|dollars?|euros?|won)\b|원|달러|유로",
                       re.IGNORECASE)
# a question about what is paid, not any amount ("how much ... cost", "요금은 얼마")
_COST_QUESTION = re.compile(r"\b(?:costs?|price[sd]?|pay|paid|charges?|charged|fees?|spen[dt]"
                            r")\b|비용|가격|요금", re.IGNORECASE)
# "how many", "how much" (also "얼마나"), "몇" (not "몇몇": some)
_HOW_MUCH = re.compile(r"\bhow (?:many|much)\b|(?<!몇)몇(?!몇)|얼마", re.IGNORECASE)
_ASKS_OTHER = re.compile(r"누구|누가|어디|무엇|\bwho\b|\bwhom\b|\bwhere\b", re.IGNORECASE)
_BUDGET = re.compile(r"\bbudget|예산|투자액|금액", re.IGNORECASE)
# a figure: digits after no letter (also a range's bounds, "3-4천년", "19-20세기"), or after
# the prefix of an ordinal ("제89조", "제124대"); not "코로나19"
_FIGURE = re.compile(r"(?<![^\W\d_])\d+(?:[.,]\d+)*|(?<=제)\d+")
_YEAR_QUOTES = "'\u2018\u2019"  # before a year of two digits: "'22"
_LARGE_NUMBERS = "hundred|thousand|million|billion|trillion"
_LARGE_WORD = re.compile(rf"(?:{_LARGE_NUMBERS})s?", re.IGNORECASE)
_PERCENT_AFTER = re.compile(r"\s?(?:%|percent|퍼센트)", re.IGNORECASE)  # a price's change
_LARGE_AFTER = re.compile(r"\s?(?:(?i:thousand|million|billion|trillion)|[MBK]\b|만|억|조|천)")
# a quantity in words: "half", "a few", "millions of", "여덟째", "두 명", "절반"
_QUANTITY_WORDS = re.compile(
    r"\b(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen"
    r"|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty"
    rf"|seventy|eighty|ninety|(?:{_LARGE_NUMBERS})s?|dozens?"
    r"|half|halves|quarters?|thirds?|once|twice|doubled?|tripled?|quadrupled?|\w+fold|few"
    r"|several|none|single|multiple)\b"
    r"|(?:한|두|세|네|다섯|여섯|일곱|여덟|아홉|열|스무|스물|서른|마흔|쉰|수십|수백|수천|수만"
    r"|수억|여러)\s?(?:명|개|번|차례|가지|권|대|곳|채|마리|살|해|달|시간|척|편|장|종|배)"
    r"|(?:첫|둘|셋|넷|다섯|여섯|일곱|여덟|아홉|열)\s?(?:번)?째|절반", re.IGNORECASE)
_MONEY_MARK = re.compile(r"[$₩€£¥]|USD|KRW|EUR|\d,\d{3}|\d\.\d|원|달러|dollars?|euros?",
                         re.IGNORECASE)
_LABELLED = re.compile(r"(?:\b(?:Table|Fig\.?|Figure|Section|Chapter|Eq\.?|No\.?|Item)"
                       r"|표|그림|제)\s*$", re.IGNORECASE)
_ABBREVIATED = re.compile(r"\b[ap]\.m\.$|\b[A-Z]\.$", re.IGNORECASE)
_PARTICLES = "은는이가을를의에도와과로만"
# The particles and endings a unit may carry ("2번으로" -> 번, "1.25배에서" -> 배)
_UNIT_ENDING = re.compile(rf"(?:에서|으로|에게|부터|까지|보다|처럼|이나|이며|이고|이다"
                          rf"|에는|에도|로는|엔|[{_PARTICLES}])+$")
_LARGE_NUMBER = "만억천조"
UNIT_MAX_CHARS = 3
_AMOUNT = re.compile(r"\d,\d{3}|\d\.\d")
_DIGITS = re.compile(r"\d+")
# periods a table's columns are named by: years, fiscal periods ("제 54 (당) 기"), and the
# year a page says a fiscal period ends in ("제 54 기 : 2022년 12월 31일 현재")
_PERIOD_YEARS = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")
_FISCAL_PERIOD = re.compile(r"제\s*(\d{1,3})\s*(?:\([^)]{0,4}\)\s*)?기")
_PERIOD_YEAR = re.compile(r"제\s*(\d{1,3})\s*기\s*[:\uff1a]?\s*((?:19|20)\d\d)\s*년")
_WORD = re.compile(r"[^\W_]+")
# a table header line above a row: its span and its cells' spans
_Header = tuple[tuple[int, int], list[tuple[int, int]]]
# A value printed on a line of its own below its label: a figure with a short unit
_STACKED_VALUE = re.compile(
    rf"^\s*(?:[$₩€£¥]\s?)?(?:{FIGURE})\s?(?:[가-힣]{{1,3}}|%|[A-Za-z]{{1,5}})?\s*$")
STACKED_LABEL_CHARS = 40  # a label of a stacked block is a short line without figures
_MONTH_WORD = re.compile(_MONTHS.rstrip(r"\.?"), re.IGNORECASE)
# a year as "'21" (or with a curly quote)
_SHORT_YEAR = re.compile(rf"[{_YEAR_QUOTES}](\d{{2}})(?!\d)")
_BARE_YEAR = re.compile(r"(?:1[5-9]|20)\d{2}")
_YEAR_RANGE_REST = re.compile(r"\s?(?:to|[\u2013~\u223c-])\s?(?:1[5-9]|20)\d{2}(?!\d)",
                              re.IGNORECASE)
# Capitalised words that open a sentence or name a time, not a person or an organisation
_NOT_NAMES = frozenset(
    "in on at the a an by for from to of after before during since until with when while as "
    "this that these those his her its their it he she they we i there then also but and or "
    "january february march april may june july august september october november december "
    "monday tuesday wednesday thursday friday saturday sunday".split())
_FULL_DATE = re.compile(_WHOLE_DATE, re.IGNORECASE)
# What a Korean counter counts, in the words an English text uses for it ("몇 명" ->
# "189 fatalities"); the counter itself is always one
_COUNTED: dict[str, str] = {
    "명": "people|persons|fatalities|deaths|employees|workers|passengers|members|students"
         "|participants|respondents|residents|individuals|victims|men|women|children|staff",
    "건": "cases|checks|reports|incidents|applications|complaints",
    "톤": "tons?|tonnes?",
    "편": "flights",
    "세": "years? old|years",
    "살": "years? old|years",
    "점": "points?",
    "대": "units|vehicles|cars|aircraft|airplanes|machines",
    "곳": "locations|sites|places|branches|stores",
    "회": "times",
    "시간": "hours?|hrs?",
    "개월": "months?",
    "분": "minutes?|mins?",
}
_KOREAN_COUNTER = re.compile(r"몇\s*(개월|시간|[명건톤편세살점대곳회분])")
_ENGLISH_COUNTED = re.compile(r"\bhow many\s+((?:[A-Za-z.-]+\s+){0,2}[A-Za-z.-]+)",
                              re.IGNORECASE)
_VERBS = frozenset("are were is was did do does have has had can could will would may "
                   "might must should shall".split())
ANCHOR_CHARS = 80  # a prose answer lies this close to one of the question's words
HEADER_LINES_ABOVE = 30
# a header line of words over a block of rows laid out with spaces may name a column in
# two words ("Method Crawler Recall Precision ... Recall@20" over six values)
HEADER_EXTRA_WORDS = 2
CAPTION_CHARS = 60  # a table's caption is a line this short at most


def answer_type(question: str) -> AnswerType:
    """What kind of span answers `question` (NONE: no short span is sought in prose; nor
    for a question that asks whether, "Did X increase or decrease ...?": its answer is a
    yes, a no or a choice, which the quoted sentences give, and no figure of them)."""
    if _WHETHER.match(question):
        return AnswerType.NONE
    for kind, pattern in _QUESTION_TYPES:
        if pattern.search(question):
            return kind
    return AnswerType.NONE


@dataclass(frozen=True)
class LineSpan:
    start: int  # in the text the line was taken from
    end: int
    table: bool  # a table cell


def short_span(question: str, text: str, line: tuple[int, int],
               matched: Callable[[str], float], kind: AnswerType | None = None,
               anchored: bool = True, fiscal: Mapping[str, str] | None = None,
               translated: frozenset[str] = frozenset()) -> LineSpan | None:
    """The span of `text[line[0]:line[1]]` that answers `question`, or None.

    `matched(s)`: how much of the question's weight the text `s` holds (0 when none). A
    wrong short answer misleads more than none, so with `anchored` (the default) a row
    answers only when its label holds some of the question's words, and a prose span only
    when it lies within `ANCHOR_CHARS` of one of them; without it (a line in another
    language than the question, chosen by its vector) any row or typed span may.
    `fiscal`: the years fiscal periods end in (`fiscal_years`) as the rest of the
    document says them, where `text` does not. `translated`: the question's words in the
    other language, which may name a table's column ("검증" for "validation")."""
    kind = answer_type(question) if kind is None else kind
    start, end = line
    cells = table_cells(text, start, end)
    values = [c for c in cells if PURE_VALUE.match(text[c[0]:c[1]]) and not _asked(
        question, text[c[0]:c[1]])]
    if len(cells) >= HEADER_CELLS and not values:
        return None  # a table's header names its columns: "RPK (000's)" holds no answer
    if len(cells) >= 2 and values:
        label = text[start:values[0][0]]
        if anchored and not matched(label):
            return None
        cell = _table_value(question, text, start, cells, values, kind, fiscal or {},
                            translated)
        return LineSpan(cell[0], cell[1], True) if cell is not None else None
    if kind is AnswerType.NONE:
        return None
    return _typed_span(question, text, start, end, kind, matched, anchored)


def _table_value(question: str, text: str, line_start: int, cells: list[tuple[int, int]],
                 values: list[tuple[int, int]], kind: AnswerType,
                 fiscal: Mapping[str, str], translated: frozenset[str]
                 ) -> tuple[int, int] | None:
    """The value cell of a row in the column the question names, else its first amount;
    None when the question names a period and the row's columns are of other periods
    only (`other_periods`), or when the column it names is printed empty in the row."""
    headers = _headers(text, line_start)  # read once, for both
    years = _years(text, fiscal)
    if _of_other_periods(question, text, headers, years):
        return None
    cell = _named_cell(question, text, cells, headers, years, translated)
    if cell is not None:
        if cell in values:
            return cell
        if is_empty_cell(text[cell[0]:cell[1]]):
            return None  # the column it asks for is empty in this row
    if kind is AnswerType.COUNT:
        return values[0]
    amounts = [c for c in values if _AMOUNT.search(text[c[0]:c[1]])]
    if amounts:
        return amounts[0]
    longer = [c for c in values if len(_DIGITS.findall(text[c[0]:c[1]])[0]) >= 3]
    return (longer or values)[0]


def _headers(text: str, line_start: int) -> list[_Header]:
    """The table header lines among the `HEADER_LINES_ABOVE` lines above the row that
    starts at `line_start`, nearest first, with their cells: lines of two cells or more,
    mostly not figures (a year is a column's name); and, right above a block of rows laid
    out with spaces (`text_row_cells`), a line of words (no figures: "CUTE80" and "IC13"
    are names) with one word per value, or up to `HEADER_EXTRA_WORDS` more for the labels'
    column and names of two words, read right-aligned ("학습 검증 평가 합계" over "질문
    83,486 10,165 9,309 102,960"; "Method IIIT5K SVT IC03" over "Only ASRN 84.2 82.2
    91.0")."""
    found = []
    row_end = text.find("\n", line_start)
    row = text_row_cells(text, line_start, len(text) if row_end < 0 else row_end)
    values = len(row) - 1 if row is not None else 0  # a text row's values (its label first)
    in_block = row is not None  # still among the text rows above this one
    end = line_start - 1
    for _ in range(HEADER_LINES_ABOVE):
        if end <= 0:
            break
        start = text.rfind("\n", 0, end) + 1
        cells = table_cells(text, start, end)
        text_row = in_block and text_row_cells(text, start, end) is not None
        if names_columns(text, cells):
            found.append(((start, end), cells))
        elif in_block and not text_row:
            words = [(m.start(), m.end()) for m in NON_SPACE.finditer(text, start, end)]
            if values <= len(words) <= values + HEADER_EXTRA_WORDS and not any(
                    PURE_VALUE.match(text[a:b]) for a, b in words) \
                    and not text[start:end].rstrip().endswith("."):
                found.append(((start, end), words))
        in_block = text_row
        end = start - 1
    return found


def column_header(text: str, row: tuple[int, int]) -> tuple[int, int] | None:
    """The header line that names the columns of the row `text[row[0]:row[1]]`: the
    nearest header line above it with about as many cells (one fewer at least: a row
    label may span two header cells), else the nearest; None when there is none. A
    section's heading inside a table ("자 | 산") names no column."""
    headers = _headers(text, row[0])
    width = len(table_cells(text, *row))
    wide = [line for line, cells in headers if len(cells) >= width - 1]
    found = wide or [line for line, _ in headers]
    return found[0] if found else None


def row_headings(text: str, row: tuple[int, int]) -> list[tuple[int, int]]:
    """What names the row `text[row[0]:row[1]]` besides its label: its column header
    (`column_header`) and the table's caption, a short line right above the header (or
    above the block of rows when there is none) that is no row ("[표 1] 문서 및 질문
    개수"), nor holds two values or more (figures, dashes for empty cells: "UN 도시
    평가(LOSI*) 순위 - 8위 - 7위 - 20년 9위" is a row whose last cell is no figure)."""
    header = column_header(text, row)
    found = [header] if header is not None else []
    end = (header or row)[0] - 1
    while header is None and end > 0:  # up through the block of rows
        start = text.rfind("\n", 0, end) + 1
        if not is_table_row(text, start, end):
            break
        end = start - 1
    if end > 0:
        start = text.rfind("\n", 0, end) + 1
        line = text[start:end].strip()
        if line and len(line) <= CAPTION_CHARS and not is_table_row(text, start, end) \
                and not line.endswith(".") and value_words(text, start, end) < 2:
            found.append((start, end))
    return found


def _named_cell(question: str, text: str, cells: list[tuple[int, int]],
                headers: list[_Header], years: Mapping[str, str],
                translated: frozenset[str] = frozenset()) -> tuple[int, int] | None:
    """The cell of a row (its `cells`) in the column the question names
    (`_named_column`), or None."""
    named = _named_column(question, text, len(cells), headers, years, translated)
    return cells[named[0]] if named is not None else None


def _named_column(question: str, text: str, width: int, headers: list[_Header],
                  years: Mapping[str, str], translated: frozenset[str] = frozenset()
                  ) -> tuple[int, tuple[int, int]] | None:
    """The index (in the row's `width` cells) of the column whose header, among the
    row's `headers` (`_headers`), holds a number or word of the question (or of its
    words `translated`) that the other headers lack (a fiscal period also the year it
    ends in, by `years`), with that header line. A header that repeats its names under
    groups ("EM F1 EM F1" under "검증 데이터 평가 데이터") names each column with its
    group's words (`_grouped`)."""
    asked_numbers = {n.lstrip("0") or "0" for n in _DIGITS.findall(question)}
    asked_words = ({w.casefold() for w in _WORD.findall(question) if not w.isdigit()}
                   | translated)
    best: tuple[int, int, tuple[int, int]] | None = None  # (matches, column, header)
    for line, cells in headers:
        names = _grouped(text, line, [text[a:b] for a, b in cells])
        scores = [_header_match(name, asked_numbers, asked_words, years) for name in names]
        top = max(scores)
        if top <= 0 or scores.count(top) > 1:
            continue  # nothing named, or every column says it ("2023" in each)
        column = width - (len(names) - scores.index(top))  # right-aligned
        if 0 <= column < width and (best is None or top > best[0]):
            best = (top, column, line)
    return (best[1], best[2]) if best else None


def _grouped(text: str, line: tuple[int, int], names: list[str]) -> list[str]:
    """A header's `names`, each after its group's words when the header repeats them
    under groups: "EM F1 EM F1" below "검증 데이터 평가 데이터" is "검증 데이터 EM", "검증
    데이터 F1", "평가 데이터 EM", "평가 데이터 F1". The groups are the line above, a line
    of words (no figures) that splits evenly into as many groups as the names repeat."""
    period = next((p for p in range(1, len(names) // 2 + 1) if len(names) % p == 0
                   and all(names[i].casefold() == names[i + p].casefold()
                           for i in range(len(names) - p))), None)
    if period is None or line[0] <= 0:
        return names
    start = text.rfind("\n", 0, line[0] - 1) + 1
    words = NON_SPACE.findall(text, start, line[0] - 1)
    groups = len(names) // period
    if not words or len(words) % groups or any(PURE_VALUE.match(w) for w in words):
        return names
    size = len(words) // groups
    return [" ".join(words[(i // period) * size:(i // period + 1) * size]) + " " + name
            for i, name in enumerate(names)]


def other_periods(question: str, text: str, line_start: int,
                  fiscal: Mapping[str, str] | None = None) -> bool:
    """Whether the question names a period (a year; a fiscal period "제51기") and the
    header of the table row at `line_start` names two periods or more, none of them one it
    names: a balance sheet of 2022 and 2021 does not say 2019's figures. A fiscal period
    counts as the year the page says it ends in ("제 54 기 : 2022년 12월 31일 현재"), or the
    rest of its document (`fiscal`, as `fiscal_years` reads it); a header of fiscal periods
    whose years are not known says nothing about a question that names a year only."""
    return _of_other_periods(question, text, _headers(text, line_start),
                             _years(text, fiscal))


def empty_column(question: str, text: str, line_start: int,
                 fiscal: Mapping[str, str] | None = None,
                 translated: frozenset[str] = frozenset()) -> bool:
    """Whether the column the question names (`_named_column`) is printed empty in the
    table row at `line_start`: "GPT-o1 - 0.058 0.0134 - - -" under "... Recall@50
    Recall@20" says nothing of GPT-o1's Recall@20."""
    return row_lacks(question, text, line_start, fiscal, translated)[0]


def row_lacks(question: str, text: str, line_start: int,
              fiscal: Mapping[str, str] | None = None,
              translated: frozenset[str] = frozenset()) -> tuple[bool, bool]:
    """Of the table row at `line_start`, with its header lines and years read once:
    whether the column the question names is printed empty in it (`empty_column`), and
    whether its columns are of other periods than the one the question names
    (`other_periods`)."""
    headers = _headers(text, line_start)
    years = _years(text, fiscal)
    end = text.find("\n", line_start)
    cells = table_cells(text, line_start, len(text) if end < 0 else end)
    cell = _named_cell(question, text, cells, headers, years, translated)
    return (cell is not None and is_empty_cell(text[cell[0]:cell[1]]),
            _of_other_periods(question, text, headers, years))


def _years(text: str, fiscal: Mapping[str, str] | None) -> dict[str, str]:
    """The years fiscal periods end in: as the rest of the document says them (`fiscal`),
    and as `text` does (which wins)."""
    return {**(fiscal or {}), **fiscal_years(text)}


def fiscal_years(text: str) -> dict[str, str]:
    """The years `text` says fiscal periods end in: {"기54": "2022"} for "제 54 기 : 2022년
    12월 31일 현재"."""
    return {f"기{n}": year for n, year in _PERIOD_YEAR.findall(text)}


def _of_other_periods(question: str, text: str, headers: list[_Header],
                      years: Mapping[str, str]) -> bool:
    """`other_periods` over a row's `headers` (`_headers`), fiscal periods read as the
    `years` they end in."""
    asked = _periods(question)
    if not asked:
        return False
    asked |= {years[p] for p in asked if p in years}
    for _line, cells in headers:
        named = set().union(*(_periods(text[a:b]) for a, b in cells))
        if len(named) < 2:
            continue
        if any(p.startswith("기") and p not in years for p in named) and not any(
                p.startswith("기") for p in asked):
            return False  # 제54기 and 제53기, their years unknown, for "2022"
        return not (named | {years[p] for p in named if p in years}) & asked
    return False


def _periods(text: str) -> set[str]:
    """The years (19xx, 20xx, "'23") and fiscal periods ("제 54 (당) 기" as 기54) of `text`."""
    return (set(_PERIOD_YEARS.findall(text)) | short_years(text)
            | {f"기{n}" for n in _FISCAL_PERIOD.findall(text)})


def asks_quantity(question: str) -> bool:
    """Whether `question` asks how many or how much ("How many ...", "얼마", "몇 명"): for
    an amount, a count or a share, not a date or a time ("몇 년에", "몇 시"), nor who,
    where or what ("몇 개의 반응을 없애준 것은 누구인가?")."""
    return (_HOW_MUCH.search(question) is not None and _ASKS_OTHER.search(question) is None
            and answer_type(question) in QUANTITIES)


def states_quantity(question: str, text: str, start: int, end: int) -> bool:
    """Whether `text[start:end]` states a quantity the question does not name: a figure
    (not a date's, a bare year, a year as "'22", a name's version "KorQuAD 1.0" or a
    reference "[1]") or a quantity in words ("half", "a few", "millions of", "여덟째",
    "두 명"). For what something costs (`asks_cost`; also a budget) the figure must be an
    amount: marked as money, with a large number's word ("5 million", "30억", "millions
    of"), a table row's, or a change in percent."""
    amount = asks_cost(question) or _BUDGET.search(question) is not None
    if any(not amount or _PERCENT_AFTER.match(text, m.end(), end)
           or _LARGE_WORD.fullmatch(m.group()) for m in _QUANTITY_WORDS.finditer(text, start, end)):
        return True
    dates = [m.span() for m in _FULL_DATE.finditer(text, start, end)]
    row = is_table_row(text, start, end)
    for match in _FIGURE.finditer(text, start, end):
        a, b = match.span()
        if (_asked(question, match.group()) or any(s <= a and b <= e for s, e in dates)
                or (_BARE_YEAR.fullmatch(text, a, b) and not _UNIT_AFTER.match(text, b, end))
                or (a > 0 and text[a - 1] in _YEAR_QUOTES) or versions_name(text, a)
                or _referenced(text, a, b)):
            continue
        if (not amount or row or _MONEY_MARK.search(text, max(start, a - 4), b)
                or _LARGE_AFTER.match(text, b, end) or _PERCENT_AFTER.match(text, b, end)):
            return True
    return False


def of_counted(question: str, span: str) -> bool:
    """Whether the short answer `span` counts what the question counts ("73 airplanes" for
    "How many U.S.-registered airplanes ...?"; `_counted`)."""
    counted = _counted(question) if answer_type(question) is AnswerType.COUNT else None
    return counted is not None and counted.search(span) is not None


def asks_cost(question: str) -> bool:
    """Whether `question` asks what something costs (a price, a fee, a charge)."""
    return _COST_QUESTION.search(question) is not None


def in_currency(text: str) -> bool:
    """Whether an amount `text` names its currency ("USD 5.80", "3,000원")."""
    return _CURRENCY.search(text) is not None


def short_years(text: str) -> frozenset[str]:
    """The years `text` writes with two digits after an apostrophe: "'23" (or with a
    curly quote) is 2023."""
    return frozenset(f"20{n}" for n in _SHORT_YEAR.findall(text))


def _header_match(header: str, numbers: set[str], words: set[str],
                  years: Mapping[str, str]) -> int:
    found = ({n.lstrip("0") or "0" for n in _DIGITS.findall(header)} | short_years(header)
             | {years[p] for p in _periods(header) if p in years}) & numbers
    named = {w.casefold() for w in _WORD.findall(header) if not w.isdigit()} & words
    return 2 * len(found) + len(named)


def _typed_span(question: str, text: str, start: int, end: int, kind: AnswerType,
                matched: Callable[[str], float], anchored: bool) -> LineSpan | None:
    """The span of type `kind` nearest the question's words in `text[start:end]`."""
    pattern = _SPANS[kind]
    spans = [(m.start(), m.end()) for m in pattern.finditer(text, start, end)
             if m.group().strip() and not _asked(question, m.group())
             and not _bracketed(text, m.start(), m.end())]
    spans = [(a, b) for a, b in spans if not _SECTION_NUMBER.match(text, a)
             or text.rfind("\n", 0, a) + 1 < a]
    if kind in QUANTITIES:
        spans = [(a, b) for a, b in spans if not versions_name(text, a)]  # "KorQuAD 1.0"
    counted = _counted(question) if kind is AnswerType.COUNT else None
    spans = _of_kind(question, text, (start, end), spans, kind, counted)
    anchors = [m.start() for m in _WORD.finditer(text, start, end) if matched(m.group()) > 0]
    if not spans or (anchored and not anchors):
        return None

    def distance(span: tuple[int, int]) -> float:
        if not anchors:
            return float(span[0] - start)
        return float(min(min(abs(a - span[0]), abs(a - span[1])) for a in anchors))

    first, last = min(spans, key=distance)
    if anchored and distance((first, last)) > ANCHOR_CHARS:
        return None
    while last > first and text[last - 1] in " .,;:\n\t" and not _ABBREVIATED.search(
            text, first, last):
        last -= 1
    if kind in QUANTITIES:
        first, last = _range_start(text, first, start), _range_end(text, first, last, end)
        unit = counted.match(text, last, end) if counted is not None else None
        last = (_qualified(text, unit.end(), end) if unit is not None
                else _unit_end(text, first, last, end))
        first = _with_qualifier_before(text, first, start)
    elif kind is AnswerType.DATE and _BARE_YEAR.fullmatch(text, first, last):
        years = _YEAR_RANGE_REST.match(text, last, end)  # "1939 to 1945", "1754-1763"
        last = years.end() if years is not None else last
    return LineSpan(first, last, False)


def _of_kind(question: str, text: str, line: tuple[int, int], spans: list[tuple[int, int]],
             kind: AnswerType, counted: re.Pattern[str] | None) -> list[tuple[int, int]]:
    """The spans a question of `kind` can be answered with: an amount that is no date's
    figure (marked ones first), no bare year for an amount, count or share ("How many
    seasons ...?" is not "1986") nor a figure of a whole date nor a code (a whole number
    that opens with a zero: the postcode "03900"), a count of what the
    question counts (`counted`: `_counted`) when the line has one, a name that is one
    (`_name_only`), in a line without
    Hangul (a name in Korean text is in Hangul, which no pattern tells from other words),
    and that shares no word with the question (it would be its subject)."""
    if kind is AnswerType.MONEY:
        spans = [(a, b) for a, b in spans if not _DATE_UNIT.match(text, b)]
        spans = [span for span in spans if _MONEY_MARK.search(text, *span)] or spans
    if kind in QUANTITIES:
        spans = [(a, b) for a, b in spans if not (_BARE_YEAR.fullmatch(text, a, b)
                                                  and not _UNIT_AFTER.match(text, b, line[1]))
                 and not _CODE.match(text, a, b)]
        dates = [m.span() for m in _FULL_DATE.finditer(text, *line)]
        spans = [(a, b) for a, b in spans if not any(s <= a and b <= e for s, e in dates)]
    if counted is not None:
        spans = [(a, b) for a, b in spans if counted.search(text[a:b])
                 or counted.match(text, b, line[1])] or spans
    if kind is AnswerType.NAME:
        if has_hangul(text[line[0]:line[1]]):
            return []
        asked = {w.casefold() for w in _WORD.findall(question)}
        spans = [span for span in (_name_only(text, a, b) for a, b in spans)
                 if span is not None and not asked & {
                     w.casefold() for w in _WORD.findall(text[span[0]:span[1]])} - _NOT_NAMES]
    return spans


def _counted(question: str) -> re.Pattern[str] | None:
    """What the question counts, as a pattern for the unit after a figure ("몇 명" ->
    명, people, fatalities...; "how many background checks" -> background, checks), or
    None when it names nothing."""
    korean = _KOREAN_COUNTER.search(question)
    if korean is not None:
        counter = korean.group(1)
        return re.compile(rf"\s?(?:{re.escape(counter)}(?![가-힣])|(?:{_COUNTED[counter]})\b)",
                          re.IGNORECASE)
    english = _ENGLISH_COUNTED.search(question)
    if english is None:
        return None
    words: list[str] = []
    for word in english.group(1).split():
        if word.casefold() in _VERBS or word.casefold() in _NOT_NAMES or (
                word.endswith("ed") and words):
            break  # the counted thing ends at a verb or a preposition
        words.append(word)
    stems = [word[:max(3, len(word) - 2)] for word in words if len(word) >= 3]
    if not stems:
        return None
    word = rf"(?:{'|'.join(map(re.escape, stems))})[A-Za-z]*"
    return re.compile(rf"\s?{word}(?:\s{word})*", re.IGNORECASE)


def _name_only(text: str, start: int, end: int) -> tuple[int, int] | None:
    """A name's span without the capitalised words before it that are none of its own (a
    sentence's "In", "The", a month: "In August" is no name), or None when nothing of two
    words or an acronym is left."""
    words = [(m.start(), m.end()) for m in NON_SPACE.finditer(text, start, end)]
    while words and text[words[0][0]:words[0][1]].rstrip(".,").casefold() in _NOT_NAMES:
        words.pop(0)
    if not words:
        return None
    first = words[0][0]
    if _SPANS[AnswerType.NAME].fullmatch(text, first, end) is None:
        return None
    named = [text[a:b].rstrip(".,").casefold() for a, b in words]
    return None if all(w in _NOT_NAMES for w in named) else (first, end)


def _bracketed(text: str, start: int, end: int) -> bool:
    """A reference marker or a label's number: "[32]", "[표 1]", "Table 2", "그림 3"."""
    return _referenced(text, start, end) or \
        _LABELLED.search(text, max(0, start - 12), start) is not None


def _referenced(text: str, start: int, end: int) -> bool:
    """A reference marker: the figure `text[start:end]` in square brackets, "[32]"."""
    return text[start - 1:start] == "[" and text[end:end + 1] == "]"


def _with_unit(text: str, end: int, limit: int) -> int:
    """`end` moved past the unit that follows a figure ("13,484 밀리초"), if one does."""
    found = _UNIT_AFTER.match(text, end, limit)
    if found is None:
        return _qualified(text, end, limit)
    if found["en"]:
        end = found.end()
    else:
        word = _UNIT_ENDING.sub("", found["ko"]) if len(found["ko"]) > 1 else found["ko"]
        if not word or len(word) > UNIT_MAX_CHARS or word in ("이상", "이하", "미만", "초과"):
            return _qualified(text, end, limit)
        end = found.start("ko") + len(word)
        if word in _LARGE_NUMBER:
            return _after_large_number(text, end, limit)
    return _qualified(text, end, limit)


def _after_large_number(text: str, end: int, limit: int) -> int:
    """`end`, right after 만, 억, 천 or 조, moved past the unit that follows ("5만 달러"),
    not past a particle ("400조를")."""
    after = _with_unit(text, end, limit)
    return end if text[end:after].strip() in _PARTICLES else after


def _unit_end(text: str, first: int, last: int, limit: int) -> int:
    """The end of the figure `text[first:last]` with its unit: the unit that follows a
    figure in digits or in words ("three years"); a Korean unit that the span's pattern
    took read again as the whole word less its particles ("20주" of "20주년"; after 만,
    억, 천 or 조, the unit after it: "5만 달러"), never shorter than the span."""
    if text[last - 1:last].isdigit() or text[first:last].isalpha():
        return _with_unit(text, last, limit)
    if not has_hangul(text[last - 1]):
        return _qualified(text, last, limit)
    digit = next((i for i in range(last - 1, first - 1, -1) if text[i].isdigit()), None)
    if digit is None:
        return _qualified(text, last, limit)
    figure = digit + 1
    large = re.match(rf"\s?[{_LARGE_NUMBER}]", text[figure:last])
    if large is None:
        return max(last, _with_unit(text, figure, limit))
    return max(last, _after_large_number(text, figure + large.end(), limit))


def _with_qualifier_before(text: str, start: int, limit: int) -> int:
    """`start` moved back over the word that qualifies the figure there ("over 70%",
    "약 940만 명"), if one does; not before `limit`."""
    found = _QUALIFIER_BEFORE.search(text, max(limit, start - QUALIFIER_BEFORE_CHARS), start)
    return found.start() if found is not None else start


def _range_start(text: str, start: int, limit: int) -> int:
    """`start` moved back to the first figure of the range whose last figure starts
    there ("200" in "100 to 200 billion"), if one does; not before `limit`."""
    found = _RANGE_OPENING.search(text, max(limit, start - RANGE_OPENING_CHARS), start)
    if found is None or _opens_with_year(found.group()):
        return start
    return found.start()


def _range_end(text: str, start: int, end: int, limit: int) -> int:
    """`end` moved past the rest of the range that the figure `text[start:end]` opens
    ("27" in "27 to 30 pounds", "3" in "3년~5년"), if it opens one."""
    rest = _BETWEEN_REST if _BETWEEN.search(text, max(0, start - 8), start) else _RANGE_REST
    for at in dict.fromkeys((end, _with_unit(text, end, limit))):
        found = rest.match(text, at, limit)
        if found is not None and not _BARE_YEAR.fullmatch(found["figure"]):
            return found.end()
    return end


def _opens_with_year(opening: str) -> bool:
    """Whether a range's opening figure is a year ("2004 to" in "from 90% in 2004 to 60%")."""
    figure = _BARE_YEAR.match(opening.lstrip("$₩€£¥ "))
    return figure is not None and not opening[figure.end():].strip()[:1].isdigit()


def _qualified(text: str, end: int, limit: int) -> int:
    found = _QUALIFIER.match(text, end, limit)
    return found.end() if found else end


def _asked(question: str, span: str) -> bool:
    """Whether the question already holds the span: each of its numbers, and each of its
    words of letters ("October 1973" adds the month to "When did the 1973 crisis
    begin?"; a unit such as 년 or "million" that the question does not hold adds none)."""
    numbers = _DIGITS.findall(span)
    words = [w.casefold() for w in _WORD.findall(span) if not w.isdigit()]
    asked_words = {w.casefold() for w in _WORD.findall(question)}
    if numbers:
        asked = set(_DIGITS.findall(question))
        return all(n in asked for n in numbers) and not any(
            _MONTH_WORD.fullmatch(w) and w not in asked_words for w in words)
    return bool(words) and all(w in asked_words for w in words)


def stacked_value(text: str, line: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """The value of the label `text[line[0]:line[1]]` in a block of labels stacked above
    their values, as forms and warranty cards print them and text extraction reads them
    (column by column):

        제품 보증기간 / 배터리 보증기간 / 부품 보유기간 / 1 년 / 2 년 / 7 년

    The k value lines that follow the run of label lines pair with its last k labels, in
    order ("배터리 보증기간" -> "2 년"). Returns the value's span and the paired block's
    (its first paired label to its last value), or None when the line is no label of
    such a block."""
    if not _stacked_label(text[line[0]:line[1]]):
        return None
    lines = list(lines_of(text, line[0], min(len(text), line[1] + 2000)))
    after = 0  # labels below this one
    while after + 1 < len(lines) and _stacked_label(text[slice(*lines[after + 1])]):
        after += 1
    values = []
    for start, end in lines[after + 1:]:
        if not _STACKED_VALUE.match(text[start:end]) or CELL_SEPARATOR in text[start:end]:
            break
        values.append((start, end))
    if after >= len(values):
        return None
    before = len(values) - 1 - after  # paired labels above this one
    above = list(lines_of(text, max(0, line[0] - 2000), line[0]))[-before:] if before else []
    if len(above) < before or not all(_stacked_label(text[a:b]) for a, b in above):
        return None
    start, end = stripped(text, *values[before])
    return start, end, (above[0][0] if above else line[0]), values[-1][1]


def _stacked_label(line: str) -> bool:
    return (0 < len(line.strip()) <= STACKED_LABEL_CHARS and CELL_SEPARATOR not in line
            and not any(ch.isdigit() for ch in line))
