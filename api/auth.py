"""Bearer keys: who is calling, and may they write."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import SecretStr


@dataclass(frozen=True)
class Caller:
    """A request's caller: a stable identity for rate limiting (never the key itself) and whether it may write."""

    identity: str
    may_write: bool


class KeyRing:
    """The configured keys; with none, every caller is anonymous and may write."""

    def __init__(self, keys: Iterable[SecretStr], admin_keys: Iterable[SecretStr]) -> None:
        self._keys = [key.get_secret_value().encode() for key in keys]
        self._admin_keys = [key.get_secret_value().encode() for key in admin_keys]

    @property
    def enabled(self) -> bool:
        """Whether a key is required."""
        return bool(self._keys or self._admin_keys)

    def caller(self, token: str | None, client_host: str) -> Caller | None:
        """The caller for a bearer token, or None when a key is required and this one is missing or unknown."""
        if not self.enabled:
            return Caller(f"ip:{client_host}", may_write=True)
        if token is None:
            return None
        given = token.encode()
        admin = _matches_any(given, self._admin_keys)
        if not (admin or _matches_any(given, self._keys)):
            return None
        return Caller(f"key:{hashlib.sha256(given).hexdigest()[:16]}", may_write=admin or not self._admin_keys)


def _matches_any(given: bytes, keys: list[bytes]) -> bool:
    """Constant-time comparison against every key (no early exit)."""
    found = False
    for key in keys:
        found |= hmac.compare_digest(given, key)
    return found
