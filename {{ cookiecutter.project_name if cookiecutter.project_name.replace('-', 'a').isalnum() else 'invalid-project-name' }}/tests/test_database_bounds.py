"""Every wait on the database is bounded (record 0023): the server's timeouts are in effect on the
service's connections, a statement that the driver gave up on leaves its connection closed, one
deadline covers all of a request's database work, and /readyz keeps to its bound when the
database stops answering. Short bounds here, so nothing sleeps for long."""

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import asyncpg
import pytest
from fastapi import status
from httpx import ASGITransport, AsyncClient
from pydantic import ValidationError
from sqlalchemy import event, exc, text
from sqlalchemy.engine import URL, make_url

{% if cookiecutter.auth == "oidc" -%}
from {{ cookiecutter.module_name }}.auth import PUBLIC
{% endif -%}
from {{ cookiecutter.module_name }}.core.config import Settings
from {{ cookiecutter.module_name }}.db.bounds import connect_arguments
from {{ cookiecutter.module_name }}.db.deadline import database_deadline, deadline
from {{ cookiecutter.module_name }}.db.migrations import MIGRATION_LOCK_ID
from {{ cookiecutter.module_name }}.db.session import Database, DatabaseDep, SessionDep
from {{ cookiecutter.module_name }}.main import create_app
from tests.postgres import PROJECT_ROOT, asyncpg_dsn, throwaway_database
from tests.test_migrations import start_migrator, wait_for_lock_waiters
from tests.unresponsive import FreezableProxy, silent_listener

DatabaseFactory = Callable[..., AbstractAsyncContextManager[Database]]
BACKEND = text("SELECT pg_backend_pid() AS pid")
TIMEOUTS = ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout")
# What a request that ran into a bound answers (api/errors.py decides which of the two).
DATABASE_TIMEOUT_STATUSES = {
    status.HTTP_503_SERVICE_UNAVAILABLE,
    status.HTTP_504_GATEWAY_TIMEOUT,
}


@pytest.fixture(scope="module")
def bounds_database_url(admin_url: URL) -> Iterator[str]:
    """A database of its own: these tests commit a table, and hold locks on it."""
    with throwaway_database(admin_url) as url:
        asyncio.run(execute(url, "CREATE TABLE bounds_probe (id int PRIMARY KEY)"))
        yield url


async def execute(database_url: str, statement: str) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(make_url(database_url)))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def bounds_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "environment": "test",
        "alembic_config": PROJECT_ROOT / "alembic.ini",
    }
    return Settings(**(values | overrides))


@pytest.fixture
def open_database(bounds_database_url: str) -> DatabaseFactory:
    @asynccontextmanager
    async def database_with(**overrides: Any) -> AsyncIterator[Database]:
        url = overrides.pop("database_url", bounds_database_url)
        database = Database(bounds_settings(url, **overrides))
        try:
            yield database
        finally:
            await database.dispose()

    return database_with


async def backend_pid(database: Database) -> int:
    row = await database.read_one(BACKEND)
    assert row is not None
    pid: int = row["pid"]
    return pid


def sqlstate(error: exc.DBAPIError) -> str | None:
    code: str | None = getattr(error.orig, "sqlstate", None)
    return code


# ---------------------------------------------------------------- the server's timeouts


async def test_the_timeouts_are_in_effect_on_the_services_connections(
    open_database: DatabaseFactory,
) -> None:
    async with open_database(
        db_statement_timeout_seconds=1.5,
        db_lock_timeout_seconds=0.25,
        db_idle_in_transaction_timeout_seconds=3,
    ) as database:
        shown = {name: await database.read_one(text(f"SHOW {name}")) for name in TIMEOUTS}
        async with database.session() as session:
            in_session = await session.scalar(text("SHOW lock_timeout"))
    assert {name: row[name] if row else None for name, row in shown.items()} == {
        "statement_timeout": "1500ms",
        "lock_timeout": "250ms",
        "idle_in_transaction_session_timeout": "3s",
    }
    assert in_session == "250ms"


async def test_no_start_up_parameters_leaves_the_servers_own_timeouts(
    open_database: DatabaseFactory,
) -> None:
    async with open_database(db_startup_parameters=False) as database:
        for name in TIMEOUTS:
            row = await database.read_one(text(f"SHOW {name}"))
            assert row is not None
            assert row[name] == "0", name


async def test_a_slow_statement_ends_at_the_statement_timeout(
    open_database: DatabaseFactory,
) -> None:
    async with open_database(db_statement_timeout_seconds=0.2) as database:
        with pytest.raises(exc.DBAPIError) as ended:
            await database.read_one(text("SELECT pg_sleep(5)"))
    assert sqlstate(ended.value) == "57014"  # query_canceled


async def test_a_lock_wait_ends_at_the_lock_timeout(
    open_database: DatabaseFactory, bounds_database_url: str
) -> None:
    holder = await asyncpg.connect(asyncpg_dsn(make_url(bounds_database_url)))
    try:
        async with holder.transaction():
            await holder.execute("LOCK TABLE bounds_probe IN ACCESS EXCLUSIVE MODE")
            async with (
                open_database(db_lock_timeout_seconds=0.2) as database,
                database.session() as session,
            ):
                with pytest.raises(exc.DBAPIError) as ended:
                    await session.execute(text("SELECT count(*) FROM bounds_probe"))
    finally:
        await holder.close()
    assert sqlstate(ended.value) == "55P03"  # lock_not_available, not the statement timeout


# ---------------------------------------------------------------- the driver's timeout


def test_the_driver_timeout_must_be_above_the_statement_timeout() -> None:
    url = "postgresql+asyncpg://app:pw@db:5432/app"
    with pytest.raises(ValidationError, match="DB_COMMAND_TIMEOUT_SECONDS"):
        Settings(database_url=url, db_statement_timeout_seconds=6, db_command_timeout_seconds=6)
    off = Settings(database_url=url, db_statement_timeout_seconds=30, db_command_timeout_seconds=0)
    assert "command_timeout" not in connect_arguments(off)


async def test_the_driver_timeout_closes_the_connection_it_ended(
    open_database: DatabaseFactory,
) -> None:
    async with open_database(
        db_pool_size=1,
        db_max_overflow=0,
        db_statement_timeout_seconds=0,  # so that the driver's bound is the one that ends it
        db_command_timeout_seconds=0.2,
    ) as database:
        first = await backend_pid(database)
        with pytest.raises(TimeoutError) as ended:
            await database.read_one(text("SELECT pg_sleep(5)"))
        assert type(ended.value) is TimeoutError  # the builtin, as the error handlers expect
        # One pooled connection, most recently returned first: the same pid if it came back.
        second = await backend_pid(database)
        assert second != first
        async with database.session() as session:
            with pytest.raises(TimeoutError):
                await session.execute(text("SELECT pg_sleep(5)"))
        assert await backend_pid(database) not in {first, second}


async def test_a_frozen_server_holds_a_statement_no_longer_than_the_driver_timeout(
    open_database: DatabaseFactory, bounds_database_url: str
) -> None:
    async with (
        FreezableProxy(bounds_database_url).running() as proxy,
        open_database(
            database_url=proxy.url(bounds_database_url),
            db_statement_timeout_seconds=0,
            db_command_timeout_seconds=0.3,
        ) as database,
    ):
        await backend_pid(database)  # a pooled connection, then the server stops answering
        proxy.freeze()
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await database.read_one(text("SELECT 1"))
        elapsed = time.monotonic() - started
    assert elapsed < 1.5


async def test_a_frozen_server_holds_a_request_no_longer_than_its_deadline(
    bounds_database_url: str,
) -> None:
    async with FreezableProxy(bounds_database_url).running() as proxy:
        settings = bounds_settings(proxy.url(bounds_database_url), db_request_deadline_seconds=0.4)
        app = create_app(settings)

        @app.get("/one-read"{% if cookiecutter.auth == "oidc" %}, dependencies=[PUBLIC]{% endif %})
        async def one_read(database: DatabaseDep) -> None:
            await database.read_one(text("SELECT 1"))

        async with (
            app.router.lifespan_context(app),
            AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as http,
        ):
            assert (await http.get("/one-read")).status_code == status.HTTP_200_OK
            proxy.freeze()
            started = time.monotonic()
            response = await http.get("/one-read")
            elapsed = time.monotonic() - started
    assert response.status_code in DATABASE_TIMEOUT_STATUSES
    # The cancelled connection is closed at once: SQLAlchemy's own close waited 2 s more.
    assert elapsed < 1.2


# ---------------------------------------------------------------- one deadline per request


@pytest.fixture
async def deadline_client(bounds_database_url: str) -> AsyncIterator[AsyncClient]:
    """The app as production makes it, with a 0.4 s deadline and routes that run six 0.2 s
    statements: each is well within every per-statement bound, all six are not."""
    app = create_app(bounds_settings(bounds_database_url, db_request_deadline_seconds=0.4))
    sleep = text("SELECT pg_sleep(0.2)")

    @app.post("/six-in-a-session"{% if cookiecutter.auth == "oidc" %}, dependencies=[PUBLIC]{% endif %})
    async def in_a_session(session: SessionDep) -> None:
        for _ in range(6):
            await session.execute(sleep)

    @app.get("/six-reads"{% if cookiecutter.auth == "oidc" %}, dependencies=[PUBLIC]{% endif %})
    async def reads(database: DatabaseDep) -> None:
        for _ in range(6):
            await database.read_one(sleep)

    @app.post("/six-with-longer", dependencies=[{% if cookiecutter.auth == "oidc" %}PUBLIC, {% endif %}database_deadline(seconds=30)])
    async def longer(session: SessionDep) -> None:
        for _ in range(6):
            await session.execute(sleep)

    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as http,
    ):
        yield http


@pytest.mark.parametrize(("method", "path"), [("POST", "/six-in-a-session"), ("GET", "/six-reads")])
async def test_the_request_deadline_bounds_all_of_a_requests_statements(
    deadline_client: AsyncClient, method: str, path: str
) -> None:
    started = time.monotonic()
    response = await deadline_client.request(method, path)
    elapsed = time.monotonic() - started
    assert response.status_code in DATABASE_TIMEOUT_STATUSES
    assert response.json()["error"]["code"].startswith("database_")
    assert elapsed < 1.0  # the six statements take 1.2 s
    assert deadline.get() is None  # the request's deadline ended with it


async def test_a_route_can_ask_for_a_longer_deadline(deadline_client: AsyncClient) -> None:
    response = await deadline_client.post("/six-with-longer")
    assert response.status_code == status.HTTP_200_OK


# ---------------------------------------------------------------- readiness


async def test_readiness_keeps_to_its_bound_when_the_database_freezes(
    bounds_database_url: str,
) -> None:
    async with FreezableProxy(bounds_database_url).running() as proxy:
        settings = bounds_settings(proxy.url(bounds_database_url), readiness_timeout_seconds=0.5)
        app = create_app(settings)
        async with (
            app.router.lifespan_context(app),
            AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as http,
        ):
            await http.get("/readyz")  # an answer (503: not migrated) and a pooled connection
            proxy.freeze()
            started = time.monotonic()
            response = await http.get("/readyz")
            elapsed = time.monotonic() - started
    assert response.status_code == status.HTTP_503_SERVICE_UNAVAILABLE
    assert response.json()["reason"] == "database did not answer within 0.5 s"
    assert elapsed < 1.2  # it took 2 s more than its bound before record 0023


async def test_the_first_readiness_probe_keeps_to_its_bound_on_a_silent_database() -> None:
    async with silent_listener() as port:
        url = f"postgresql+asyncpg://nobody:nothing@127.0.0.1:{port}/none"
        app = create_app(bounds_settings(url, readiness_timeout_seconds=0.5))
        async with (
            app.router.lifespan_context(app),
            AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as http,
        ):
            started = time.monotonic()  # at once: the migration head may not be read yet
            response = await http.get("/readyz")
            elapsed = time.monotonic() - started
    assert response.status_code == status.HTTP_503_SERVICE_UNAVAILABLE
    assert "within 0.5 s" in response.json()["reason"]
    assert elapsed < 1.2


# ---------------------------------------------------------------- failover and PgBouncer


def test_several_hosts_ask_for_the_writable_one_unless_the_url_says_otherwise() -> None:
    base = "postgresql+asyncpg://app:pw@/app?host=db-a:5432&host=db-b:5432"
    assert connect_arguments(Settings(database_url=base))["target_session_attrs"] == "read-write"
    chosen = Settings(database_url=base + "&target_session_attrs=any")
    assert "target_session_attrs" not in connect_arguments(chosen)
    single = Settings(database_url="postgresql+asyncpg://app:pw@db-a:5432/app")
    assert "target_session_attrs" not in connect_arguments(single)


async def test_several_hosts_connect_to_the_one_that_answers(
    open_database: DatabaseFactory, bounds_database_url: str
) -> None:
    # The first host refuses (nothing listens on port 1); the second is the real server, here
    # through a TCP proxy so that it has a host and port whatever the tests' server is.
    async with FreezableProxy(bounds_database_url).running() as proxy:
        real = make_url(proxy.url(bounds_database_url))
        hosts = ["127.0.0.1:1", f"{real.host}:{real.port}"]
        several = real.set(host=None, port=None, query={"host": hosts})
        async with open_database(
            database_url=several.render_as_string(hide_password=False)
        ) as database:
            asked: list[object] = []

            @event.listens_for(database.engine.sync_engine, "do_connect")
            def record(_dialect: object, _record: object, _args: object, kwargs: Any) -> None:
                asked.append(kwargs.get("target_session_attrs"))

            row = await database.read_one(text("SELECT current_database() AS name"))
    assert row is not None
    assert row["name"] == make_url(bounds_database_url).database
    assert asked == ["read-write"]


def readme_role_settings(database: str) -> list[str]:
    """The README's ALTER ROLE statements, for the current role in `database`."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    statements = re.findall(r"^ALTER ROLE \S+ IN DATABASE \S+ (SET .+);$", readme, re.MULTILINE)
    assert len(statements) == len(TIMEOUTS), "the README's fallback names each timeout"
    return [f'ALTER ROLE CURRENT_USER IN DATABASE "{database}" {rest}' for rest in statements]


@pytest.fixture
def role_database_url(admin_url: URL) -> Iterator[str]:
    with throwaway_database(admin_url) as url:
        yield url


async def test_the_readmes_role_settings_bound_the_service_and_spare_its_migrations(
    role_database_url: str,
) -> None:
    """The fallback where start-up parameters are refused: the README's ALTER ROLE statements
    give the service the default timeouts, and a migration that waits longer than the statement
    timeout for another migrator's lock is not cut by it (alembic/env.py sets its own)."""
    url = role_database_url
    name = make_url(url).database
    assert name is not None
    for statement in readme_role_settings(name):
        await execute(url, statement)
    defaults = Settings(database_url=url)
    expected = {
        "statement_timeout": defaults.db_statement_timeout_seconds,
        "lock_timeout": defaults.db_lock_timeout_seconds,
        "idle_in_transaction_session_timeout": defaults.db_idle_in_transaction_timeout_seconds,
    }
    async with open_database_at(url, db_startup_parameters=False) as database:
        for setting, seconds in expected.items():
            row = await database.read_one(text(f"SHOW {setting}"))
            assert row is not None
            assert row[setting] == f"{seconds:g}s", "the README's values are the defaults"

    short = "SET statement_timeout = '100ms'"
    await execute(url, f'ALTER ROLE CURRENT_USER IN DATABASE "{name}" {short}')
    holder = await asyncpg.connect(asyncpg_dsn(make_url(url)))
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_ID)
        migrator = await start_migrator(url)
        await wait_for_lock_waiters(holder, 1)
        await asyncio.sleep(0.3)  # three times the role's statement timeout
        await holder.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_ID)
        output = (await migrator.communicate())[0].decode()
    finally:
        await holder.close()
    assert migrator.returncode == 0, output
    assert "Running upgrade" in output


@asynccontextmanager
async def open_database_at(url: str, **overrides: Any) -> AsyncIterator[Database]:
    database = Database(bounds_settings(url, **overrides))
    try:
        yield database
    finally:
        await database.dispose()
