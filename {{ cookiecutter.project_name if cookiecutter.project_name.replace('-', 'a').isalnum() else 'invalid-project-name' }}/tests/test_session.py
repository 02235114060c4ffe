"""The session dependency commits when the route returns and rolls back when it raises."""

from collections.abc import AsyncIterator
from typing import Annotated

import pytest
from fastapi import FastAPI, Query, status
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from {{ cookiecutter.module_name }}.db.session import SessionDep


class WriteFailedError(RuntimeError):
    pass


@pytest.fixture
async def probe_client(
    app: FastAPI, connection: AsyncConnection, bearer: dict[str, str]
) -> AsyncIterator[AsyncClient]:
    """Routes that write a row, then either return or raise."""
    await connection.execute(text("CREATE TEMPORARY TABLE session_probe (note text NOT NULL)"))

    @app.post("/probe", status_code=status.HTTP_201_CREATED)
    async def write(session: SessionDep, fail: Annotated[bool, Query()] = False) -> None:
        await session.execute(text("INSERT INTO session_probe (note) VALUES ('written')"))
        if fail:
            raise WriteFailedError

    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://test", headers=bearer) as http:
        yield http


async def count_rows(connection: AsyncConnection) -> int:
    count = await connection.scalar(text("SELECT count(*) FROM session_probe"))
    assert isinstance(count, int)
    return count


async def test_a_route_that_returns_commits(
    probe_client: AsyncClient, connection: AsyncConnection
) -> None:
    response = await probe_client.post("/probe")
    assert response.status_code == status.HTTP_201_CREATED
    assert await count_rows(connection) == 1


async def test_a_route_that_fails_after_a_write_rolls_it_back(
    probe_client: AsyncClient, connection: AsyncConnection
) -> None:
    response = await probe_client.post("/probe", params={"fail": True})
    assert response.status_code == status.HTTP_500_INTERNAL_SERVER_ERROR
    assert await count_rows(connection) == 0
