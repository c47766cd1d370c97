"""Request dependencies: the services built in the lifespan, and opened knowledge bases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from qa_service.services import Services
from qa_service.store.knowledge_base import KnowledgeBase

__all__ = ["KbName", "ServicesDep", "get_services"]


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
KbName = Annotated[str, Path(description="Knowledge base name", max_length=200)]


def open_kb(kb: KbName, services: ServicesDep) -> KnowledgeBase:
    """Any existing knowledge base (listing, reading, deleting work whatever its model)."""
    return services.registry.open(kb)


def open_searchable_kb(kb: KbName, services: ServicesDep) -> KnowledgeBase:
    """A knowledge base whose index matches this service's embedding model."""
    return services.open_kb(kb)


AnyKb = Annotated[KnowledgeBase, Depends(open_kb)]
SearchableKb = Annotated[KnowledgeBase, Depends(open_searchable_kb)]
