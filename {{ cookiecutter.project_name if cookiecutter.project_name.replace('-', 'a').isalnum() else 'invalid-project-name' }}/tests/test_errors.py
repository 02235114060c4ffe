"""Every error has one JSON shape, with no stack trace, and the OpenAPI schema says so."""

import logging
from collections.abc import AsyncIterator

import pytest
from fastapi import APIRouter, FastAPI, status
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text

from {{ cookiecutter.module_name }}.core.logging import ACCESS_LOGGER, RequestIdFilter
from {{ cookiecutter.module_name }}.db.session import DatabaseDep


class ExplodedError(RuntimeError):
    pass


@pytest.fixture
async def probe_client(app: FastAPI, bearer: dict[str, str]) -> AsyncIterator[AsyncClient]:
    @app.get("/explode")
    async def explode() -> None:
        raise ExplodedError("secret internals")

    @app.get("/count")
    async def count(n: int) -> int:
        return n

    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://test", headers=bearer) as http:
        yield http


async def test_an_unknown_path_answers_the_error_shape(client: AsyncClient) -> None:
    response = await client.get("/no-such-path")
    assert response.status_code == status.HTTP_404_NOT_FOUND
    assert response.json() == {"error": {"code": "not_found", "message": "Not Found"}}


async def test_a_validation_error_answers_the_error_shape(probe_client: AsyncClient) -> None:
    response = await probe_client.get("/count", params={"n": "many"})
    assert response.status_code == status.HTTP_422_UNPROCESSABLE_CONTENT
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"][0]["location"] == ["query", "n"]


async def test_a_wrong_method_answers_the_error_shape(client: AsyncClient) -> None:
    response = await client.post("/healthz")
    assert response.status_code == status.HTTP_405_METHOD_NOT_ALLOWED
    assert response.headers["allow"] == "GET"
    assert response.json()["error"]["code"] == "method_not_allowed"


async def test_a_wrong_method_on_an_included_router_lists_its_methods(
    app: FastAPI, client: AsyncClient
) -> None:
    """A router added the way the README's guide adds one: its own module, `include_router`."""
    router = APIRouter(prefix="/orders")

    @router.get("")
    async def list_orders() -> None: ...

    @router.post("")
    async def create_order() -> None: ...

    @router.get("/{order_id}")
    async def get_order(order_id: int) -> None: ...

    app.include_router(router)
    collection = await client.delete("/orders")
    assert collection.status_code == status.HTTP_405_METHOD_NOT_ALLOWED
    assert collection.headers["allow"] == "GET, POST"
    one = await client.put("/orders/1")
    assert one.status_code == status.HTTP_405_METHOD_NOT_ALLOWED
    assert one.headers["allow"] == "GET"
    assert one.json()["error"]["code"] == "method_not_allowed"


async def test_an_unhandled_error_answers_500_without_internals(
    probe_client: AsyncClient,
) -> None:
    response = await probe_client.get("/explode")
    assert response.status_code == status.HTTP_500_INTERNAL_SERVER_ERROR
    assert response.json() == {
        "error": {"code": "internal_error", "message": "Internal server error."}
    }
    assert "secret internals" not in response.text
    assert "Traceback" not in response.text


async def test_the_openapi_schema_documents_the_error_shape(client: AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert "ErrorResponse" in schema["components"]["schemas"]
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    readiness = schema["paths"]["/readyz"]["get"]["responses"]
    assert readiness["500"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorResponse"
    }


@pytest.fixture
async def database_down(
    app_with_database_down: FastAPI, bearer: dict[str, str]
) -> AsyncIterator[AsyncClient]:
    app = app_with_database_down

    @app.get("/needs-the-database")
    async def needs_the_database(database: DatabaseDep) -> None:
        await database.read_one(text("SELECT 1"))

    async with AsyncClient(
        transport=ASGITransport(app=app), base_url="http://test", headers=bearer
    ) as http:
        yield http


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.handler.addFilter(RequestIdFilter())
    caplog.set_level(logging.INFO)
    return caplog


def assert_the_id_survived(
    logged: pytest.LogCaptureFixture, response_id: str, sent_id: str, path: str, answered: int
) -> None:
    """The id is on the response, on the one line that reports the error (with its traceback
    for a 500 only) and on the access line."""
    assert response_id == sent_id
    tracebacks = [record for record in logged.records if record.exc_info]
    assert len(tracebacks) == (answered == status.HTTP_500_INTERNAL_SERVER_ERROR), tracebacks
    errors = [record for record in logged.records if record.levelno >= logging.WARNING]
    assert len(errors) == 1, [record.getMessage() for record in errors]
    assert getattr(errors[0], "request_id", None) == sent_id
    [access] = [record for record in logged.records if record.name == ACCESS_LOGGER]
    assert vars(access)["request_id"] == sent_id
    assert vars(access)["status"] == answered
    assert vars(access)["path"] == path


async def test_an_unhandled_error_keeps_the_request_id_on_response_and_log(
    probe_client: AsyncClient, logged: pytest.LogCaptureFixture
) -> None:
    response = await probe_client.get("/explode", headers={"X-Request-ID": "crash-1"})
    assert response.status_code == status.HTTP_500_INTERNAL_SERVER_ERROR
    assert response.json()["error"]["code"] == "internal_error"
    assert_the_id_survived(
        logged, response.headers["x-request-id"], "crash-1", "/explode", response.status_code
    )


async def test_a_database_that_is_down_keeps_the_request_id_on_response_and_log(
    database_down: AsyncClient, logged: pytest.LogCaptureFixture
) -> None:
    response = await database_down.get("/needs-the-database", headers={"X-Request-ID": "db-down-1"})
    assert response.status_code == status.HTTP_503_SERVICE_UNAVAILABLE
    assert response.json()["error"]["code"] == "database_unavailable"
    assert "nothing" not in response.text  # the password in the URL
    assert_the_id_survived(
        logged,
        response.headers["x-request-id"],
        "db-down-1",
        "/needs-the-database",
        response.status_code,
    )
