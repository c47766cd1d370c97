"""The access decision for one request: which principal a bearer key stands for."""

from __future__ import annotations

import ipaddress

from qa_service.access.keys import KeyStore, Principal, Scope
from qa_service.access.rate_limit import RateLimiter
from qa_service.config import Settings
from qa_service.errors import ConfigurationError, Unauthorized

__all__ = ["ANYONE", "AccessControl", "is_loopback"]

ANYONE = Principal(key_id="anonymous", admin=True, scope=Scope.WRITE)  # auth off (loopback)
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def is_loopback(host: str) -> bool:
    if host.lower() in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class AccessControl:
    """Keys when auth is on (the default); everyone is admin when it is off."""

    def __init__(self, keys: KeyStore, settings: Settings) -> None:
        self.keys = keys
        self.enabled = settings.auth == "on"
        self.asks = RateLimiter("asks", settings.limits.asks_per_minute)
        self.uploads = RateLimiter("uploads", settings.limits.uploads_per_minute)

    @staticmethod
    def check_bind(settings: Settings) -> None:
        """Refuse to serve without keys on anything but a loopback address."""
        if settings.auth == "off" and not is_loopback(settings.host):
            raise ConfigurationError(
                f"QA_AUTH=off is allowed only on a loopback address, and the server would "
                f"listen on {settings.host}; bind 127.0.0.1 (QA_HOST) or turn auth on and "
                "use API keys")

    def authenticate(self, authorization: str | None) -> Principal:
        if not self.enabled:
            return ANYONE
        scheme, _, key = (authorization or "").strip().partition(" ")
        if not authorization:
            raise Unauthorized(
                "this API needs a key: send 'Authorization: Bearer <key>' (the admin key, "
                "or a key from POST /keys)")
        if scheme.lower() != "bearer" or not key.strip():
            raise Unauthorized("malformed Authorization header: use 'Bearer <key>'")
        principal = self.keys.authenticate(key.strip())
        if principal is None:
            raise Unauthorized("the key is not valid: unknown, mistyped or revoked")
        return principal
