"""A bilingual glossary of the labels business documents print: invoices and receipts,
financial statements, price lists and forms, in English and Korean.

The word bridge (`qa_service.bridge`) translates a question's words by the nearest terms
of the multilingual model's vectors. Those work for words of running text ("warranty" ->
보증) and miss the short labels that forms and statements print: over the team's shared
documents (Korean invoices among them), "total", "due", "subtotal" and "VAT" find no
Korean term at the bridge's threshold, and "invoice" finds 송장 (a shipping note) but not
청구서. An English question about a Korean invoice asks for its total, its due date or
its tax, and the page says 합계, 청구 금액, 지불 기한 and 부가세. So the labels
of these documents are also translated by this glossary, curated by hand: each entry pairs
English words with the Korean words printed for the same label; every English word of an
entry translates into each of its Korean words and back. A question's word takes the
glossary's translations that the knowledge base holds, before the vectors' (`WordBridge`).

Words are matched as the tokenizer writes them (English stems, Korean morphemes), so the
table is read through the tokenizer when first needed (`Glossary.lookup`), not at import.
"""

from __future__ import annotations

import threading

from qa_service.tokens import Tokenizer, has_hangul

__all__ = ["COMPOUND_ENDINGS", "ENTRIES", "Glossary", "compound_parts"]

# (English words, Korean words): the same label in both languages
ENTRIES: tuple[tuple[str, str], ...] = (
    # invoices, receipts, orders
    ("invoice invoices", "청구서 인보이스 송장"),
    ("bill billed billing", "청구"),
    ("receipt receipts", "영수증"),
    ("quotation quote estimate", "견적서 견적"),
    ("delivery", "납품 배송"),
    ("total totals", "합계 총액 총계"),
    ("subtotal", "소계"),
    ("amount amounts", "금액"),
    ("due deadline", "기한"),
    ("pay paid payment payments payable", "지불 지급 결제"),
    ("issued issuance", "발행"),
    ("date dated", "일자 날짜"),
    ("tax taxes", "세금 세액"),
    ("vat", "부가세"),
    ("consumption", "소비세"),
    ("quantity quantities", "수량"),
    ("price prices", "단가 가격"),
    ("fee fees", "수수료 요금 비용"),
    ("cost costs", "비용"),
    ("charge charges charged", "요금 비용"),
    ("discount discounts", "할인"),
    ("deposit", "입금 예치금"),
    ("account", "계좌 계정"),
    ("supplier vendor seller", "공급자 판매자"),
    ("buyer customer", "구매자 고객"),
    ("item items", "품목"),
    # financial statements
    ("asset assets", "자산"),
    ("liability liabilities", "부채"),
    ("equity", "자본"),
    ("revenue revenues sales", "매출 매출액"),
    ("profit profits", "이익"),
    ("loss losses", "손실"),
    ("income", "이익 수익"),
    ("expense expenses", "비용"),
    ("cash", "현금"),
    ("equivalents", "현금성자산"),  # "cash and cash equivalents": 현금및현금성자산
    ("inventory inventories", "재고"),
    ("consolidated", "연결"),
    ("current", "유동"),
    ("retained", "잉여금"),
    ("dividend dividends", "배당"),
    ("depreciation", "감가상각"),
    ("borrowings debt", "차입금"),
    ("controlling", "지배"),
    ("interest interests", "지분 이자"),
    # contracts, warranties, schedules
    ("warranty guarantee", "보증"),
    ("repair repairs", "수리"),
    ("parts", "부품"),
    ("contract", "계약"),
    ("period", "기간"),
    ("rate rates", "요금 금리"),
    ("budget", "예산"),
    ("investment", "투자"),
    # papers' tables: the splits of a dataset
    ("validation dev", "검증"),
    ("test evaluation", "평가"),
    # loans and rate sheets
    ("loan loans lending", "대출"),
    ("mortgage", "담보"),
    ("variable", "변동"),
    ("principal", "원금 원리금"),
    ("repayment repayments", "상환"),
)

# Korean labels compound a noun with one syllable that stands for a word of these
# documents: 개발비 is 개발 + 비용 (a development fee), 입장료 입장 + 요금, 투자액 투자 + 금액,
# 소비세 소비 + 세금, 발행일 발행 + 날짜 (a date of issue). Kiwi keeps such a compound
# whole, so neither "개발 비용" nor an English question's "development fee" (개발, 비용)
# finds it by its parts.
COMPOUND_ENDINGS: dict[str, str] = {"비": "비용", "료": "요금", "액": "금액", "세": "세금",
                                    "일": "날짜"}
# 원재료 is raw material, not a fee; 이메일, 모바일, 스타일, 프로파일 are no dates
_NOT_COMPOUNDS = ("재료", "메일", "바일", "타일", "파일", "마일", "오일")


def compound_parts(morpheme: str) -> tuple[str, ...]:
    """The parts of a Korean compound label (`COMPOUND_ENDINGS`): its noun of two
    syllables or more and the word its last syllable stands for; () for any other word."""
    ending = COMPOUND_ENDINGS.get(morpheme[-1:])
    if ending is None or len(morpheme) < 3 or not has_hangul(morpheme[:-1]) or (
            morpheme.endswith(_NOT_COMPOUNDS)):
        return ()
    return morpheme[:-1], ending


class Glossary:
    """`ENTRIES` as the tokenizer writes them: an English stem -> Korean morphemes, and a
    Korean morpheme -> English stems."""

    def __init__(self, tokenizer: Tokenizer, entries: tuple[tuple[str, str], ...] = ENTRIES
                 ) -> None:
        self._tokenizer = tokenizer
        self._entries = entries
        self._english: dict[str, tuple[str, ...]] | None = None
        self._korean: dict[str, tuple[str, ...]] = {}
        self._lock = threading.Lock()

    def lookup(self, token: str) -> tuple[str, ...]:
        """The other language's words of `token` (an English stem or a Korean morpheme)."""
        english = self._tables()
        return (self._korean if has_hangul(token) else english).get(token, ())

    def _tables(self) -> dict[str, tuple[str, ...]]:
        """The English table (and the Korean one), built once; read without the lock once
        built (the Korean table is set before the English one)."""
        if self._english is not None:
            return self._english
        with self._lock:
            if self._english is None:
                english: dict[str, dict[str, None]] = {}
                korean: dict[str, dict[str, None]] = {}
                for words, hangul in self._entries:
                    stems = self._tokenizer.tokens(words)
                    morphemes = [t for t in self._tokenizer.tokens(hangul) if has_hangul(t)]
                    for stem in stems:
                        for morpheme in morphemes:
                            english.setdefault(stem, {})[morpheme] = None
                            korean.setdefault(morpheme, {})[stem] = None
                self._korean = {k: tuple(v) for k, v in korean.items()}
                self._english = {k: tuple(v) for k, v in english.items()}
            return self._english
