"""What a chunk is matched together with: document identity and section (ingest/context.py)."""

from __future__ import annotations

import pytest

from ingest.chunk import ChunkerConfig, chunk_document
from ingest.context import (
    captioned_name,
    chunk_sections,
    document_identity,
    filename_words,
    joined_context,
    opening_line,
    section_heading,
    statement_titles,
    table_heading,
)
from qa_service.schemas import Page
from qa_service.statements import STATEMENTS, statement_names

BALANCE_SHEET = ("Table of Contents\nNETFLIX, INC.\nCONSOLIDATED BALANCE SHEETS\n(in thousands)\n"
                 "As of December 31,\n2017 2016\nTotal current liabilities\n5,466,312 4,586,657")
COVER = ("UNITED STATES\nSECURITIES AND EXCHANGE COMMISSION\nWashington, D.C. 20549\nFORM 10-K\n"
         "(Mark One) the annual report pursuant to section 13 of the act, for the fiscal year.\n"
         "NETFLIX, INC.\n(Exact name of registrant as specified in its charter)")


@pytest.mark.parametrize(("name", "words"), [
    ("NETFLIX_2017_10K.pdf", "NETFLIX 2017 10K"),
    ("/srv/uploads/AMCOR_2022_8K_dated-2022-07-01.pdf", "AMCOR 2022 8K dated 2022 07 01"),
    ("annualReport2021.PDF", "annual Report2021"),
    ("삼성 재무제표.pdf", "삼성 재무제표"),
    ("doc_01.pdf", "doc 01"),
])
def test_filename_words(name: str, words: str) -> None:
    assert filename_words(name) == words


def test_identity_is_the_file_name_the_title_and_the_first_page_s_headings() -> None:
    identity = document_identity("NETFLIX_2017_10K.pdf", "Netflix annual report",
                                 [Page(1, COVER), Page(2, "Other text.")])
    assert identity.startswith("NETFLIX 2017 10K | Netflix annual report | ")
    assert "NETFLIX, INC." in identity and "FORM 10-K" in identity
    assert "Mark One" not in identity  # a sentence, not a heading


def test_identity_skips_empty_first_pages() -> None:
    identity = document_identity("x.pdf", "", [Page(1, ""), Page(2, "ANNUAL REPORT 2023\nBody.")])
    assert identity == "x | ANNUAL REPORT 2023"


def test_the_nearest_heading_above_a_position() -> None:
    text = "1. Background\nSome prose here.\nRESULTS OF OPERATIONS\nRevenue grew.\nMore."
    assert section_heading(text, text.index("Revenue")) == "RESULTS OF OPERATIONS"
    assert section_heading(text, text.index("Some")) == "1. Background"
    assert section_heading(text, 0) == ""
    korean = "가. 추진 배경\n서울시는 스마트도시를 추진한다."
    assert section_heading(korean, korean.index("서울")) == "가. 추진 배경"


@pytest.mark.parametrize(("heading", "named"), [
    ("CONSOLIDATED BALANCE SHEETS", "balance sheet"),
    ("Consolidated Statements of Financial Position", "balance sheet"),
    ("CONSOLIDATED STATEMENTS OF OPERATIONS", "income statement"),
    ("Condensed Consolidated Statements of Income", "income statement"),
    ("CONSOLIDATED STATEMENTS OF CASH FLOWS", "cash flow statement"),
    ("연 결 재 무 상 태 표", "balance sheet"),
    ("손익계산서", "income statement"),
])
def test_financial_statements_bring_the_names_people_use(heading: str, named: str) -> None:
    assert any(named in names for names in statement_names([heading]))


def test_no_statement_names_for_other_headings() -> None:
    assert statement_names(["RISK FACTORS", "1. Introduction"]) == []


def test_chunk_sections_add_the_heading_only_where_the_chunk_does_not_show_it() -> None:
    pages = [Page(1, BALANCE_SHEET + "\n" + "Other current liabilities grew. " * 120)]
    chunks = chunk_document("d" * 64, pages, ChunkerConfig(target_chars=500))
    assert len(chunks) > 2
    sections = chunk_sections(pages, chunks)
    first, later = sections[0], sections[-1]
    assert "balance sheet" in first
    assert "CONSOLIDATED BALANCE SHEETS" not in first  # the first chunk holds it already
    assert "CONSOLIDATED BALANCE SHEETS" in later and "income statement" not in later
    assert all(c.text in pages[0].text for c in chunks)  # context is never page text


CHECKS = ("NICS Firearm Background Checks\nNovember - 2015\n"
          "Pre-Pawn | Redemption | Rentals\n"
          "State / Territory | Permit | Handgun | Long Gun | Totals\n"
          + "".join(f"State {n} | {n},140 | {n}2,155 | 14,847 | 295,891\n" for n in range(40))
          + "Kentucky | 264,140 | 12,155 | 14,847 | 295,891\n"
          "NOTES: Some states may reflect lower than expected numbers.")


def test_a_chunk_opening_inside_a_table_is_matched_with_its_header_rows() -> None:
    kentucky = CHECKS.index("State 39")
    # "November - 2015" reads as a row (a label, a dash and a year): the table's period
    assert table_heading(CHECKS, kentucky) == (
        "November - 2015 | Pre-Pawn | Redemption | Rentals | "
        "State / Territory | Permit | Handgun | Long Gun | Totals")
    assert table_heading(CHECKS, CHECKS.index("Kentucky") + 3) == table_heading(CHECKS, kentucky)
    # a chunk that opens with the header, with prose or above the table shows what it needs
    assert table_heading(CHECKS, CHECKS.index("State / Territory")) == ""
    assert table_heading(CHECKS, CHECKS.index("NOTES")) == ""
    assert table_heading(CHECKS, 0) == ""
    pages = [Page(1, CHECKS)]
    chunks = chunk_document("c" * 64, pages, ChunkerConfig(target_chars=400))
    sections = chunk_sections(pages, chunks)
    # chunks open inside a row too: the row they open in is followed up
    inside = [s for c, s in zip(chunks, sections, strict=True)
              if CHECKS.index("State 0") < c.char_start < CHECKS.index("NOTES")]
    assert len(inside) >= 3 and all("Permit | Handgun" in s for s in inside)
    assert "Permit | Handgun" not in sections[0]


def test_a_long_table_header_is_cut_at_a_word() -> None:
    header = " | ".join(f"Column number {n}" for n in range(40))
    text = f"{header}\nAlaska | {' | '.join(['7'] * 40)}\n"
    heading = table_heading(text, text.index("Alaska"))
    assert 0 < len(heading) <= 240 and header.startswith(heading)
    assert header[len(heading)] == " "


def test_a_chunks_context_is_its_identity_then_its_section() -> None:
    assert joined_context("NETFLIX 2017 10K", "balance sheet") == \
        "NETFLIX 2017 10K | balance sheet"
    assert joined_context("NETFLIX 2017 10K", "") == "NETFLIX 2017 10K"
    assert joined_context("", "balance sheet") == "balance sheet"


def test_file_name_words_the_title_already_holds_are_said_once() -> None:
    assert document_identity("007-Super_Bowl_50.pdf", "Super Bowl 50", []) == "Super Bowl 50"
    assert document_identity("NETFLIX_2017_10K.pdf", "Annual report", []).startswith(
        "NETFLIX 2017 10K | Annual report")


@pytest.mark.parametrize(("page", "line"), [
    ("MORAN: A Multi-Object Rectified Attention Network\nfor Scene Text Recognition\nCanjie Luo",
     "MORAN: A Multi-Object Rectified Attention Network for Scene Text Recognition"),
    ("12\n\nWARN Report*\nSummary by Received Date", "WARN Report*"),
    ("Ulta Beauty Announces Fourth Quarter Fiscal 2022 Results\nBOLINGBROOK, Ill.",
     "Ulta Beauty Announces Fourth Quarter Fiscal 2022 Results"),
    ("The company grew this year, and we are proud of it.\nMore", ""),  # a sentence
    ("", ""),
])
def test_the_opening_line_is_the_pages_title(page: str, line: str) -> None:
    assert opening_line(page) == line


def test_the_identity_holds_a_papers_title_in_any_case() -> None:
    pages = [Page(1, "MORAN: A Multi-Object Rectified Attention Network\nfor Scene Text "
                     "Recognition\nCanjie Luo, Lianwen Jin\nAbstract. Irregular text is hard.")]
    identity = document_identity("1901.03003.pdf", "", pages)
    title = "MORAN: A Multi-Object Rectified Attention Network for Scene Text Recognition"
    assert title in identity


def test_a_statements_names_include_the_measures_it_reports() -> None:
    page = Page(1, "CONSOLIDATED STATEMENTS OF EARNINGS\n$ and shares in millions\n"
                   "Revenue | $ 46,298 | $ 51,761\nGross profit | 9,912 | 11,640")
    chunks = chunk_document("e" * 64, [page], ChunkerConfig())
    assert "gross margin" in chunk_sections([page], chunks)[0]
    assert "free cash flow" in statement_names(["CONSOLIDATED STATEMENTS OF CASH FLOWS"])[0]


@pytest.mark.parametrize(("page", "titled"), [
    ("NIKE, Inc. Consolidated Statements of Income\nYear Ended May 31,\nRevenues | $ 36,397",
     "income statement"),
    ("Condensed Consolidated Balance Sheets\n($ in millions)\nTotal assets | 16,543",
     "balance sheet"),
    ("Table of Contents\nU.S. GAAP Condensed Consolidated Statements of Cash Flows (Unaudited)"
     "\nNet cash provided by operating activities | 1,234", "cash flow statement"),
])
def test_a_statement_titled_in_title_case_brings_its_names(page: str, titled: str) -> None:
    pages = [Page(1, page)]
    section = chunk_sections(pages, chunk_document("f" * 64, pages, ChunkerConfig()))[0]
    assert titled in section


@pytest.mark.parametrize("page", [
    "Consolidated Balance Sheets 53\nConsolidated Statements of Income 54",  # contents
    "Free Cash Flow\nFree cash flow is cash flow from operating activities less capex.",
    "Cash Flows\nOur cash flows were as follows ($ in millions):",
    "Results of Operations\nThe following discussion refers to the consolidated statements"
    " of operations and the notes, which are an integral part of this report.",
])
def test_other_lines_that_mention_a_statement_bring_no_names(page: str) -> None:
    pages = [Page(1, page)]
    assert statement_titles(page) == []
    section = chunk_sections(pages, chunk_document("f" * 64, pages, ChunkerConfig()))[0]
    assert not any(statement.names in section for statement in STATEMENTS)


@pytest.mark.parametrize(("page", "name"), [
    (COVER, "NETFLIX, INC."),
    ("Commission file number 0-20355\nCostco Wholesale Corporation\n(Exact name of registrant "
     "as specified in its charter)\nWashington", "Costco Wholesale Corporation"),
    # the caption broken across lines by the text layer, the name's full stop before it
    ("Commission File No. 1-10635\nNIKE, Inc\n. (Exact name of Registran\nt as specified",
     "NIKE, Inc"),
    ("Acme Holdings Ltd.\n(Name of Issuer)\nCommon Stock", "Acme Holdings Ltd."),
    ("NETFLIX, INC.\nCONSOLIDATED BALANCE SHEETS", ""),  # no caption
    ("1-3619\n(Exact name of registrant as specified in its charter)", ""),  # no letters
])
def test_the_name_a_form_captions_as_its_filers(page: str, name: str) -> None:
    assert captioned_name(page) == name


def test_the_identity_holds_a_filers_name_set_in_title_case() -> None:
    cover = ("UNITED STATES\nSECURITIES AND EXCHANGE COMMISSION\nFORM 10-Q\n"
             "MGM Resorts International\n(Exact name of registrant as specified in its charter)")
    identity = document_identity("doc_16.pdf", "", [Page(1, cover)])
    assert "MGM Resorts International" in identity  # not a heading: title case
