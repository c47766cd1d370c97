"""BM25 over the catalog's FTS5 table of pre-tokenized chunks.

SQLite's FTS5 ranks with Okapi BM25 (k1 = 1.2, b = 0.75). Chunks are stored as their
`Tokenizer` tokens joined by spaces, so the FTS tokenizer only splits on those spaces and
Korean gets morphemes, not whitespace words. Because the postings live in the same SQLite
file as the chunks, adding or deleting a document updates BM25 in the same transaction, at
a cost proportional to that document (a static BM25 matrix would have to be rebuilt).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from qa_service.tokens import Tokenizer

__all__ = ["LexicalIndex"]

MAX_QUERY_TOKENS = 64


class LexicalIndex:
    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer

    def document_tokens(self, texts: Sequence[str]) -> list[str]:
        """The FTS column value for each chunk text."""
        return [" ".join(self.tokenizer.tokens(text)) for text in texts]

    def match_expression(self, query: str) -> str | None:
        unique = list(dict.fromkeys(self.tokenizer.tokens(query)))[:MAX_QUERY_TOKENS]
        if not unique:
            return None
        return " OR ".join('"' + token.replace('"', '""') + '"' for token in unique)

    def search(
        self,
        conn: sqlite3.Connection,
        query: str,
        limit: int,
        document_ids: Sequence[str] | None = None,
    ) -> list[tuple[int, float]]:
        """(chunk id, BM25 score; higher is better), best first."""
        expression = self.match_expression(query)
        if expression is None or limit <= 0:
            return []
        sql = "SELECT rowid, -bm25(chunks_fts) AS score FROM chunks_fts WHERE chunks_fts MATCH ?"
        params: list[object] = [expression]
        if document_ids is not None:
            marks = ",".join("?" * len(document_ids))
            sql += f" AND rowid IN (SELECT id FROM chunks WHERE document_id IN ({marks}))"
            params.extend(document_ids)
        sql += " ORDER BY bm25(chunks_fts) LIMIT ?"
        params.append(limit)
        return [(int(row[0]), float(row[1])) for row in conn.execute(sql, params)]
