"""Who may call the API: API keys (hashed, scoped to knowledge bases) and rate limits."""

from qa_service.access.keys import ADMIN_ID, KeyInfo, KeyStore, Principal, Scope
from qa_service.access.rate_limit import RateLimiter

__all__ = ["ADMIN_ID", "KeyInfo", "KeyStore", "Principal", "RateLimiter", "Scope"]
