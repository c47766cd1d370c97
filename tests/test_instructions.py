"""What a question asks, without what it tells the answerer (qa_service.instructions)."""

from __future__ import annotations

import pytest

from qa_service.instructions import asked_part, asks_computation


@pytest.mark.parametrize(("question", "asked"), [
    ("What is Netflix's year end FY2017 total current liabilities (in USD millions)? Base "
     "your judgments on the information provided primarily in the balance sheet.",
     "What is Netflix's year end FY2017 total current liabilities?"),
    ("Using only the balance sheet, how much total assets did Costco have in FY2021? "
     "Answer in USD millions.",
     "Using only the balance sheet, how much total assets did Costco have in FY2021?"),
    ("We need to calculate a metric. Basing your judgment by information plainly provided "
     "in the statement of income, what is Nike's cost of goods sold as a % of revenue? "
     "Round your answer to one decimal place.",
     "what is Nike's cost of goods sold as a % of revenue?"),
    ("We want to calculate a financial metric. Please help us compute it. Here's the "
     "question: what is the FY2015 EBITDA margin for Netflix?",
     "what is the FY2015 EBITDA margin for Netflix?"),
    # a condition whose consequence instructs
    ("Does Adobe have an improving operating margin profile as of FY2022? If operating "
     "margin is not a useful metric for a company like this, then state that and explain why.",
     "Does Adobe have an improving operating margin profile as of FY2022?"),
    ("삼성전자의 재고자산은 얼마인가요? 단위는 백만 원으로 답해 주세요.",
     "삼성전자의 재고자산은 얼마인가요?"),
    # a bracket that says in what units or how to answer
    ("What is Amazon's year-over-year change in revenue from FY2016 to FY2017 (in units of "
     "percents and round to one decimal place)?",
     "What is Amazon's year-over-year change in revenue from FY2016 to FY2017?"),
    ("What is Netflix's FY2017 total current liabilities (in USD millions)?",
     "What is Netflix's FY2017 total current liabilities?"),
    ("What was the gross margin (round to two decimals, in percent)?",
     "What was the gross margin?"),
])
def test_instructions_to_the_answerer_are_left_out(question: str, asked: str) -> None:
    assert asked_part(question) == asked


@pytest.mark.parametrize("question", [
    "When did Super Bowl 50 take place?",
    "What is DPO? DPO is defined as: 365 * payables / COGS.",  # a definition is asked
    "Summarize the paper, please.",  # requests alone: all asked
    "요약해 주세요.",
    "반기문이 참여정부에서 맡은 직위는?",
    "Which players used the ball, according to the report?",
    # a condition followed by a statement, not an imperative, is part of what is asked
    "If the lease ends early, what is the penalty?",
    # a bracket that says something else is asked
    "What cash did JnJ realise from the separation of Kenvue (formerly Consumer Health)?",
    "Which region had the biggest drop in revenues (on a percentage basis)?",
    "What were the sales in the domestic (USA) market?",
    "When the war ended, the treaty was signed. Who signed it?",
])
def test_a_question_without_instructions_is_asked_whole(question: str) -> None:
    assert asked_part(question) == question


@pytest.mark.parametrize("question", [
    "What is Amazon's year-over-year change in revenue from FY2016 to FY2017? Calculate "
    "what was asked by utilizing the line items clearly shown in the statement of income.",
    "We need to calculate a reasonable approximation of a financial metric. Basing your "
    "judgment by information plainly provided in the statement of income, what is Nike's "
    "three year average of cost of goods sold as a % of revenue?",
    "Basing your judgment on the income statement and computing from it, what is the "
    "FY2018 gross margin?",
    "What is Amazon's FY2017 days payable outstanding (DPO)? DPO is defined as: 365 * "
    "(average accounts payable) / (COGS + change in inventories).",
    "What was MGM's interest coverage ratio using FY2022 Adjusted EBIT as the numerator "
    "and annual Interest Expense as the denominator?",
    "삼성전자의 2022년 부채비율은 얼마인가요? 부채총계를 자본총계로 나누어 계산해 주세요.",
])
def test_an_instruction_to_calculate_asks_for_a_computed_figure(question: str) -> None:
    assert asks_computation(question)


@pytest.mark.parametrize("question", [
    "What did Newton calculate?",  # the asked part, not an instruction
    "Which computer won? Use the computer science paper.",  # a computer computes nothing
    "How is the score computed?",
    "What is Netflix's year end FY2017 total current liabilities (in USD millions)? Base "
    "your judgments on the information provided primarily in the balance sheet.",
    "When did Super Bowl 50 take place?",
    "요약해 주세요.",
])
def test_a_question_to_read_off_the_documents_asks_for_no_computation(question: str) -> None:
    assert not asks_computation(question)
