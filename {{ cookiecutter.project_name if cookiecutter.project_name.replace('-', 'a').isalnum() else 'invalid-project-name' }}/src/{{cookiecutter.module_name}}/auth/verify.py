"""Bearer-token verification with PyJWT: the algorithm allow-list, the provider's key for the
token's `kid`, then signature, issuer, audience and times (record 0028)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import jwt

from {{ cookiecutter.module_name }}.auth.dev_key import DEV_ISSUER, dev_public_jwk
from {{ cookiecutter.module_name }}.auth.keys import KeySet
from {{ cookiecutter.module_name }}.auth.principal import Principal, principal_from
from {{ cookiecutter.module_name }}.auth.token_cache import VerifiedTokens
from {{ cookiecutter.module_name }}.core.config import Settings

REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "sub"]


class InvalidToken(Exception):  # noqa: N818 (the RFC 6750 error code's name)
    """The token is malformed, expired, not yet valid, for another issuer or audience, or its
    signature does not verify. The message says which, for the WWW-Authenticate header."""


class TokenVerifier:
    def __init__(self, settings: Settings, keys: KeySet) -> None:
        self.keys = keys
        self.issuer = settings.oidc_issuer or DEV_ISSUER
        self.audiences = settings.audiences
        self.algorithms = frozenset(settings.oidc_algorithms)
        self.leeway = settings.oidc_leeway_seconds
        self.roles_claim = settings.oidc_roles_claim
        self.client_id_as_audience = settings.oidc_client_id_as_audience
        self.realm = settings.app_name
        self.verified = VerifiedTokens()

    async def verify(self, token: str) -> Principal:
        principal = self.verified.get(token, self.keys.version)
        if principal is not None:
            return principal
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError as exc:
            raise InvalidToken("the token is malformed") from exc
        algorithm, kid = header.get("alg"), header.get("kid", "")
        if not isinstance(algorithm, str) or algorithm not in self.algorithms:
            raise InvalidToken(f"the algorithm {algorithm!r} is not accepted")
        if not isinstance(kid, str):
            raise InvalidToken("the token's kid is not a string")
        key = await self.keys.key(kid, algorithm)
        key_version = self.keys.version  # the set `key` came from: nothing awaited in between
        if key is None:
            raise InvalidToken("the token is signed with a key the issuer does not publish")
        try:
            claims = self._decode(token, key, algorithm)
        except jwt.InvalidTokenError as exc:
            raise InvalidToken(str(exc)) from exc
        principal = principal_from(claims, self.roles_claim)
        self.verified.put(token, principal, int(claims["exp"]) + self.leeway, key_version)
        return principal

    def _decode(self, token: str, key: jwt.PyJWK, algorithm: str) -> dict[str, Any]:
        if not self.client_id_as_audience:
            return jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.audiences,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": REQUIRED_CLAIMS},
            )
        # Providers whose access tokens carry `client_id` and no `aud` (Cognito, record 0028).
        claims = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            issuer=self.issuer,
            leeway=self.leeway,
            options={"require": ["iss", "exp", "iat", "sub", "client_id"], "verify_aud": False},
        )
        if claims["client_id"] not in self.audiences:
            raise InvalidToken("the token's client_id is not an accepted audience")
        return claims


def token_verifier(settings: Settings) -> TokenVerifier:
    """The app's verifier (create_app); `keys_kept_fresh` runs its timer in the lifespan."""
    dev_jwk = dev_public_jwk(settings)
    # Fetches are minutes apart: no connection is kept open between them.
    http = httpx.AsyncClient(
        timeout=httpx.Timeout(settings.oidc_http_timeout_seconds),
        limits=httpx.Limits(max_keepalive_connections=0),
        follow_redirects=False,
    )
    keys = KeySet(
        http,
        issuer=settings.oidc_issuer,
        jwks_url=settings.oidc_jwks_url,
        cooldown_seconds=settings.oidc_jwks_cooldown_seconds,
        static_keys=[dev_jwk] if dev_jwk else [],
    )
    return TokenVerifier(settings, keys)


@asynccontextmanager
async def keys_kept_fresh(verifier: TokenVerifier, refresh_seconds: float) -> AsyncIterator[None]:
    """The timer that refreshes the keys while the app runs; closes their HTTP client after."""
    refresher = None
    if verifier.keys.remote:
        refresher = asyncio.create_task(verifier.keys.refresh_every(refresh_seconds))
    try:
        yield
    finally:
        if refresher is not None:
            refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher
        await verifier.keys.aclose()
