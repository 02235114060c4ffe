"""The production read path: `read_one`/`read_all` on the engine (the other tests bind sessions
to one connection). One statement in autocommit, at most DB_POOL_SIZE reads at once in arrival
order, a bounded wait, and a dropped connection replaced by a fresh one."""

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import asyncpg
import pytest
from sqlalchemy import exc, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from {{ cookiecutter.module_name }}.core.config import Settings
from {{ cookiecutter.module_name }}.db.session import create_engine, create_session_factory, read_one
from tests.postgres import asyncpg_dsn, throwaway_database

Sessions = async_sessionmaker[AsyncSession]
SessionsFactory = Callable[..., AbstractAsyncContextManager[Sessions]]
NOTE = text("SELECT body FROM notes WHERE id = :id")
BACKEND = text("SELECT pg_backend_pid() AS pid")


@pytest.fixture(scope="module")
def read_database_url(admin_url: URL) -> Iterator[str]:
    """A database of its own: these tests commit, which the shared test database must not see."""
    with throwaway_database(admin_url) as url:
        yield url


@pytest.fixture
def engine_sessions(read_database_url: str) -> SessionsFactory:
    @asynccontextmanager
    async def open_sessions(**settings: Any) -> AsyncIterator[Sessions]:
        engine = create_engine(Settings(database_url=read_database_url, **settings))
        async with engine.begin() as connection:
            await connection.execute(
                text("CREATE TABLE IF NOT EXISTS notes (id int PRIMARY KEY, body text NOT NULL)")
            )
            await connection.execute(text("TRUNCATE notes"))
        try:
            yield create_session_factory(engine)
        finally:
            await engine.dispose()

    return open_sessions


async def connection_state(database_url: str, pid: int) -> str:
    connection = await asyncpg.connect(asyncpg_dsn(make_url(database_url)))
    try:
        state: str = await connection.fetchval(
            "SELECT state FROM pg_stat_activity WHERE pid = $1", pid
        )
        return state
    finally:
        await connection.close()


async def test_reads_see_committed_writes_only_and_leave_no_transaction_open(
    engine_sessions: SessionsFactory, read_database_url: str
) -> None:
    async with engine_sessions(db_pool_size=2) as sessions:
        async with sessions() as session:
            await session.execute(text("INSERT INTO notes VALUES (1, 'kept')"))
            await session.commit()
        async with sessions() as session:
            await session.execute(text("INSERT INTO notes VALUES (2, 'rolled back')"))
            assert await read_one(sessions, NOTE, {"id": 2}) is None  # not committed yet
            await session.rollback()
        kept = await read_one(sessions, NOTE, {"id": 1})
        assert kept is not None
        assert kept["body"] == "kept"
        assert await read_one(sessions, NOTE, {"id": 2}) is None
        reader = await read_one(sessions, BACKEND)
        assert reader is not None
        # Back in the pool, the reader's connection is idle: not "idle in transaction".
        assert await connection_state(read_database_url, reader["pid"]) == "idle"


async def test_reads_beyond_the_pool_size_wait_their_turn_in_arrival_order(
    engine_sessions: SessionsFactory,
) -> None:
    finished: list[int] = []

    async def read(number: int) -> None:
        await read_one(sessions, text("SELECT pg_sleep(0.05)"))
        finished.append(number)

    async with engine_sessions(db_pool_size=1, db_max_overflow=0) as sessions:
        await asyncio.gather(*(read(number) for number in range(6)))
    assert finished == list(range(6))


async def test_a_read_gives_up_after_the_pool_timeout(engine_sessions: SessionsFactory) -> None:
    async with engine_sessions(
        db_pool_size=1, db_max_overflow=0, db_pool_timeout_seconds=0.2
    ) as sessions:
        slow = asyncio.create_task(read_one(sessions, text("SELECT pg_sleep(0.8)")))
        await asyncio.sleep(0.1)  # the slow read holds the only connection
        with pytest.raises(exc.TimeoutError, match="no database connection for a read within"):
            await read_one(sessions, text("SELECT 1"))
        await slow


async def test_a_read_on_a_dropped_connection_runs_again_on_a_fresh_one(
    engine_sessions: SessionsFactory, admin_url: URL
) -> None:
    # No pre-ping: the read itself finds the connection dead, as under steady load.
    async with engine_sessions(db_pool_size=1, db_pool_pre_ping=False) as sessions:
        first = await read_one(sessions, BACKEND)
        assert first is not None
        admin = await asyncpg.connect(asyncpg_dsn(admin_url))
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", first["pid"])
        finally:
            await admin.close()
        second = await read_one(sessions, BACKEND)
        assert second is not None
        assert second["pid"] != first["pid"]
