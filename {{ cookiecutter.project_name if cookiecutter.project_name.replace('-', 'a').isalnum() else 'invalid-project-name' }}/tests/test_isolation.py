"""Each test runs in a transaction that is rolled back, even when the application commits: a
separate connection to the same database never sees what the application committed in a test.
"""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import pool, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from {{ cookiecutter.module_name }}.db.session import Database


@pytest.fixture
async def outside(database_url: str) -> AsyncIterator[AsyncEngine]:
    """Connections of their own, outside the test's transaction."""
    engine = create_async_engine(database_url, poolclass=pool.NullPool)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def probe_table(outside: AsyncEngine) -> AsyncIterator[None]:
    """A table really committed (from outside, in this session's own database), so only the
    rows are the test's."""
    async with outside.begin() as conn:
        await conn.execute(text("CREATE TABLE isolation_probe (note text NOT NULL)"))
    try:
        yield
    finally:
        async with outside.begin() as conn:
            await conn.execute(text("DROP TABLE isolation_probe"))


@pytest.mark.usefixtures("probe_table")
async def test_what_the_application_commits_stays_in_the_test(
    database: Database, outside: AsyncEngine
) -> None:
    async with database.session() as session:
        await session.execute(text("INSERT INTO isolation_probe (note) VALUES ('committed')"))
        await session.commit()
    count = text("SELECT count(*) AS n FROM isolation_probe")
    # The application's read path sees its committed row, inside the test's transaction...
    inside = await database.read_one(count)
    assert inside is not None
    assert inside["n"] == 1
    # ...and the database does not: the commit reached only the test's transaction.
    async with outside.connect() as conn:
        assert await conn.scalar(count) == 0
