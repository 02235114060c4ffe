"""Each test runs in a transaction that is rolled back, even when the application commits.

Both tests create the same table and commit a row through the application's session: without the
isolation, whichever runs second fails (the table exists, or holds two rows).
"""

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker


async def commit_a_row(factory: async_sessionmaker[AsyncSession]) -> None:
    async with factory() as session:
        await session.execute(text("INSERT INTO isolation_probe (note) VALUES ('committed')"))
        await session.commit()


@pytest.mark.parametrize("attempt", ["first", "second"])
async def test_committed_rows_do_not_outlive_the_test(
    connection: AsyncConnection, attempt: str
) -> None:
    await connection.execute(text("CREATE TABLE isolation_probe (note text NOT NULL)"))
    factory = async_sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    await commit_a_row(factory)
    count = await connection.scalar(text("SELECT count(*) FROM isolation_probe"))
    assert count == 1, attempt
