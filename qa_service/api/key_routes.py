"""HTTP routes for API keys: admin only, but `GET /keys/me` (what the calling key may do).
A key is shown once, when it is created."""

from __future__ import annotations

from fastapi import APIRouter, status

from qa_service.access import Scope
from qa_service.api.deps import AdminCaller, Caller, ServicesDep
from qa_service.api.models import CreateKey, ErrorOut, KeyCreated, KeyList, KeyOut, KeyWho

__all__ = ["router"]

router = APIRouter(prefix="/keys", tags=["keys"],
                   responses={code: {"model": ErrorOut} for code in (400, 401, 403, 404, 422)})


@router.post("", status_code=status.HTTP_201_CREATED, response_model=KeyCreated)
def create_key(body: CreateKey, services: ServicesDep, _admin: AdminCaller) -> dict[str, object]:
    """A new key for existing knowledge bases. The response holds the key: store it now,
    it is never shown again (only its hash is kept)."""
    info, key = services.create_key(body.kbs, Scope(body.scope))
    return {**info.to_json(), "key": key}


@router.get("", response_model=KeyList)
def list_keys(services: ServicesDep, _admin: AdminCaller) -> dict[str, object]:
    return {"keys": [info.to_json() for info in services.access.keys.infos()]}


@router.get("/me", response_model=KeyWho)
def who_am_i(caller: Caller) -> dict[str, object]:
    """What the calling key may do (any valid key): whether it is the admin, its scope and
    the knowledge bases it covers. Clients (the web page) hide what it cannot do; the
    server refuses it anyway."""
    if caller.admin:
        return {"admin": True, "scope": "admin", "kbs": None}
    return {"admin": False, "scope": caller.scope.value, "kbs": sorted(caller.kbs)}


@router.delete("/{key_id}", response_model=KeyOut)
def revoke_key(key_id: str, services: ServicesDep, _admin: AdminCaller) -> dict[str, object]:
    """Revoke a key: every request with it fails from now on, in every server process."""
    return services.access.keys.revoke(key_id).to_json()
