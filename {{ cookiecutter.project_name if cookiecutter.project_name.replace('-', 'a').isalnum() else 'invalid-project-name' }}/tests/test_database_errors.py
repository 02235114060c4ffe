"""Database errors a client caused answer 409 or 422, and a database that is down answers 503,
all in the error shape: never a 500."""

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI, status
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from {{ cookiecutter.module_name }}.db.session import SessionDep

CREATE_CHILDREN = (
    "CREATE TEMPORARY TABLE probe_children (id int PRIMARY KEY,"
    " parent_id int NOT NULL REFERENCES probe_parents, size int NOT NULL CHECK (size > 0))"
)
INSERTS = {
    "unique": "INSERT INTO probe_children (id, parent_id, size) VALUES (1, 1, 1)",
    "foreign-key": "INSERT INTO probe_children (id, parent_id, size) VALUES (2, 99, 1)",
    "check": "INSERT INTO probe_children (id, parent_id, size) VALUES (3, 1, -1)",
    "not-null": "INSERT INTO probe_children (id, parent_id, size) VALUES (4, 1, NULL)",
}


@pytest.fixture
async def probe_client(app: FastAPI, connection: AsyncConnection) -> AsyncIterator[AsyncClient]:
    """A route that runs one of INSERTS through the request's session."""
    for statement in [
        "CREATE TEMPORARY TABLE probe_parents (id int PRIMARY KEY)",
        CREATE_CHILDREN,
        "INSERT INTO probe_parents VALUES (1)",
        "INSERT INTO probe_children VALUES (1, 1, 1)",
    ]:
        await connection.execute(text(statement))

    @app.post("/probe/{case}")
    async def insert(case: str, session: SessionDep) -> None:
        await session.execute(text(INSERTS[case]))

    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as http:
        yield http


@pytest.mark.parametrize(
    ("case", "status_code", "code"),
    [
        ("unique", status.HTTP_409_CONFLICT, "conflict"),
        ("foreign-key", status.HTTP_409_CONFLICT, "conflict"),
        ("check", status.HTTP_422_UNPROCESSABLE_CONTENT, "constraint_violation"),
        ("not-null", status.HTTP_422_UNPROCESSABLE_CONTENT, "constraint_violation"),
    ],
)
async def test_a_broken_constraint_answers_in_the_error_shape(
    probe_client: AsyncClient, case: str, status_code: int, code: str
) -> None:
    response = await probe_client.post(f"/probe/{case}")
    assert response.status_code == status_code
    assert set(response.json()) == {"error"}
    assert response.json()["error"]["code"] == code
    assert "probe_children" not in response.text  # no SQL or schema details leak


@pytest.fixture
async def down_client(app_with_database_down: FastAPI) -> AsyncIterator[AsyncClient]:
    app = app_with_database_down

    @app.post("/probe")
    async def write(session: SessionDep) -> None:
        await session.execute(text("SELECT 1"))

    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as http:
        yield http


async def test_a_write_while_the_database_is_down_answers_503(down_client: AsyncClient) -> None:
    response = await down_client.post("/probe")
    assert response.status_code == status.HTTP_503_SERVICE_UNAVAILABLE
    assert response.json()["error"]["code"] == "database_unavailable"
{%- if cookiecutter.include_example == "yes" %}


@pytest.mark.parametrize("path", ["/items/1", "/items"], ids=["get", "list"])
async def test_a_read_while_the_database_is_down_answers_503(
    down_client: AsyncClient, path: str
) -> None:
    response = await down_client.get(path)
    assert response.status_code == status.HTTP_503_SERVICE_UNAVAILABLE
    assert response.json()["error"]["code"] == "database_unavailable"
{%- endif %}
