"""BM25 over the catalog's FTS5 table (`Fts5Postings`), with the project's tokenizer."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from qa_service.lexical import MAX_QUERY_TOKENS, Budget, LexicalIndex, one_edit
from qa_service.schemas import Chunk, DocumentInfo, DocumentStatus, Page
from qa_service.store.catalog import Catalog, now
from qa_service.store.fts import Fts5Postings, create_postings, write_postings


@pytest.fixture
def catalog(tmp_path: Path, lexical: LexicalIndex):  # type: ignore[no-untyped-def]
    store = Catalog(tmp_path / "catalog.sqlite")
    store.initialize(create_postings)
    texts = {
        1: "Otters eat fish. Otters sleep holding hands. Otters are playful.",
        2: "A single otter was seen near the river bank.",
        3: "Trains leave the station every hour.",
        4: "서울에서 부산까지 기차로 세 시간이 걸린다.",
    }
    with store.transaction() as conn:
        for chunk_id, text in texts.items():
            doc = "doc-a" if chunk_id < 3 else "doc-b"
            conn.execute("INSERT INTO chunks (id, document_id, page, char_start, char_end, text)"
                         " VALUES (?, ?, 1, 0, ?, ?)", (chunk_id, doc, len(text), text))
            conn.execute("INSERT INTO chunks_fts (rowid, tokens) VALUES (?, ?)",
                         (chunk_id, lexical.chunk_fields([text])[0].text))
    yield store
    store.close()


def search(catalog: Catalog, lexical: LexicalIndex, query: str, limit: int = 10,
           docs: list[str] | None = None) -> list[tuple[int, float]]:
    with catalog.snapshot() as conn:
        return lexical.search(Fts5Postings(conn), query, limit, docs)


def test_more_occurrences_rank_higher(catalog: Catalog, lexical: LexicalIndex) -> None:
    hits = search(catalog, lexical, "otters")
    assert [i for i, _ in hits] == [1, 2]
    assert hits[0][1] > hits[1][1] > 0


def test_korean_query_matches_morphemes(catalog: Catalog, lexical: LexicalIndex) -> None:
    assert [i for i, _ in search(catalog, lexical, "부산은 서울과 가깝나요?")] == [4]


def test_document_filter_and_limit(catalog: Catalog, lexical: LexicalIndex) -> None:
    assert search(catalog, lexical, "otter trains", docs=["doc-b"])[0][0] == 3
    assert [i for i, _ in search(catalog, lexical, "otter trains", docs=["doc-b"])] == [3]
    assert len(search(catalog, lexical, "otter trains", limit=1)) == 1
    assert search(catalog, lexical, "otter", limit=0) == []


def test_queries_without_tokens_find_nothing(catalog: Catalog, lexical: LexicalIndex) -> None:
    assert search(catalog, lexical, "what is it?") == []
    assert lexical.query_terms("the of and") == []


@pytest.mark.parametrize("query", ['otters" OR "trains', "NEAR(otters trains)", "otters AND",
                                  "*", "col:otters", '""'])
def test_fts_syntax_in_queries_is_treated_as_words(catalog: Catalog, lexical: LexicalIndex,
                                                   query: str) -> None:
    search(catalog, lexical, query)  # never an FTS5 syntax error


def test_query_terms_are_distinct_and_capped(lexical: LexicalIndex) -> None:
    assert lexical.query_terms("Otters otters rivers") == ["otter", "river"]
    many = " ".join(f"word{n}" for n in range(MAX_QUERY_TOKENS + 10))
    assert len(lexical.query_terms(many)) == MAX_QUERY_TOKENS
    assert lexical.query_terms("otters", also=["river", "otter"]) == ["otter", "river"]


def test_a_term_with_quotes_is_matched_as_a_word(catalog: Catalog) -> None:
    with catalog.snapshot() as conn:
        postings = Fts5Postings(conn)
        assert postings.bm25(['otter" OR "train', "otter"], 10) == postings.bm25(["otter"], 10)
        assert postings.bm25([], 10) == [] and postings.bm25(["otter"], 0) == []


def test_chunk_fields_share_the_identity_and_keep_each_section(lexical: LexicalIndex) -> None:
    fields = lexical.chunk_fields(["Total assets 19,012", "Revenue grew"],
                                  ["CONSOLIDATED BALANCE SHEETS", ""], "NETFLIX 2017 10K")
    assert [f.identity for f in fields] == ["netflix 2017 10k"] * 2
    assert fields[0].section == "consolid balanc sheet" and fields[1].section == ""
    assert fields[1].text == "revenu grew"


def test_a_heading_counts_more_than_the_same_words_in_the_text(tmp_path: Path,
                                                               lexical: LexicalIndex) -> None:
    """FTS5 weighs each field's term frequency (`FIELD_WEIGHTS`) and normalizes by the
    chunk's whole length: a chunk titled "BALANCE SHEETS" beats a chunk of the same length
    that mentions a balance sheet once in its text."""
    store = Catalog(tmp_path / "catalog.sqlite")
    store.initialize(create_postings)
    chunks = [("CONSOLIDATED BALANCE SHEETS", "Total assets 19,012 and total equity 6,000"),
              ("NOTES", "The consolidated balance sheets show total assets 19,012")]
    chunks += [(f"NOTE {n}", f"Unrelated note number {n} about trains") for n in range(8)]
    with store.transaction() as conn:
        for chunk_id, (section, text) in enumerate(chunks, start=1):
            fields = lexical.chunk_fields([text], [section])[0]
            conn.execute("INSERT INTO chunks_fts (rowid, identity, section, tokens) "
                         "VALUES (?, ?, ?, ?)", (chunk_id, *fields))
    hits = search(store, lexical, "balance sheets")
    store.close()
    assert [i for i, _ in hits] == [1, 2]


def test_a_catalog_from_before_the_fields_keeps_its_postings_in_the_text_field(
        tmp_path: Path, lexical: LexicalIndex) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as old:  # the one-column table of earlier versions
        old.execute("CREATE VIRTUAL TABLE chunks_fts USING fts5(tokens, tokenize = "
                    "'unicode61 remove_diacritics 0')")
        old.execute("INSERT INTO chunks_fts (rowid, tokens) VALUES (3, ?)",
                    (" ".join(lexical.tokenizer.tokens("Zoo handbook\nOtters hold hands.")),))
    old.close()
    store = Catalog(path)
    store.initialize(create_postings)
    store.initialize(create_postings)  # once only
    assert [i for i, _ in search(store, lexical, "otters")] == [3]
    page = "Penguins eat herring."
    chunk = Chunk(id=7, document_id="d", page=1, char_start=0, char_end=len(page), text=page)
    info = DocumentInfo("d", "penguins.pdf", DocumentStatus.INDEXED, "", 1, 1, 10, now(), now())
    with store.transaction() as conn:
        store.insert_indexed(conn, info, [Page(1, page)], [chunk])
        write_postings(conn, "d", [chunk], lexical.chunk_fields([page], [""], "Zoo handbook"))
        columns = [row[1] for row in conn.execute("PRAGMA table_info(chunks_fts)")]
    assert columns == ["identity", "section", "tokens"]
    assert [i for i, _ in search(store, lexical, "penguins")] == [7]
    assert {i for i, _ in search(store, lexical, "zoo handbook")} == {3, 7}
    store.close()


# --- misspelled words ---------------------------------------------------------------


def test_one_edit_covers_each_kind_of_slip() -> None:
    near = one_edit("otter")
    assert {"oter", "toter", "otfer", "ottaer"} <= near  # deleted, swapped, replaced, added
    assert "otter" not in near and "oettr" not in near  # itself; a letter moved two places
    n = len("otter")
    assert len(near) <= n + (n - 1) + 25 * n + 26 * (n + 1)


@pytest.mark.parametrize(("typed", "meant"), [
    ("stattion", "station"),  # a letter too many
    ("statin", "station"),  # a letter missing
    ("signle", "singl"),  # two letters swapped in "single", which is indexed as its stem
])
def test_a_misspelled_word_is_read_as_the_indexed_word(catalog: Catalog, lexical: LexicalIndex,
                                                       typed: str, meant: str) -> None:
    tokens = lexical.tokenizer.tokens(typed)  # the query's tokens: English stems
    with catalog.snapshot() as conn:
        assert lexical.near_terms(Fts5Postings(conn), tokens) == {tokens[0]: meant}


@pytest.mark.parametrize("typed", [
    "station",  # indexed itself
    "otte",  # too short: every four letters have neighbours
    "strawberry",  # nothing near it
    "부산행",  # not a Latin word
    "train2",
])
def test_other_words_have_no_reading(catalog: Catalog, lexical: LexicalIndex,
                                     typed: str) -> None:
    with catalog.snapshot() as conn:
        assert lexical.near_terms(Fts5Postings(conn), [typed]) == {}


def test_search_also_matches_the_words_given(catalog: Catalog, lexical: LexicalIndex) -> None:
    with catalog.snapshot() as conn:
        postings = Fts5Postings(conn)
        assert lexical.search(postings, "stattion", 10) == []
        assert [i for i, _ in lexical.search(postings, "stattion", 10, also=["station"])] == [3]


def test_a_budget_keeps_the_rarest_terms_within_their_postings() -> None:
    frequencies = {"rare": 3, "middle": 40, "common": 900, "absent": 0}
    terms = ["common", "rare", "absent", "middle"]
    assert Budget(50, frequencies).kept(terms) == ["rare", "absent", "middle"]  # order kept
    assert Budget(10, frequencies).kept(terms) == ["rare", "absent"]  # absent costs nothing
    assert Budget(1, frequencies).kept(["common", "middle"]) == ["middle"]  # the rarest stays
    assert Budget(0, frequencies).kept(terms) == terms  # 0: no budget
    assert Budget(10_000, frequencies).kept(terms) == terms


def test_a_search_over_budget_leaves_its_common_terms_out(catalog: Catalog,
                                                          lexical: LexicalIndex) -> None:
    """"otter" is in two chunks, "station" in one: with one posting to spend, only the
    station's chunk can match; without a budget, both terms match."""
    with catalog.snapshot() as conn:
        postings = Fts5Postings(conn)
        frequencies = lexical.statistics(postings, ["otter", "station"]).frequencies
        tight = lexical.search(postings, "otters station", 10, budget=Budget(1, frequencies))
        loose = lexical.search(postings, "otters station", 10, budget=Budget(3, frequencies))
        scoped = lexical.search(postings, "otters station", 10, ["doc-a"],
                                budget=Budget(1, frequencies))
    assert frequencies == {"otter": 2, "station": 1}
    assert [i for i, _ in tight] == [3]
    assert sorted(i for i, _ in loose) == [1, 2, 3]
    assert scoped == []  # the same terms within a scope: the station is not in doc-a
