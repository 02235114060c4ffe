"""Every error has one JSON shape, with no stack trace, and the OpenAPI schema says so."""

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI, status
from httpx import ASGITransport, AsyncClient


class ExplodedError(RuntimeError):
    pass


@pytest.fixture
async def probe_client(app: FastAPI) -> AsyncIterator[AsyncClient]:
    @app.get("/explode")
    async def explode() -> None:
        raise ExplodedError("secret internals")

    @app.get("/count")
    async def count(n: int) -> int:
        return n

    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://test") as http:
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
    assert response.json()["error"]["code"] == "method_not_allowed"


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
