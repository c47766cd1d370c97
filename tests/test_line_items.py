"""The names of one line item (`qa_service.line_items`)."""

from __future__ import annotations

from qa_service.line_items import LINE_ITEMS, ItemNames, items_named
from qa_service.tokens import Tokenizer


def _names(text: str) -> dict[str, str]:
    return {LINE_ITEMS[item][0]: name for item, name in items_named(text).items()}


def test_a_page_prints_an_item_by_another_name() -> None:
    assert _names("Cost of sales | 20,441 | 19,038") == {"cost of goods sold": "Cost of sales"}
    assert _names("Selling, general and administrative expenses | 7,970") == {
        "selling, general and administrative": "Selling, general and administrative"}
    assert _names("SG&A expense rose") == {"selling, general and administrative": "SG&A"}
    assert _names("Net earnings | 3,033") == {"net income": "Net earnings"}
    assert _names("Total stockholders\u2019 equity") == {"shareholders' equity":
                                                         "stockholders\u2019 equity"}
    assert _names("long term debt") == {"long-term debt": "long term debt"}


def test_the_longest_name_wins_and_names_do_not_overlap() -> None:
    """"cost of revenue" is the cost, not the revenue; "purchases of property and
    equipment" is the capital expenditure, not the assets."""
    assert _names("Cost of revenue | 1,200") == {"cost of goods sold": "Cost of revenue"}
    assert _names("Purchases of property and equipment | (812)") == {
        "capital expenditure": "Purchases of property and equipment"}
    assert _names("Net sales rose; cost of sales fell") == {
        "revenue": "Net sales", "cost of goods sold": "cost of sales"}


def test_names_are_whole_words() -> None:
    assert _names("epsilon, capexplorer, revenueless") == {}
    assert _names("") == {}


def test_a_text_holds_the_questions_words_for_an_item_it_names_otherwise(
        tokenizer: Tokenizer) -> None:
    names = ItemNames.of_question("What was Nike's cost of goods sold in FY2018?",
                                  tokenizer.tokens)
    held = names.shared_words("Cost of sales | 20,441 | 19,038")
    assert set(tokenizer.tokens("cost of goods sold")) <= held
    assert names.shared_words("Revenues | $ 36,397") == frozenset()
    assert ItemNames.of_question("Who founded the company?", tokenizer.tokens).shared_words(
        "Cost of sales | 20,441") == frozenset()


def test_a_longer_name_that_holds_the_asked_one_is_another_item(tokenizer: Tokenizer) -> None:
    """Asked for revenue, "Cost of revenue" names the cost, not the revenue."""
    names = ItemNames.of_question("What was the company's revenue?", tokenizer.tokens)
    assert names.shared_words("Cost of revenue | 1,200") == frozenset()
    assert names.shared_words("Net sales | 4,100") == frozenset(tokenizer.tokens("revenue"))
    assert names.shared_words("Nothing here about it") == frozenset()
