"""Each test runs in a transaction that is rolled back, even when the application commits.

Both tests create the same table and commit a row through the application's session: without the
isolation, whichever runs second fails (the table exists, or holds two rows).
"""

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from {{ cookiecutter.module_name }}.db.session import Database


async def commit_a_row(database: Database) -> None:
    async with database.session() as session:
        await session.execute(text("INSERT INTO isolation_probe (note) VALUES ('committed')"))
        await session.commit()


@pytest.mark.parametrize("attempt", ["first", "second"])
async def test_committed_rows_do_not_outlive_the_test(
    connection: AsyncConnection, database: Database, attempt: str
) -> None:
    await connection.execute(text("CREATE TABLE isolation_probe (note text NOT NULL)"))
    await commit_a_row(database)
    # The application's read path sees the committed row, inside the same transaction.
    count = await database.read_one(text("SELECT count(*) AS n FROM isolation_probe"))
    assert count is not None
    assert count["n"] == 1, attempt
