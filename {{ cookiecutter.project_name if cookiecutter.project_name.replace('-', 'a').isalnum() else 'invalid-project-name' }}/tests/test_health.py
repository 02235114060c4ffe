import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from fastapi import status
from httpx import ASGITransport, AsyncClient
from sqlalchemy.engine import URL

from {{ cookiecutter.module_name }}.core.config import Settings
from {{ cookiecutter.module_name }}.main import create_app
from tests.postgres import PROJECT_ROOT, migrate, throwaway_database
from tests.test_migrations import SCRIPT


async def serve(settings: Settings) -> AsyncIterator[AsyncClient]:
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as http,
    ):
        # The migration head is read at start-up (main.py): on a loaded machine a first probe
        # can find it not read yet, which is a different answer from the one tested here.
        await app.state.expected_revision
        yield http


@pytest.fixture
async def unreachable_database() -> AsyncIterator[AsyncClient]:
    # Port 1 on loopback refuses connections at once: a database that is down.
    settings = Settings(
        database_url="postgresql+asyncpg://nobody:nothing@127.0.0.1:1/none",
        alembic_config=PROJECT_ROOT / "alembic.ini",
    )
    async for http in serve(settings):
        yield http


@pytest.fixture
def behind_database_url(admin_url: URL) -> Iterator[str]:
    """A database one revision behind the code (never migrated, if there is only one)."""
    head_id = SCRIPT.get_current_head()
    assert head_id is not None
    head = SCRIPT.get_revision(head_id)
    assert head is not None
    with throwaway_database(admin_url) as url:
        if isinstance(head.down_revision, str):
            migrate(url, head.down_revision)
        yield url


@pytest.fixture
async def schema_behind(behind_database_url: str) -> AsyncIterator[AsyncClient]:
    settings = Settings(
        database_url=behind_database_url, alembic_config=PROJECT_ROOT / "alembic.ini"
    )
    async for http in serve(settings):
        yield http


async def test_liveness_answers_ok(client: AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == status.HTTP_200_OK
    assert response.json() == {"status": "ok"}
    assert response.headers["content-type"] == "application/json"


async def test_probes_are_documented_in_the_openapi_schema(client: AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    liveness = paths["/healthz"]["get"]["responses"]["200"]["content"]["application/json"]
    assert liveness["schema"] == {"$ref": "#/components/schemas/Liveness"}
    readiness = paths["/readyz"]["get"]["responses"]
    assert set(readiness) >= {"200", "503"}
    assert paths["/healthz"]["get"]["tags"] == ["health"]


async def test_readiness_answers_ok_at_the_expected_revision(client: AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == status.HTTP_200_OK
    head = SCRIPT.get_current_head()
    assert response.json() == {
        "status": "ok",
        "reason": None,
        "database_revision": head,
        "code_revision": head,
    }


async def test_readiness_answers_503_quickly_when_the_database_is_down(
    unreachable_database: AsyncClient,
) -> None:
    started = time.monotonic()
    response = await unreachable_database.get("/readyz")
    elapsed = time.monotonic() - started
    assert response.status_code == status.HTTP_503_SERVICE_UNAVAILABLE
    assert response.json()["status"] == "unavailable"
    assert response.json()["reason"].startswith("database ")
    assert elapsed < 2.5  # the default readiness timeout, 2 s, and some slack
    liveness = await unreachable_database.get("/healthz")
    assert liveness.status_code == status.HTTP_200_OK


async def test_readiness_answers_503_when_the_schema_is_behind(schema_behind: AsyncClient) -> None:
    response = await schema_behind.get("/readyz")
    assert response.status_code == status.HTTP_503_SERVICE_UNAVAILABLE
    body = response.json()
    head = SCRIPT.get_current_head()
    assert body["code_revision"] == head
    assert body["database_revision"] != head
    assert f"the code expects {head}" in body["reason"]


async def test_readiness_answers_503_when_the_migration_head_is_unknown(
    settings: Settings, tmp_path: Path
) -> None:
    wrong = settings.model_copy(update={"alembic_config": tmp_path / "missing.ini"})
    async for http in serve(wrong):
        response = await http.get("/readyz")
        assert response.status_code == status.HTTP_503_SERVICE_UNAVAILABLE
        assert "ALEMBIC_CONFIG" in response.json()["reason"]
        assert response.json()["code_revision"] is None
