"""The provider's keys: discovery, rotation, the cooldown on unknown `kid`s (JWKS fetches
counted), and what a provider that is down means with keys cached (200) and without (503)."""

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
from fastapi import APIRouter, FastAPI, status
from httpx import ASGITransport, AsyncClient

from {{ cookiecutter.module_name }}.auth import require_scopes
from {{ cookiecutter.module_name }}.core.config import Settings
from {{ cookiecutter.module_name }}.main import create_app
from tests.issuer import AUDIENCE, Issuer


@pytest.fixture
def provider() -> Iterator[Issuer]:
    """An issuer of this test's own, which it may rotate or take down."""
    with Issuer().running() as running:
        yield running


@asynccontextmanager
async def serving(settings: Settings, provider: Issuer, **update: object) -> AsyncIterator[FastAPI]:
    update = {"oidc_issuer": provider.url, "oidc_audience": [AUDIENCE], **update}
    app = create_app(settings.model_copy(update=update))
    router = APIRouter()

    @router.get("/guarded", dependencies=[require_scopes("things:read")])
    async def guarded() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(router)
    async with app.router.lifespan_context(app):
        yield app


async def get(app: FastAPI, token: str) -> tuple[int, dict[str, str]]:
    transport = ASGITransport(app=app)
    async with AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.get("/guarded", headers={"Authorization": f"Bearer {token}"})
    return response.status_code, dict(response.headers)


async def test_a_rotated_key_is_fetched_and_accepted(settings: Settings, provider: Issuer) -> None:
    async with serving(settings, provider, oidc_jwks_cooldown_seconds=0.2) as app:
        assert (await get(app, provider.token(["things:read"])))[0] == status.HTTP_200_OK
        assert provider.jwks_hits == 1
        provider.rotate()
        await asyncio.sleep(0.3)
        assert (await get(app, provider.token(["things:read"])))[0] == status.HTTP_200_OK
        assert provider.jwks_hits == 2


async def test_random_kids_refetch_no_more_often_than_the_cooldown(
    settings: Settings, provider: Issuer
) -> None:
    cooldown = 1.0
    async with serving(settings, provider, oidc_jwks_cooldown_seconds=cooldown) as app:
        assert (await get(app, provider.token(["things:read"])))[0] == status.HTTP_200_OK
        await asyncio.sleep(cooldown)
        random_kids = [
            provider.token(["things:read"], header_kid=os.urandom(8).hex()) for _ in range(20)
        ]
        started = time.monotonic()
        codes = [(await get(app, token))[0] for token in random_kids]
        elapsed = time.monotonic() - started
        assert codes == [status.HTTP_401_UNAUTHORIZED] * 20
        # The first random kid refetched; the others waited for the cooldown to pass.
        assert provider.jwks_hits - 1 == 1 + int(elapsed / cooldown)
        await asyncio.sleep(cooldown)
        before = provider.jwks_hits
        await get(app, provider.token(["things:read"], header_kid="another"))
        assert provider.jwks_hits == before + 1


async def test_provider_down_with_keys_cached_keeps_serving(
    settings: Settings, provider: Issuer
) -> None:
    async with serving(settings, provider) as app:
        assert (await get(app, provider.token(["things:read"])))[0] == status.HTTP_200_OK
        provider.down = True
        assert await app.state.token_verifier.keys.refresh() is False  # the timer's refresh
        assert (await get(app, provider.token(["things:read"])))[0] == status.HTTP_200_OK


async def test_provider_down_with_no_keys_answers_503_with_retry_after(
    settings: Settings, provider: Issuer
) -> None:
    provider.down = True
    async with serving(settings, provider, oidc_jwks_cooldown_seconds=30) as app:
        code, headers = await get(app, provider.token(["things:read"]))
        assert code == status.HTTP_503_SERVICE_UNAVAILABLE
        assert 1 <= int(headers["retry-after"]) <= 30
        asked = provider.requests
        for _ in range(5):
            assert (await get(app, provider.token(["things:read"])))[0] == 503
        assert provider.requests == asked  # within the cooldown: no request to the provider
        provider.down = False
        assert await app.state.token_verifier.keys.refresh() is True
        assert (await get(app, provider.token(["things:read"])))[0] == status.HTTP_200_OK


async def test_discovery_naming_another_issuer_is_refused(
    settings: Settings, provider: Issuer
) -> None:
    provider.discovery_issuer = "https://impostor.example"
    async with serving(settings, provider) as app:
        code, _ = await get(app, provider.token(["things:read"]))
        assert code == status.HTTP_503_SERVICE_UNAVAILABLE
        assert provider.jwks_hits == 0


async def test_a_jwks_url_skips_discovery(settings: Settings, provider: Issuer) -> None:
    async with serving(settings, provider, oidc_jwks_url=f"{provider.url}/jwks") as app:
        assert (await get(app, provider.token(["things:read"])))[0] == status.HTTP_200_OK
        assert (provider.discovery_hits, provider.jwks_hits) == (0, 1)


async def test_client_id_as_audience(settings: Settings, provider: Issuer) -> None:
    async with serving(
        settings, provider, oidc_client_id_as_audience=True, oidc_audience=["cognito-app"]
    ) as app:
        accepted = provider.token(["things:read"], aud=None, client_id="cognito-app")
        refused = provider.token(["things:read"], aud=None, client_id="someone-else")
        assert (await get(app, accepted))[0] == status.HTTP_200_OK
        assert (await get(app, refused))[0] == status.HTTP_401_UNAUTHORIZED
