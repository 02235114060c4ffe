"""The server's limits (record 0025): a request head over MAX_REQUEST_HEAD_BYTES answers 431 in
the error shape while other clients are served; a client that sends no complete head within
REQUEST_HEAD_TIMEOUT_SECONDS is disconnected; beyond MAX_CONCURRENT_REQUESTS requests in
progress the API answers 503 with Retry-After, and the probes still answer; an idle kept-alive
connection lasts KEEP_ALIVE_SECONDS."""

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import status
from httpx import ASGITransport, AsyncClient

from {{ cookiecutter.module_name }}.core.config import Settings
from {{ cookiecutter.module_name }}.main import create_app
from tests.server_process import ServerProcess, running_server

HEAD_LIMIT = 4096
HEAD_TIMEOUT_SECONDS = 1.0
KEEP_ALIVE_SECONDS = 2
# Generous: the server closes at HEAD_TIMEOUT_SECONDS; this only keeps a broken build from hanging.
CLOSE_DEADLINE_SECONDS = 10.0


@dataclass(frozen=True)
class Holds:
    entered: asyncio.Event
    release: asyncio.Event


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[ServerProcess]:
    with running_server(
        "{{ cookiecutter.module_name }}.main:app",
        database_url,
        MAX_REQUEST_HEAD_BYTES=str(HEAD_LIMIT),
        REQUEST_HEAD_TIMEOUT_SECONDS=str(HEAD_TIMEOUT_SECONDS),
        KEEP_ALIVE_SECONDS=str(KEEP_ALIVE_SECONDS),
    ) as running:
        yield running


def read_all(connection: socket.socket) -> bytes:
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    return received


def test_a_head_over_the_limit_answers_431_and_others_are_served(server: ServerProcess) -> None:
    with socket.create_connection(
        ("127.0.0.1", server.port), timeout=CLOSE_DEADLINE_SECONDS
    ) as big:
        big.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Big: " + b"a" * HEAD_LIMIT * 4)
        assert httpx.get(f"{server.base}/healthz", timeout=5).status_code == 200
        answer = read_all(big)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 "), answer
    assert json.loads(body)["error"]["code"] == "request_header_fields_too_large"


def test_a_head_within_the_limit_is_served(server: ServerProcess) -> None:
    padding = "a" * (HEAD_LIMIT // 2)
    response = httpx.get(f"{server.base}/healthz", headers={"X-Padding": padding}, timeout=5)
    assert response.status_code == 200


@pytest.mark.parametrize(
    "sent", [b"", b"GET /healthz HTTP/1.1\r\nHost: te"], ids=["silent", "half"]
)
def test_a_client_that_sends_no_whole_head_is_disconnected(
    server: ServerProcess, sent: bytes
) -> None:
    with socket.create_connection(
        ("127.0.0.1", server.port), timeout=CLOSE_DEADLINE_SECONDS
    ) as client:
        client.sendall(sent)
        assert read_all(client) == b""  # closed by the server, with nothing sent back


@pytest.fixture
async def one_at_a_time(
    settings: Settings, bearer: dict[str, str]
) -> AsyncIterator[tuple[AsyncClient, Holds]]:
    app = create_app(settings.model_copy(update={"max_concurrent_requests": 1}))
    holds = Holds(entered=asyncio.Event(), release=asyncio.Event())

    @app.get("/hold")
    async def hold() -> None:
        holds.entered.set()
        await holds.release.wait()

    async with (
        app.router.lifespan_context(app),
        AsyncClient(
            transport=ASGITransport(app=app), base_url="http://test", headers=bearer
        ) as client,
    ):
        yield client, holds


async def test_beyond_the_concurrency_limit_the_api_answers_503_and_probes_answer(
    one_at_a_time: tuple[AsyncClient, Holds],
) -> None:
    client, holds = one_at_a_time
    held = asyncio.create_task(client.get("/hold"))
    await asyncio.wait_for(holds.entered.wait(), timeout=10)
    busy = await client.get("/hold")
    assert busy.status_code == status.HTTP_503_SERVICE_UNAVAILABLE
    assert busy.headers["retry-after"] == "1"
    assert busy.json()["error"]["code"] == "server_busy"
    assert (await client.get("/healthz")).status_code == status.HTTP_200_OK
    assert (await client.get("/readyz")).status_code == status.HTTP_200_OK
    holds.release.set()
    assert (await held).status_code == status.HTTP_200_OK
    assert (await client.get("/hold")).status_code == status.HTTP_200_OK
    document = (await client.get("/openapi.json")).json()
    assert "503" in document["paths"]["/hold"]["get"]["responses"]


def test_an_idle_kept_alive_connection_is_closed_at_the_keep_alive_timeout(
    server: ServerProcess,
) -> None:
    """After a response only KEEP_ALIVE_SECONDS applies: the head timeout (shorter here) does
    not cut an idle connection between requests."""
    with socket.create_connection(
        ("127.0.0.1", server.port), timeout=CLOSE_DEADLINE_SECONDS
    ) as client:
        client.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        answer = client.recv(65536)
        answered = time.monotonic()
        answer += read_all(client)  # the rest of the answer, if any, then the server's close
        idle = time.monotonic() - answered
    assert answer.startswith(b"HTTP/1.1 200 "), answer
    assert answer.endswith(b'{"status":"ok"}'), answer  # one answer, nothing after it
    assert idle >= KEEP_ALIVE_SECONDS * 0.9, idle
