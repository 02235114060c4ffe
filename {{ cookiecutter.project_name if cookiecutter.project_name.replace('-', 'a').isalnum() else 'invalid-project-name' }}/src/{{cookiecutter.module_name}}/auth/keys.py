"""The identity provider's signing keys: fetched with httpx (never blocking the event loop),
cached, refreshed on a timer and for an unknown `kid` at most once per cooldown (record 0029).

A failed refresh keeps the last good keys. With no keys yet and the provider down, a request
gets `ProviderUnavailable` (503 with Retry-After), and the next fetch waits for the cooldown.
"""

import asyncio
import logging
import math
import time
from collections.abc import Iterable, Mapping
from typing import Any

import httpx
import jwt

logger = logging.getLogger(__name__)
DISCOVERY_PATH = "/.well-known/openid-configuration"


class ProviderUnavailable(Exception):  # noqa: N818 (a state, not an error of the caller)
    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__("the identity provider's keys are not available yet; retry later")
        self.retry_after_seconds = retry_after_seconds


class KeySet:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        issuer: str,
        jwks_url: str = "",
        cooldown_seconds: float = 30.0,
        static_keys: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        self._http = http
        self._issuer = issuer
        self._jwks_url = jwks_url
        self._cooldown = cooldown_seconds
        self._static = {str(key.get("kid", "")): dict(key) for key in static_keys}
        self._keys: dict[str, dict[str, Any]] = dict(self._static)
        self._parsed: dict[tuple[str, str], jwt.PyJWK] = {}
        self._loaded = False
        self.version = 0  # changes whenever the published keys do (auth/token_cache.py)
        self._last_attempt = -math.inf
        self._lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def remote(self) -> bool:
        return bool(self._issuer or self._jwks_url)

    async def key(self, kid: str, algorithm: str) -> jwt.PyJWK | None:
        """The key a token names, refetching the set once per cooldown for a `kid` not seen."""
        if kid not in self._keys and self.remote:
            await self._refresh_for(kid)
        jwk = self._keys.get(kid)
        if jwk is None or jwk.get("alg", algorithm) != algorithm:
            return None
        parsed = self._parsed.get((kid, algorithm))
        if parsed is None:
            try:
                parsed = jwt.PyJWK(jwk, algorithm=algorithm)
            except jwt.PyJWKError:  # the token's algorithm does not fit the key's type
                return None
            self._parsed[kid, algorithm] = parsed
        return parsed

    async def _refresh_for(self, kid: str) -> None:
        async with self._lock:
            if kid in self._keys:  # another request fetched it while this one waited
                return
            wait = self._last_attempt + self._cooldown - time.monotonic()
            if wait <= 0:
                await self._refresh_locked()
                wait = self._cooldown
            if not self._loaded:
                raise ProviderUnavailable(max(1, math.ceil(wait)))

    async def refresh(self) -> bool:
        async with self._lock:
            return await self._refresh_locked()

    async def refresh_every(self, seconds: float) -> None:
        """The timer: runs until cancelled (main.py's lifespan). A fetch that a request made
        within the cooldown counts, so the provider never sees two in a row."""
        while True:
            async with self._lock:
                if time.monotonic() - self._last_attempt >= self._cooldown:
                    await self._refresh_locked()
            await asyncio.sleep(seconds)

    async def _refresh_locked(self) -> bool:
        self._last_attempt = time.monotonic()
        try:
            keys = await self._fetch()
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            kept = "keeping the last good keys" if self._loaded else "no keys yet"
            logger.warning("could not fetch the identity provider's keys (%s): %s", kept, exc)
            return False
        keys = {**keys, **self._static}
        if keys != self._keys:
            self.version += 1
        self._keys = keys
        self._parsed.clear()
        self._loaded = True
        return True

    async def _fetch(self) -> dict[str, dict[str, Any]]:
        if not self._jwks_url:
            document = await self._get_json(self._issuer.rstrip("/") + DISCOVERY_PATH)
            if document.get("issuer") != self._issuer:
                msg = f"discovery names the issuer {document.get('issuer')!r}, not {self._issuer!r}"
                raise ValueError(msg)
            jwks_uri = document["jwks_uri"]
            if not isinstance(jwks_uri, str):
                raise TypeError("jwks_uri is not a string")
            self._jwks_url = jwks_uri
        keys = (await self._get_json(self._jwks_url))["keys"]
        return {
            str(key.get("kid", "")): key
            for key in keys
            if isinstance(key, dict) and key.get("use", "sig") == "sig"
        }

    async def _get_json(self, url: str) -> dict[str, Any]:
        response = await self._http.get(url)
        response.raise_for_status()
        document = response.json()
        if not isinstance(document, dict):
            raise TypeError(f"{url} did not answer a JSON object")
        return document
