"""Fixtures: one migrated throwaway database per session, one rolled-back transaction per test;
and, for what one transaction cannot show (concurrent requests), a second database whose writes
commit and are emptied after each test."""

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import pool, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from {{ cookiecutter.module_name }}.core.config import Settings
from {{ cookiecutter.module_name }}.db.base import Base
from {{ cookiecutter.module_name }}.db.session import Database, get_database
from {{ cookiecutter.module_name }}.main import create_app
{%- if cookiecutter.auth == "oidc" %}
from tests.issuer import AUDIENCE, Issuer
{%- endif %}
from tests.postgres import PROJECT_ROOT, migrate, postgres_server, throwaway_database

SERVER_ORIGIN = pytest.StashKey[str]()
ORIGIN_KEY = "postgres_origin"


@pytest.fixture(scope="session")
def admin_url(pytestconfig: pytest.Config) -> Iterator[URL]:
    with postgres_server() as server:
        pytestconfig.stash[SERVER_ORIGIN] = server.origin
        yield server.admin_url


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Under pytest-xdist a worker process hands the controlling one where its server came from."""
    workeroutput = getattr(session.config, "workeroutput", None)
    origin = session.config.stash.get(SERVER_ORIGIN, None)
    if workeroutput is not None and origin:
        workeroutput[ORIGIN_KEY] = origin


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any) -> None:  # a pytest-xdist hook
    origin = getattr(node, "workeroutput", {}).get(ORIGIN_KEY)  # none from a crashed worker
    if origin:
        node.config.stash[SERVER_ORIGIN] = origin


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    origin = config.stash.get(SERVER_ORIGIN, None)
    if origin:
        terminalreporter.write_line(f"PostgreSQL for these tests: {origin}")


@pytest.fixture(scope="session")
def database_url(admin_url: URL) -> Iterator[str]:
    with throwaway_database(admin_url) as url:
        migrate(url)
        yield url


{%- if cookiecutter.auth == "oidc" %}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "scopes(*names): the `client` fixtures send a token with these scopes"
    )


@pytest.fixture(scope="session")
def issuer() -> Iterator[Issuer]:
    """The identity provider of every test: a real issuer on loopback (tests/issuer.py)."""
    with Issuer().running() as running:
        yield running


@pytest.fixture
def bearer(request: pytest.FixtureRequest, issuer: Issuer) -> dict[str, str]:
    """The Authorization header of a token with the scopes of the test's `scopes` marker:
    `@pytest.mark.scopes("orders:read")`, or `pytestmark = ...` for a whole module."""
    marker = request.node.get_closest_marker("scopes")
    return {"Authorization": f"Bearer {issuer.token(marker.args if marker else ())}"}
{%- else %}


@pytest.fixture
def bearer() -> dict[str, str]:
    """The headers a test's own client sends: none, as the service has no authentication."""
    return {}
{%- endif %}


@pytest.fixture
{%- if cookiecutter.auth == "oidc" %}
def settings(database_url: str, issuer: Issuer) -> Settings:
{%- else %}
def settings(database_url: str) -> Settings:
{%- endif %}
    return Settings(
        database_url=database_url,
        environment="test",
        alembic_config=PROJECT_ROOT / "alembic.ini",
{%- if cookiecutter.auth == "oidc" %}
        oidc_issuer=issuer.url,
        oidc_audience=[AUDIENCE],
{%- endif %}
    )


@pytest.fixture
async def connection(database_url: str) -> AsyncIterator[AsyncConnection]:
    """An outer transaction that every test's writes join, rolled back afterwards."""
    engine = create_async_engine(database_url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as conn:
            transaction = await conn.begin()
            yield conn
            await transaction.rollback()
    finally:
        await engine.dispose()


@pytest.fixture
def database(settings: Settings, connection: AsyncConnection) -> Database:
    """The application's data access, inside the test's transaction: nothing outlives the test."""
    return Database.in_transaction(connection, settings)


@pytest.fixture
async def app(settings: Settings, database: Database) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    application.dependency_overrides[get_database] = lambda: database
    async with application.router.lifespan_context(application):
        await application.state.expected_revision  # as test_health.serve does, and why
        yield application


{%- if cookiecutter.auth == "oidc" %}


@pytest.fixture
async def client(app: FastAPI, bearer: dict[str, str]) -> AsyncIterator[AsyncClient]:
    transport = ASGITransport(app=app)
    async with AsyncClient(transport=transport, base_url="http://test", headers=bearer) as http:
        yield http
{%- else %}


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as http:
        yield http
{%- endif %}


@pytest.fixture
{%- if cookiecutter.auth == "oidc" %}
async def app_with_database_down(issuer: Issuer) -> AsyncIterator[FastAPI]:
{%- else %}
async def app_with_database_down() -> AsyncIterator[FastAPI]:
{%- endif %}
    """The app, started, with a database that is down: nothing listens on port 1 of loopback,
    so every connection is refused at once. Tests add the routes they need."""
    settings = Settings(
        database_url="postgresql+asyncpg://nobody:nothing@127.0.0.1:1/none",
        environment="test",
        alembic_config=PROJECT_ROOT / "alembic.ini",
{%- if cookiecutter.auth == "oidc" %}
        oidc_issuer=issuer.url,
        oidc_audience=[AUDIENCE],
{%- endif %}
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
def committed_database_url(admin_url: URL) -> Iterator[str]:
    with throwaway_database(admin_url) as url:
        migrate(url)
        yield url


@pytest.fixture
{%- if cookiecutter.auth == "oidc" %}
async def committed_app(committed_database_url: str, issuer: Issuer) -> AsyncIterator[FastAPI]:
{%- else %}
async def committed_app(committed_database_url: str) -> AsyncIterator[FastAPI]:
{%- endif %}
    """The app on its own `Database`, as in production: every request commits. Afterwards every
    table of the models is emptied, so each test starts from the migrated, empty schema."""
    settings = Settings(
        database_url=committed_database_url,
        environment="test",
        alembic_config=PROJECT_ROOT / "alembic.ini",
{%- if cookiecutter.auth == "oidc" %}
        oidc_issuer=issuer.url,
        oidc_audience=[AUDIENCE],
{%- endif %}
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        try:
            yield application
        finally:
            tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
            async with application.state.database.session() as session:
                await session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
                await session.commit()
{%- if cookiecutter.auth == "oidc" %}


@pytest.fixture
async def committed_client(
    committed_app: FastAPI, bearer: dict[str, str]
) -> AsyncIterator[AsyncClient]:
    transport = ASGITransport(app=committed_app)
    async with AsyncClient(transport=transport, base_url="http://test", headers=bearer) as http:
        yield http
{%- else %}


@pytest.fixture
async def committed_client(committed_app: FastAPI) -> AsyncIterator[AsyncClient]:
    transport = ASGITransport(app=committed_app)
    async with AsyncClient(transport=transport, base_url="http://test") as http:
        yield http
{%- endif %}
