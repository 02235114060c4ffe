from fastapi import status
from httpx import ASGITransport, AsyncClient

from {{ cookiecutter.module_name }}.core.config import Settings
from {{ cookiecutter.module_name }}.main import create_app


async def test_liveness_answers_ok(client: AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == status.HTTP_200_OK
    assert response.json() == {"status": "ok", "reason": None}


async def test_readiness_answers_ok_when_the_database_answers(client: AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == status.HTTP_200_OK
    assert response.json()["status"] == "ok"


async def test_readiness_answers_503_when_the_database_is_unreachable() -> None:
    # Port 1 on loopback refuses connections at once: a database that is down.
    settings = Settings(
        database_url="postgresql+asyncpg://nobody:nothing@127.0.0.1:1/none",
        readiness_timeout_seconds=1.0,
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as http,
    ):
        response = await http.get("/readyz")
        liveness = await http.get("/healthz")
    assert response.status_code == status.HTTP_503_SERVICE_UNAVAILABLE
    assert response.json()["status"] == "unavailable"
    assert "database" in response.json()["reason"]
    assert liveness.status_code == status.HTTP_200_OK


def test_settings_normalise_a_sync_postgres_url_to_asyncpg() -> None:
    settings = Settings(database_url="postgresql://u:p@db:5432/x")
    assert settings.database_url.get_secret_value() == "postgresql+asyncpg://u:p@db:5432/x"
    assert "p@db" not in repr(settings)
