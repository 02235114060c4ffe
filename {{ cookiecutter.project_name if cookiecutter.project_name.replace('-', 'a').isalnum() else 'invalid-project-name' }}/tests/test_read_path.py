"""The read path of a `Database` made from settings, as production makes it (the other tests
bind one to their transaction). One statement in autocommit, at most DB_POOL_SIZE reads at once
in arrival order, a bounded wait, and a dropped connection replaced by a fresh one."""

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import asyncpg
import pytest
from sqlalchemy import exc, text
from sqlalchemy.engine import URL, make_url

from {{ cookiecutter.module_name }}.core.config import Settings
from {{ cookiecutter.module_name }}.db.session import Database
from tests.postgres import asyncpg_dsn, throwaway_database

DatabaseFactory = Callable[..., AbstractAsyncContextManager[Database]]
NOTE = text("SELECT body FROM notes WHERE id = :id")
BACKEND = text("SELECT pg_backend_pid() AS pid")


@pytest.fixture(scope="module")
def read_database_url(admin_url: URL) -> Iterator[str]:
    """A database of its own: these tests commit, which the shared test database must not see."""
    with throwaway_database(admin_url) as url:
        yield url


@pytest.fixture
def open_database(read_database_url: str) -> DatabaseFactory:
    @asynccontextmanager
    async def database_with(**settings: Any) -> AsyncIterator[Database]:
        database = Database(Settings(database_url=read_database_url, **settings))
        async with database.session() as session:
            await session.execute(
                text("CREATE TABLE IF NOT EXISTS notes (id int PRIMARY KEY, body text NOT NULL)")
            )
            await session.execute(text("TRUNCATE notes"))
            await session.commit()
        try:
            yield database
        finally:
            await database.dispose()

    return database_with


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
    open_database: DatabaseFactory, read_database_url: str
) -> None:
    async with open_database(db_pool_size=2) as database:
        async with database.session() as session:
            await session.execute(text("INSERT INTO notes VALUES (1, 'kept')"))
            await session.commit()
        async with database.session() as session:
            await session.execute(text("INSERT INTO notes VALUES (2, 'rolled back')"))
            assert await database.read_one(NOTE, {"id": 2}) is None  # not committed yet
            await session.rollback()
        kept = await database.read_one(NOTE, {"id": 1})
        assert kept is not None
        assert kept["body"] == "kept"
        assert await database.read_one(NOTE, {"id": 2}) is None
        reader = await database.read_one(BACKEND)
        assert reader is not None
        # Back in the pool, the reader's connection is idle: not "idle in transaction".
        assert await connection_state(read_database_url, reader["pid"]) == "idle"


async def test_reads_beyond_the_pool_size_wait_their_turn_in_arrival_order(
    open_database: DatabaseFactory,
) -> None:
    finished: list[int] = []

    async def read(number: int) -> None:
        await database.read_one(text("SELECT pg_sleep(0.05)"))
        finished.append(number)

    async def waiting_while_the_first_runs() -> int:
        # Started last: by its first step every read has taken its first, and five queue.
        return database.waiting_reads

    async with open_database(db_pool_size=1, db_max_overflow=0) as database:
        *_, waiting = await asyncio.gather(
            *(read(number) for number in range(6)), waiting_while_the_first_runs()
        )
        assert database.waiting_reads == 0
    assert finished == list(range(6))
    assert waiting == 5  # the metric db.client.connection.pending_requests reads this


async def test_a_read_gives_up_after_the_pool_timeout(open_database: DatabaseFactory) -> None:
    async with open_database(
        db_pool_size=1, db_max_overflow=0, db_pool_timeout_seconds=0.2
    ) as database:
        slow = asyncio.create_task(database.read_one(text("SELECT pg_sleep(0.8)")))
        await asyncio.sleep(0.1)  # the slow read holds the only connection
        with pytest.raises(exc.TimeoutError, match="no database connection for a read within"):
            await database.read_one(text("SELECT 1"))
        await slow


async def test_a_read_on_a_dropped_connection_runs_again_on_a_fresh_one(
    open_database: DatabaseFactory, admin_url: URL
) -> None:
    # No pre-ping: the read itself finds the connection dead, as under steady load.
    async with open_database(db_pool_size=1, db_pool_pre_ping=False) as database:
        first = await database.read_one(BACKEND)
        assert first is not None
        admin = await asyncpg.connect(asyncpg_dsn(admin_url))
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", first["pid"])
        finally:
            await admin.close()
        second = await database.read_one(BACKEND)
        assert second is not None
        assert second["pid"] != first["pid"]


async def test_a_cancelled_read_gives_its_connection_back(open_database: DatabaseFactory) -> None:
    # A request that times out or whose client leaves cancels its read halfway.
    async with open_database(
        db_pool_size=1, db_max_overflow=0, db_pool_timeout_seconds=2.0
    ) as database:
        slow = asyncio.create_task(database.read_one(text("SELECT pg_sleep(5)")))
        await asyncio.sleep(0.2)  # the read is running on the only connection
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        answer = await database.read_one(text("SELECT 41 + 1 AS n"))
        assert answer is not None
        assert answer["n"] == 42
