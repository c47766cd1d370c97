"""Knowledge-base storage: catalog (SQLite + FTS5), vector store (FAISS), registry."""
