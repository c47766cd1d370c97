"""Aligning our page text with a PDF library's character stream (pure)."""

from __future__ import annotations

import sys

from ingest.align import WHITESPACE, align, align_marked, units_of


def pairs(ours: str, theirs: str) -> dict[str, str]:
    """Each matched unit of `ours` (as "index:char") -> its partner in `theirs`."""
    a, b = units_of(ours), units_of(theirs)
    return {f"{a.owner[i]}:{a.text[i]}": f"{b.owner[j]}:{b.text[j]}"
            for i, j in enumerate(align(a.text, b.text)) if j >= 0}


def test_whitespace_is_every_character_python_calls_space() -> None:
    assert set(WHITESPACE) == {chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()}


def test_units_drop_whitespace_and_remember_their_character() -> None:
    units = units_of("a b\u3000c\n")
    assert units.text == "abc"
    assert units.owner.tolist() == [0, 2, 4]


def test_a_ligature_is_split_into_its_letters() -> None:
    units = units_of("ﬁne")
    assert units.text == "fine"
    assert units.owner.tolist() == [0, 0, 1, 2]
    assert units.part.tolist() == [0, 1, 0, 0]
    assert units.parts.tolist() == [2, 2, 1, 1]


def test_equal_texts_match_one_to_one() -> None:
    assert align("abc", "abc") == [0, 1, 2]


def test_whitespace_and_letter_spacing_do_not_matter() -> None:
    assert len(pairs("한 국 어  문장", "한국어 문장")) == 5


def test_a_ligature_matches_its_letters() -> None:
    found = pairs("a fine profile", "a ﬁne proﬁle")
    assert found["2:f"] == "2:f" and found["3:i"] == "2:i"
    assert len(found) == 12


def test_reordered_rows_are_found_in_any_order() -> None:
    first = "Total current liabilities 5,466,312 4,586,657"
    second = "Long-term debt outstanding 6,499,432 3,364,311"
    ours = f"{second} | x\n{first}"
    a, b = units_of(ours), units_of(f"{first}\n{second}")
    match = align(a.text, b.text)
    assert sum(j >= 0 for j in match) == len(a.text) - 2  # all but "|" and "x"
    assert b.text[match[a.text.index("5,466")]:].startswith("5,466")


def test_our_cell_separators_have_no_partner() -> None:
    ours = "Cash and cash equivalents | $ 2,822,795 | $ 1,467,576"
    found = pairs(ours, "Cash and cash equivalents $ 2,822,795 $ 1,467,576")
    assert not any(key.endswith(":|") for key in found)
    assert len(found) == len(units_of(ours).text) - 2


def test_a_repeated_column_header_is_matched_in_order() -> None:
    ours = "Revenue 2016 2017 | Net | Gross | Net | Gross | 1,024,117 2,048,555 unique-tail"
    theirs = "Revenue 2016 2017 NetGross zz NetGross 1,024,117 2,048,555 unique-tail"
    a, b = units_of(ours), units_of(theirs)
    match = align(a.text, b.text)
    nets = [i for i in range(len(a.text)) if a.text.startswith("Net", i)]
    assert [match[i] for i in nets] == [i for i in range(len(b.text))
                                        if b.text.startswith("Net", i)]


def test_unrelated_texts_share_no_boxes() -> None:
    assert pairs("Sphinx of black quartz, judge my vow.",
                 "The quick brown fox jumps over the lazy dog.") == {}


def test_a_changed_character_is_left_unmatched() -> None:
    ours = "The first part is long enough. X marks. The last part is long as well."
    theirs = "The first part is long enough. Y marks. The last part is long as well."
    a, b = units_of(ours), units_of(theirs)
    match = align(a.text, b.text)
    assert match[a.text.index("X")] == -1
    assert sum(j < 0 for j in match) == 1


def test_only_ends_and_unique_anchors_are_sure() -> None:
    ours = "A unique opening line. ab | cd | ab | cd. A unique closing line."
    theirs = "A unique opening line. cd ab cd ab. A unique closing line."
    a, b = units_of(ours), units_of(theirs)
    match, sure = align_marked(a.text, b.text)
    middle = range(a.text.index("ab"), a.text.rindex("cd") + 2)
    assert all(sure[i] for i in range(len(a.text)) if i not in middle)
    assert not any(sure[i] for i in middle)
    assert any(match[i] >= 0 for i in middle)  # paired by the later steps, not sure
