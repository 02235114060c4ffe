"""Idempotency-Key (api/idempotency.py) on a committed database: a retry, sequential or
concurrent, creates exactly one row. The route here writes to a table of its own, so these tests
hold whatever resources the project has."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from fastapi import APIRouter, FastAPI, Request, status
from httpx import AsyncClient, Response
from pydantic import BaseModel
from sqlalchemy import Column, Identity, Integer, MetaData, Table, Text, func, insert, select, text

from {{ cookiecutter.module_name }}.api.idempotency import IdempotentRoute
from {{ cookiecutter.module_name }}.db.session import Database, SessionDep
from {{ cookiecutter.module_name }}.models.idempotency_key import IdempotencyKey

KEY = "Idempotency-Key"
NOTES = Table(
    "idempotency_test_notes",
    MetaData(),
    Column("id", Integer, Identity(), primary_key=True),
    Column("text", Text, nullable=False),
)
HELD = "held"  # a note with this text waits in the route until the test releases it


class Note(BaseModel):
    text: str


@dataclass
class Gate:
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)


router = APIRouter(route_class=IdempotentRoute)


@router.post("/notes", status_code=status.HTTP_201_CREATED)
async def create_note(note: Note, session: SessionDep, request: Request) -> dict[str, int]:
    note_id = await session.scalar(insert(NOTES).values(text=note.text).returning(NOTES.c.id))
    assert note_id is not None
    if note.text == HELD:
        gate: Gate = request.app.state.gate
        gate.entered.set()
        await gate.release.wait()
    return {"id": note_id}


@pytest.fixture
async def notes_app(committed_app: FastAPI) -> AsyncIterator[FastAPI]:
    engine = committed_app.state.database.engine
    async with engine.begin() as connection:
        await connection.run_sync(NOTES.metadata.create_all)
    committed_app.include_router(router)
    committed_app.state.gate = Gate()
    try:
        yield committed_app
    finally:
        async with engine.begin() as connection:
            await connection.run_sync(NOTES.metadata.drop_all)


@pytest.fixture
def notes(notes_app: FastAPI) -> Database:
    """The committed app's own `Database`, to count what the requests stored."""
    committed: Database = notes_app.state.database
    return committed


def new_key() -> dict[str, str]:
    return {KEY: str(uuid.uuid4())}


async def count_notes(notes: Database) -> int:
    row = await notes.read_one(select(func.count()).select_from(NOTES))
    assert row is not None
    return int(row["count"])


async def test_a_retry_gets_the_first_answer_and_creates_nothing(
    committed_client: AsyncClient, notes: Database
) -> None:
    headers = new_key()
    first = await committed_client.post("/notes", json={"text": "a"}, headers=headers)
    retry = await committed_client.post("/notes", json={"text": "a"}, headers=headers)
    assert first.status_code == retry.status_code == status.HTTP_201_CREATED
    assert retry.json() == first.json()
    assert retry.headers["content-type"] == first.headers["content-type"]
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert await count_notes(notes) == 1


async def test_without_a_key_every_post_creates(
    committed_client: AsyncClient, notes: Database
) -> None:
    for _ in range(2):
        response = await committed_client.post("/notes", json={"text": "a"})
        assert response.status_code == status.HTTP_201_CREATED
    assert await count_notes(notes) == 2


async def test_concurrent_retries_create_one_row(
    committed_client: AsyncClient, notes: Database
) -> None:
    headers = new_key()
    answers = await asyncio.gather(
        *(committed_client.post("/notes", json={"text": "a"}, headers=headers) for _ in range(8))
    )
    assert await count_notes(notes) == 1
    fresh = [a for a in answers if a.status_code == 201 and "Idempotent-Replayed" not in a.headers]
    assert len(fresh) == 1
    for answer in answers:
        if answer.status_code == status.HTTP_201_CREATED:
            assert answer.json() == fresh[0].json()
        else:
            assert_in_use(answer)
    retry = await committed_client.post("/notes", json={"text": "a"}, headers=headers)
    assert retry.json() == fresh[0].json()


def assert_in_use(answer: Response) -> None:
    assert answer.status_code == status.HTTP_409_CONFLICT
    assert answer.json()["error"]["code"] == "idempotency_key_in_use"
    assert answer.headers["Retry-After"] == "1"


async def test_a_duplicate_while_the_first_runs_is_409_at_once(
    committed_client: AsyncClient, notes_app: FastAPI, notes: Database
) -> None:
    gate: Gate = notes_app.state.gate
    headers = new_key()
    first = asyncio.create_task(
        committed_client.post("/notes", json={"text": HELD}, headers=headers)
    )
    try:
        # A bound on waiting, not a timing: a duplicate that got into the route would wait forever.
        async with asyncio.timeout(30):
            await gate.entered.wait()
            duplicate = await committed_client.post("/notes", json={"text": HELD}, headers=headers)
            assert_in_use(duplicate)
            # Another key is not held up by this one.
            other = await committed_client.post("/notes", json={"text": "b"}, headers=new_key())
            assert other.status_code == status.HTTP_201_CREATED
    finally:
        gate.release.set()
    answered = await first
    assert answered.status_code == status.HTTP_201_CREATED
    retry = await committed_client.post("/notes", json={"text": HELD}, headers=headers)
    assert retry.json() == answered.json()
    assert await count_notes(notes) == 2


async def test_the_same_key_with_another_body_is_422(
    committed_client: AsyncClient, notes: Database
) -> None:
    headers = new_key()
    await committed_client.post("/notes", json={"text": "a"}, headers=headers)
    response = await committed_client.post("/notes", json={"text": "b"}, headers=headers)
    assert response.status_code == status.HTTP_422_UNPROCESSABLE_CONTENT
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert await count_notes(notes) == 1


async def test_a_quoted_key_is_the_same_key(committed_client: AsyncClient, notes: Database) -> None:
    """The draft's syntax is a Structured Field string ("…"); most clients send it bare."""
    await committed_client.post("/notes", json={"text": "a"}, headers={KEY: '"k-1"'})
    retry = await committed_client.post("/notes", json={"text": "a"}, headers={KEY: "k-1"})
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert await count_notes(notes) == 1


@pytest.mark.parametrize("key", ["", '""', "two words", "x" * 256, 'a"b', "a\\b", '"open'])
async def test_a_malformed_key_is_400(
    committed_client: AsyncClient, notes: Database, key: str
) -> None:
    response = await committed_client.post("/notes", json={"text": "a"}, headers={KEY: key})
    assert response.status_code == status.HTTP_400_BAD_REQUEST
    assert response.json()["error"]["code"] == "invalid_idempotency_key"
    assert await count_notes(notes) == 0


async def test_a_key_expires_after_its_ttl(
    committed_client: AsyncClient, notes_app: FastAPI, notes: Database
) -> None:
    headers = new_key()
    await committed_client.post("/notes", json={"text": "a"}, headers=headers)
    async with notes.session() as session:
        stored = await session.scalar(select(IdempotencyKey))
        assert stored is not None
        ttl = timedelta(seconds=notes_app.state.settings.idempotency_key_ttl_seconds)
        assert stored.expires_at - stored.created_at == ttl
        await session.execute(text("UPDATE idempotency_keys SET expires_at = now()"))
        await session.commit()
    again = await committed_client.post("/notes", json={"text": "a"}, headers=headers)
    assert again.status_code == status.HTTP_201_CREATED
    assert "Idempotent-Replayed" not in again.headers
    assert await count_notes(notes) == 2  # an expired key is a new key
    retry = await committed_client.post("/notes", json={"text": "a"}, headers=headers)
    assert retry.json() == again.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    async with notes.session() as session:
        renewed = await session.scalar(select(IdempotencyKey))
        assert renewed is not None
        assert renewed.expires_at - renewed.created_at == ttl


async def test_storing_a_key_deletes_expired_ones(
    committed_client: AsyncClient, notes: Database
) -> None:
    for _ in range(3):
        await committed_client.post("/notes", json={"text": "a"}, headers=new_key())
    async with notes.session() as session:
        await session.execute(text("UPDATE idempotency_keys SET expires_at = now()"))
        await session.commit()
    live = new_key()
    await committed_client.post("/notes", json={"text": "a"}, headers=live)
    rows = await notes.read_all(select(IdempotencyKey.key))
    assert [row["key"] for row in rows] == [live[KEY]]


@pytest.mark.usefixtures("notes_app")
async def test_the_openapi_document_declares_the_header_and_its_answers(
    committed_client: AsyncClient,
) -> None:
    operation = (await committed_client.get("/openapi.json")).json()["paths"]["/notes"]["post"]
    header = next(p for p in operation["parameters"] if p["name"] == KEY)
    assert header["in"] == "header"
    assert header.get("required", False) is False
    assert header["schema"]["maxLength"] == 255
    assert header["schema"]["pattern"].startswith("^")  # clients and fuzzers see the syntax
    for code in ("400", "409", "422"):
        assert KEY in operation["responses"][code]["description"], code
