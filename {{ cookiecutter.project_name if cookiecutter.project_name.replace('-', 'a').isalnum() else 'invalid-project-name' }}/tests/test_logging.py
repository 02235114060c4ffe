"""Request ids reach every log line of a request and the response; production logs are JSON."""

import json
import logging

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from {{ cookiecutter.module_name }}.core.logging import (
    JsonFormatter,
    RequestIdFilter,
    configure_logging,
    request_id,
)


async def test_a_well_formed_incoming_request_id_is_echoed(client: AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "abc-123.x"})
    assert response.headers["x-request-id"] == "abc-123.x"


@pytest.mark.parametrize(
    "incoming", ["", "a" * 129, "has space", "new\\nline", "<script>"], ids=repr
)
async def test_a_malformed_request_id_is_replaced(client: AsyncClient, incoming: str) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": incoming})
    generated = response.headers["x-request-id"]
    assert generated != incoming
    assert len(generated) == 32
    assert int(generated, 16) >= 0


async def test_a_request_id_is_made_when_none_is_sent(client: AsyncClient) -> None:
    first = await client.get("/healthz")
    second = await client.get("/healthz")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_log_lines_of_a_request_carry_its_id(
    app: FastAPI, client: AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    @app.get("/log-something")
    async def log_something() -> None:
        logging.getLogger("probe").info("inside the request")

    caplog.handler.addFilter(RequestIdFilter())
    with caplog.at_level(logging.INFO, logger="probe"):
        await client.get("/log-something", headers={"X-Request-ID": "trace-me"})
        logging.getLogger("probe").info("outside any request")
    ids = {r.getMessage(): getattr(r, "request_id", None) for r in caplog.records}
    assert ids["inside the request"] == "trace-me"
    assert ids["outside any request"] == "-"
    assert request_id.get() is None


def test_json_lines_carry_the_request_id_and_extras() -> None:
    record = logging.LogRecord("app", logging.INFO, __file__, 1, "hello %s", ("you",), None)
    record.request_id = "rid-1"
    record.order_id = 42
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "hello you"
    assert line["request_id"] == "rid-1"
    assert line["order_id"] == 42
    assert line["level"] == "INFO"


@pytest.mark.parametrize("uvicorn_access_log", [True, False])
def test_the_access_log_stays_as_uvicorn_was_told(uvicorn_access_log: bool) -> None:
    """uvicorn sets up its loggers before importing the app; `--no-access-log` must hold."""
    access = logging.getLogger("uvicorn.access")
    saved = access.handlers[:], access.propagate
    try:
        # What uvicorn leaves: its own handler, or (access log off) none; never propagation.
        access.handlers = [logging.NullHandler()] if uvicorn_access_log else []
        access.propagate = False
        configure_logging("INFO", "console")
        assert access.propagate is uvicorn_access_log
        assert access.handlers == []
    finally:
        access.handlers, access.propagate = saved
