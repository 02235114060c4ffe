"""Tokens already verified, so a client that sends the same token on every call pays for its
signature once (record 0032). An entry lasts until the token's `exp` plus the leeway, as a
fresh verification would accept it, and only while the provider's key set is the one it was
verified with: a key the provider withdraws takes its tokens with it at the next refresh."""

import time

from {{ cookiecutter.module_name }}.auth.principal import Principal


class VerifiedTokens:
    def __init__(self, max_size: int = 1024) -> None:
        self.max_size = max_size
        self._entries: dict[str, tuple[Principal, float, int]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str, key_version: int) -> Principal | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        principal, valid_until, version = entry
        if version != key_version or time.time() >= valid_until:  # as PyJWT: exp itself is late
            del self._entries[token]
            return None
        return principal

    def put(self, token: str, principal: Principal, valid_until: float, key_version: int) -> None:
        if self.max_size <= 0:
            return
        if len(self._entries) >= self.max_size:  # the oldest entry makes room
            del self._entries[next(iter(self._entries))]
        self._entries[token] = (principal, valid_until, key_version)
