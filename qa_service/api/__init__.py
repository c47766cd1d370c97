"""The HTTP API (FastAPI). Build it with `create_app(settings)`."""

from qa_service.api.app import create_app

__all__ = ["create_app"]
