"""Answering questions from retrieved passages: extractive (offline) or through an LLM."""
