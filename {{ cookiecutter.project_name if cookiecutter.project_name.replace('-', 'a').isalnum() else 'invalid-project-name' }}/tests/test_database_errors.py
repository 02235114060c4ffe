"""Database errors a client caused answer 409 or 422; a timeout, a lock or a conflict with
another transaction, a read-only database and a database that is down answer 503 with
Retry-After and a code saying which, all in the error shape: never a 500. Each is provoked for
real on PostgreSQL; tests/test_database_error_table.py holds the whole table."""

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI, status
from httpx import ASGITransport, AsyncClient, Response
from sqlalchemy import pool, text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from {{ cookiecutter.module_name }}.core.logging import RequestIdFilter
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
async def probe_client(
    app: FastAPI, connection: AsyncConnection, bearer: dict[str, str]
) -> AsyncIterator[AsyncClient]:
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

    async with AsyncClient(
        transport=ASGITransport(app=app), base_url="http://test", headers=bearer
    ) as http:
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
async def down_client(
    app_with_database_down: FastAPI, bearer: dict[str, str]
) -> AsyncIterator[AsyncClient]:
    app = app_with_database_down

    @app.post("/probe")
    async def write(session: SessionDep) -> None:
        await session.execute(text("SELECT 1"))

    async with AsyncClient(
        transport=ASGITransport(app=app), base_url="http://test", headers=bearer
    ) as http:
        yield http


async def test_a_write_while_the_database_is_down_answers_503(down_client: AsyncClient) -> None:
    assert_answer(await down_client.post("/probe"), "database_unavailable", "5")


@pytest.fixture
async def other(database_url: str) -> AsyncIterator[AsyncConnection]:
    """Another client of the database, with a committed table of two rows that both see (what
    the test's own connection writes stays in its rolled-back transaction)."""
    engine = create_async_engine(database_url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("CREATE TABLE probe_rows (id int PRIMARY KEY)"))
            await conn.execute(text("INSERT INTO probe_rows VALUES (1), (2)"))
            await conn.commit()
            yield conn
            await conn.rollback()
            await conn.execute(text("DROP TABLE probe_rows"))
            await conn.commit()
    finally:
        await engine.dispose()


LOCK_ROW_1 = "SELECT id FROM probe_rows WHERE id = 1 FOR UPDATE"
LOCK_ROW_2 = "SELECT id FROM probe_rows WHERE id = 2 FOR UPDATE"
# Each a route's statements, in the request's session.
FAULTS = {
    "lock-timeout": ["SET LOCAL lock_timeout = '100ms'", LOCK_ROW_1],
    "statement-timeout": ["SET LOCAL statement_timeout = '100ms'", "SELECT pg_sleep(30)"],
    "cancelled": ["SELECT pg_sleep(30)"],
    "deadlock": [LOCK_ROW_1, LOCK_ROW_2],
    "read-only": ["SET TRANSACTION READ ONLY", "DELETE FROM probe_rows WHERE id = 1"],
}


@pytest.fixture
async def fault_client(
    app: FastAPI, other: AsyncConnection, bearer: dict[str, str]
) -> AsyncIterator[AsyncClient]:
    @app.post("/fault/{case}")
    async def run(case: str, session: SessionDep) -> None:
        for statement in FAULTS[case]:
            await session.execute(text(statement))

    assert other is not None
    async with AsyncClient(
        transport=ASGITransport(app=app), base_url="http://test", headers=bearer
    ) as http:
        yield http


async def backend_pid(connection: AsyncConnection) -> int:
    """The server process of the test's connection: the one the routes' sessions run on."""
    pid = await connection.scalar(text("SELECT pg_backend_pid()"))
    assert isinstance(pid, int)
    return pid


async def until_it_waits(other: AsyncConnection, pid: int, wait_event_type: str) -> None:
    """Poll until backend `pid` runs a statement that waits on `wait_event_type` (10 s at most:
    a bound on a hang, not a timing)."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE pid = :pid AND state = 'active' AND wait_event_type = :wait"
    )
    async with asyncio.timeout(10):
        while True:
            # Within a transaction the server keeps showing its first snapshot of the activity.
            await other.execute(text("SELECT pg_stat_clear_snapshot()"))
            if await other.scalar(query, {"pid": pid, "wait": wait_event_type}):
                return
            await asyncio.sleep(0.02)


def assert_answer(response: Response, code: str, retry_after: str) -> None:
    assert response.status_code == status.HTTP_503_SERVICE_UNAVAILABLE, response.text
    assert response.json()["error"]["code"] == code
    assert response.headers["retry-after"] == retry_after


async def test_a_lock_held_past_lock_timeout_answers_database_busy(
    fault_client: AsyncClient, other: AsyncConnection
) -> None:
    await other.execute(text(LOCK_ROW_1))  # held until the fixture rolls back
    assert_answer(await fault_client.post("/fault/lock-timeout"), "database_busy", "1")


async def test_a_statement_timeout_answers_database_timeout(fault_client: AsyncClient) -> None:
    assert_answer(await fault_client.post("/fault/statement-timeout"), "database_timeout", "2")


async def test_a_cancelled_statement_answers_database_timeout(
    fault_client: AsyncClient, connection: AsyncConnection, other: AsyncConnection
) -> None:
    pid = await backend_pid(connection)
    request = asyncio.create_task(fault_client.post("/fault/cancelled"))
    await until_it_waits(other, pid, "Timeout")  # in pg_sleep
    assert await other.scalar(text("SELECT pg_cancel_backend(:pid)"), {"pid": pid})
    assert_answer(await request, "database_timeout", "2")


async def test_a_deadlock_answers_database_busy(
    fault_client: AsyncClient, connection: AsyncConnection, other: AsyncConnection
) -> None:
    pid = await backend_pid(connection)
    await other.execute(text(LOCK_ROW_2))
    request = asyncio.create_task(fault_client.post("/fault/deadlock"))
    await until_it_waits(other, pid, "Lock")  # holds row 1, waits for row 2
    # The backend that has waited longest finds the deadlock first, and is the one cancelled.
    await asyncio.sleep(0.5)
    await other.execute(text(LOCK_ROW_1))  # returns once the route's transaction gave up
    assert_answer(await request, "database_busy", "1")


async def test_a_write_in_a_read_only_transaction_answers_database_read_only(
    fault_client: AsyncClient,
) -> None:
    assert_answer(await fault_client.post("/fault/read-only"), "database_read_only", "5")


async def test_a_transient_error_is_one_warning_with_its_sqlstate_and_no_traceback(
    fault_client: AsyncClient, other: AsyncConnection, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.handler.addFilter(RequestIdFilter())
    caplog.set_level(logging.INFO)
    await other.execute(text(LOCK_ROW_1))
    response = await fault_client.post("/fault/lock-timeout", headers={"X-Request-ID": "busy-1"})
    assert response.status_code == status.HTTP_503_SERVICE_UNAVAILABLE
    assert not [record for record in caplog.records if record.exc_info]
    [warning] = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert vars(warning)["sqlstate"] == "55P03"
    assert vars(warning)["request_id"] == "busy-1"
    assert "55P03" in warning.getMessage()


{%- if cookiecutter.include_example == "yes" %}


@pytest.mark.parametrize("path", ["/items/1", "/items"], ids=["get", "list"])
{%- if cookiecutter.auth == "oidc" %}
@pytest.mark.scopes("items:read")
{%- endif %}
async def test_a_read_while_the_database_is_down_answers_503(
    down_client: AsyncClient, path: str
) -> None:
    assert_answer(await down_client.get(path), "database_unavailable", "5")


async def test_every_items_operation_documents_the_503_and_retry_after(
    client: AsyncClient,
) -> None:
    schema = (await client.get("/openapi.json")).json()
    operations = [
        operation
        for path in ("/items", "/items/{item_id}")  # the example's own, not a team's sub-path
        for operation in schema["paths"][path].values()
    ]
    assert len(operations) == 5
    for operation in operations:
        answer = operation["responses"]["503"]
        assert "Retry-After" in answer["headers"]
        for code in ("database_timeout", "database_busy", "database_read_only"):
            assert code in answer["description"]


{%- endif %}
