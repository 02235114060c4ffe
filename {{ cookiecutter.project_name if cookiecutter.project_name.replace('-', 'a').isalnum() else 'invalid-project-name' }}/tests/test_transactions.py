"""Units of work that meet another transaction run again (`Database.run_in_transaction`), and a
connection that finds the database read-only leaves the pool. Both on a real pool and committed
data, as production runs them: a retry needs two transactions that really collide."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import exc, pool, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, create_async_engine

from {{ cookiecutter.module_name }}.core.config import Settings
from {{ cookiecutter.module_name }}.db.session import Database


@pytest.fixture
async def production_database(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def other(database_url: str) -> AsyncIterator[AsyncConnection]:
    """Another client, in autocommit, with a committed table of one counter."""
    engine = create_async_engine(
        database_url, poolclass=pool.NullPool, isolation_level="AUTOCOMMIT"
    )
    try:
        async with engine.connect() as conn:
            await conn.execute(text("CREATE TABLE probe_counter (id int PRIMARY KEY, n int)"))
            await conn.execute(text("INSERT INTO probe_counter VALUES (1, 0)"))
            yield conn
            await conn.execute(text("DROP TABLE probe_counter"))
    finally:
        await engine.dispose()


async def test_a_serialization_failure_runs_the_work_again(
    production_database: Database, other: AsyncConnection
) -> None:
    attempts = 0

    async def add_one(session: AsyncSession) -> int:
        nonlocal attempts
        attempts += 1
        await session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        seen = await session.scalar(text("SELECT n FROM probe_counter WHERE id = 1"))
        if attempts == 1:  # another transaction changes the row after this one read it
            await other.execute(text("UPDATE probe_counter SET n = n + 10 WHERE id = 1"))
        await session.execute(text("UPDATE probe_counter SET n = n + 1 WHERE id = 1"))
        assert isinstance(seen, int)
        return seen

    seen = await production_database.run_in_transaction(add_one)
    assert attempts == 2
    assert seen == 10  # the second attempt read the other transaction's write
    assert await other.scalar(text("SELECT n FROM probe_counter WHERE id = 1")) == 11


async def test_the_last_serialization_failure_is_raised_after_the_retries(
    production_database: Database, other: AsyncConnection
) -> None:
    attempts = 0

    async def always_collides(session: AsyncSession) -> None:
        nonlocal attempts
        attempts += 1
        await session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        await session.execute(text("SELECT n FROM probe_counter WHERE id = 1"))
        await other.execute(text("UPDATE probe_counter SET n = n + 10 WHERE id = 1"))
        await session.execute(text("UPDATE probe_counter SET n = n + 1 WHERE id = 1"))

    with pytest.raises(exc.DBAPIError) as raised:
        await production_database.run_in_transaction(always_collides, retries=2)
    assert getattr(raised.value.orig, "sqlstate", None) == "40001"
    assert attempts == 3
    assert await other.scalar(text("SELECT n FROM probe_counter WHERE id = 1")) == 30


async def test_any_other_error_is_raised_at_once(production_database: Database) -> None:
    attempts = 0

    async def broken(session: AsyncSession) -> None:
        nonlocal attempts
        attempts += 1
        await session.execute(text("SELECT * FROM no_such_table"))

    with pytest.raises(exc.ProgrammingError):
        await production_database.run_in_transaction(broken)
    assert attempts == 1


async def write_on_a_pooled_connection(database: Database) -> int:
    """A write in a session of its own; the server process it ran on."""
    async with database.session() as session, session.begin():
        await session.execute(text("CREATE TEMPORARY TABLE probe_write (id int) ON COMMIT DROP"))
        pid = await session.scalar(text("SELECT pg_backend_pid()"))
    assert isinstance(pid, int)
    return pid


async def test_a_connection_that_finds_the_database_read_only_leaves_the_pool(
    production_database: Database,
) -> None:
    """As after a failover: the pooled connection's server refuses writes now (here, only that
    connection's session is read-only). The write after it gets a fresh connection."""
    database = production_database
    make_read_only = "set_config('default_transaction_read_only', 'on', false)"
    [row] = await database.read_all(text(f"SELECT pg_backend_pid() AS pid, {make_read_only}"))
    # The pool hands the same connection out again (most recently returned first).
    with pytest.raises(exc.DBAPIError) as raised:
        await write_on_a_pooled_connection(database)
    assert getattr(raised.value.orig, "sqlstate", None) == "25006"
    assert raised.value.connection_invalidated
    assert await write_on_a_pooled_connection(database) != row["pid"]
