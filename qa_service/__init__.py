"""Self-hosted document Q&A: knowledge bases of PDFs, hybrid retrieval, cited answers."""

__version__ = "0.1.0"
__all__ = ["__version__"]
