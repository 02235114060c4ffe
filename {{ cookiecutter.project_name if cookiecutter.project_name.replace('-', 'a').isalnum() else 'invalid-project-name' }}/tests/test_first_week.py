"""What a fresh clone meets first: a database that does not exist yet is named in one line with
the command that creates it, that command is idempotent, and API docs are off in production."""

import logging
import uuid

import asyncpg
import pytest
from fastapi import status
from httpx import ASGITransport, AsyncClient
from sqlalchemy.engine import URL

from {{ cookiecutter.module_name }}.core.config import Settings
from {{ cookiecutter.module_name }}.db.create_database import create_database
from {{ cookiecutter.module_name }}.db.missing_database import (
    CREATE_COMMAND,
    log_if_database_is_missing,
)
from {{ cookiecutter.module_name }}.db.session import Database
from {{ cookiecutter.module_name }}.main import create_app
from tests.identity import PRODUCTION_IDENTITY
from tests.postgres import PROJECT_ROOT, asyncpg_dsn

SAFE_URL = "postgresql+asyncpg://svc:Xq7-long-random@db:5432/app"


def url_of(admin_url: URL, database: str) -> str:
    return admin_url.set(drivername="postgresql+asyncpg", database=database).render_as_string(
        hide_password=False
    )


async def test_a_missing_database_is_one_line_naming_the_command(
    admin_url: URL, caplog: pytest.LogCaptureFixture
) -> None:
    url = url_of(admin_url, f"missing_{uuid.uuid4().hex[:12]}")
    database = Database(Settings(database_url=url, environment="test"))
    try:
        with caplog.at_level(logging.ERROR):
            await log_if_database_is_missing(database, url)
    finally:
        await database.dispose()
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 1, messages
    assert "does not exist" in messages[0]
    assert CREATE_COMMAND in messages[0]
    assert caplog.records[0].exc_info is None  # no traceback


async def test_readiness_says_the_database_does_not_exist(admin_url: URL) -> None:
    settings = Settings(
        database_url=url_of(admin_url, f"missing_{uuid.uuid4().hex[:12]}"),
        environment="test",
        alembic_config=PROJECT_ROOT / "alembic.ini",
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as http,
    ):
        response = await http.get("/readyz")
    assert response.status_code == status.HTTP_503_SERVICE_UNAVAILABLE
    assert response.json()["reason"] == "the database does not exist"


async def test_an_existing_database_logs_nothing(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    database = Database(Settings(database_url=database_url, environment="test"))
    try:
        with caplog.at_level(logging.DEBUG, logger="{{ cookiecutter.module_name }}"):
            await log_if_database_is_missing(database, database_url)
    finally:
        await database.dispose()
    assert caplog.records == []


async def test_create_database_creates_once_then_finds_it(admin_url: URL) -> None:
    name = f"created_{uuid.uuid4().hex[:12]}"
    target = admin_url.set(database=name)
    try:
        assert await create_database(target) is True
        assert await create_database(target) is False
    finally:
        connection = await asyncpg.connect(asyncpg_dsn(admin_url))
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()


@pytest.mark.parametrize(
    ("environment", "api_docs", "served"),
    [
        ("development", None, True),
        ("production", None, False),
        ("production", True, True),
        ("development", False, False),
    ],
)
def test_api_docs_are_off_in_production_unless_enabled(
    environment: str, api_docs: bool | None, served: bool
) -> None:
    settings = Settings(
        database_url=SAFE_URL, environment=environment, api_docs=api_docs, **PRODUCTION_IDENTITY
    )
    app = create_app(settings)
    paths = {getattr(route, "path", None) for route in app.routes}
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert (path in paths) is served, (path, paths)
