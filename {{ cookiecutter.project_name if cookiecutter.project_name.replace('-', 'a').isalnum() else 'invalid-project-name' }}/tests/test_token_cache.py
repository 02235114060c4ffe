"""Verified tokens are remembered within bounds: until `exp` plus the leeway, while the key set
is the same, and never more of them than the cache holds."""

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from fastapi import status

from {{ cookiecutter.module_name }}.auth.principal import Principal
from {{ cookiecutter.module_name }}.auth.token_cache import VerifiedTokens
from {{ cookiecutter.module_name }}.core.config import Settings
from tests.issuer import Issuer
from tests.test_auth_keys import get, serving

SOMEONE = Principal("https://issuer", "user-1", None, frozenset(), {})


@pytest.fixture
def provider() -> Iterator[Issuer]:
    with Issuer().running() as running:
        yield running


def test_an_entry_lasts_until_its_time_and_its_key_version() -> None:
    cache = VerifiedTokens()
    cache.put("fresh", SOMEONE, time.time() + 60, key_version=1)
    cache.put("stale", SOMEONE, time.time() - 1, key_version=1)
    assert cache.get("fresh", key_version=1) is SOMEONE
    assert cache.get("stale", key_version=1) is None
    assert cache.get("fresh", key_version=2) is None
    assert len(cache) == 0  # both dropped when found out of date


def test_the_cache_holds_at_most_its_size() -> None:
    cache = VerifiedTokens(max_size=2)
    for token in ("a", "b", "c"):
        cache.put(token, SOMEONE, time.time() + 60, key_version=0)
    assert len(cache) == 2
    assert cache.get("a", key_version=0) is None  # the oldest made room
    assert cache.get("c", key_version=0) is SOMEONE
    disabled = VerifiedTokens(max_size=0)
    disabled.put("a", SOMEONE, time.time() + 60, key_version=0)
    assert len(disabled) == 0


async def test_a_repeated_token_is_verified_once(
    settings: Settings, provider: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    decodes = 0
    decode = jwt.decode

    def counting_decode(*args: Any, **kwargs: Any) -> Any:
        nonlocal decodes
        decodes += 1
        return decode(*args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting_decode)
    token = provider.token(["things:read"])
    async with serving(settings, provider) as app:
        for _ in range(3):
            assert (await get(app, token))[0] == status.HTTP_200_OK
        assert (await get(app, provider.token(["things:read"], sub="user-2")))[0] == 200
    assert decodes == 2


async def test_a_remembered_token_is_refused_once_it_expires(
    settings: Settings, provider: Issuer
) -> None:
    expires = int(time.time()) + 2  # at least a second to verify it before it expires
    token = provider.token(["things:read"], exp=expires)
    async with serving(settings, provider, oidc_leeway_seconds=0) as app:
        assert (await get(app, token))[0] == status.HTTP_200_OK
        await asyncio.sleep(max(0.0, expires - time.time()) + 0.05)
        code, headers = await get(app, token)
    assert code == status.HTTP_401_UNAUTHORIZED
    assert 'error="invalid_token"' in headers["www-authenticate"]


async def test_a_remembered_token_is_refused_once_its_key_is_withdrawn(
    settings: Settings, provider: Issuer
) -> None:
    token = provider.token(["things:read"])
    async with serving(settings, provider) as app:
        assert (await get(app, token))[0] == status.HTTP_200_OK
        provider.rotate()
        assert await app.state.token_verifier.keys.refresh()
        assert (await get(app, token))[0] == status.HTTP_401_UNAUTHORIZED
        assert (await get(app, provider.token(["things:read"])))[0] == status.HTTP_200_OK
