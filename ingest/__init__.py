"""Producing an index: parse PDFs, chunk pages, embed chunks, publish them to a knowledge base."""
