"""Request dependencies: the services, the caller (from the bearer key), and knowledge
bases opened only for callers who may see them.

A knowledge base that the caller's key does not cover answers 404, exactly as if it did
not exist; one it covers read-only answers 403 to a write."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Path, Request

from qa_service.access import Principal
from qa_service.errors import Forbidden, KnowledgeBaseNotFound
from qa_service.services import Services
from qa_service.store.knowledge_base import KnowledgeBase
from qa_service.store.registry import validate_name

__all__ = ["AdminCaller", "AnyKb", "Caller", "ExtensibleKb", "KbName", "SearchableKb",
           "ServicesDep", "WritableKb", "get_services"]


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
KbName = Annotated[str, Path(description="Knowledge base name", max_length=200)]


def authenticate(request: Request, authorization: Annotated[str | None, Header(
        description="`Bearer <key>`: the admin key or a key from POST /keys")] = None
                 ) -> Principal:
    """The principal that `Authenticate` found for this request's key, before its body was
    read (`authorization` is declared for the API reference)."""
    del authorization
    principal: Principal = request.state.principal
    return principal


Caller = Annotated[Principal, Depends(authenticate)]


def require_admin(caller: Caller) -> Principal:
    if not caller.admin:
        raise Forbidden("only the admin key manages knowledge bases and keys")
    return caller


AdminCaller = Annotated[Principal, Depends(require_admin)]


def _visible(kb: str, caller: Principal) -> str:
    validate_name(kb)
    if not caller.can_see(kb):
        raise KnowledgeBaseNotFound(kb)
    return kb


def open_kb(kb: KbName, services: ServicesDep, caller: Caller) -> KnowledgeBase:
    """Any existing knowledge base the caller may see (whatever its embedding model)."""
    return services.registry.open(_visible(kb, caller))


def open_searchable_kb(kb: KbName, services: ServicesDep, caller: Caller) -> KnowledgeBase:
    """A visible knowledge base whose index matches this service's embedding model."""
    return services.open_kb(_visible(kb, caller))


def _writable(kb: KnowledgeBase, caller: Principal) -> KnowledgeBase:
    if not caller.can_write(kb.name):
        raise Forbidden(f"this key is read-only for knowledge base '{kb.name}'")
    return kb


def open_writable_kb(kb: KbName, services: ServicesDep, caller: Caller) -> KnowledgeBase:
    """A visible knowledge base the caller may delete documents from."""
    return _writable(open_kb(kb, services, caller), caller)


def open_extensible_kb(kb: KbName, services: ServicesDep, caller: Caller) -> KnowledgeBase:
    """A searchable knowledge base the caller may add documents to."""
    return _writable(open_searchable_kb(kb, services, caller), caller)


AnyKb = Annotated[KnowledgeBase, Depends(open_kb)]
SearchableKb = Annotated[KnowledgeBase, Depends(open_searchable_kb)]
WritableKb = Annotated[KnowledgeBase, Depends(open_writable_kb)]
ExtensibleKb = Annotated[KnowledgeBase, Depends(open_extensible_kb)]
