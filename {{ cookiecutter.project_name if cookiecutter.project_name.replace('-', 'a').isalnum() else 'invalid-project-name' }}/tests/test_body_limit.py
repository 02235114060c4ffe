"""Request bodies over MAX_REQUEST_BODY_BYTES answer 413 in the error shape, unread; a body that is
not JSON (malformed, or not UTF-8) answers 422 `json_invalid`; every error status is in the
OpenAPI document."""

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI, Request, status
from httpx import ASGITransport, AsyncClient

from {{ cookiecutter.module_name }}.core.config import Settings
from {{ cookiecutter.module_name }}.main import create_app

LIMIT = 64
ERROR_SHAPE = {"$ref": "#/components/schemas/ErrorResponse"}


@pytest.fixture
async def small_limit_client(
    settings: Settings, bearer: dict[str, str]
) -> AsyncIterator[AsyncClient]:
    app = create_app(settings.model_copy(update={"max_request_body_bytes": LIMIT}))

    @app.post("/echo")
    async def echo(request: Request) -> int:
        return len(await request.body())

    @app.get("/pair")
    async def pair_read() -> None: ...

    @app.post("/pair")
    async def pair_write() -> None: ...

    async with AsyncClient(
        transport=ASGITransport(app=app), base_url="http://test", headers=bearer
    ) as http:
        yield http


async def test_a_body_at_the_limit_is_served(small_limit_client: AsyncClient) -> None:
    response = await small_limit_client.post("/echo", content=b"x" * LIMIT)
    assert response.status_code == status.HTTP_200_OK
    assert response.json() == LIMIT


async def test_a_declared_length_over_the_limit_answers_413(
    small_limit_client: AsyncClient,
) -> None:
    response = await small_limit_client.post("/echo", content=b"x" * (LIMIT + 1))
    assert response.status_code == status.HTTP_413_CONTENT_TOO_LARGE
    assert response.json() == {
        "error": {
            "code": "payload_too_large",
            "message": f"The request body is larger than {LIMIT} bytes.",
        }
    }
    assert response.headers["x-request-id"]


async def test_a_streamed_body_is_cut_off_at_the_limit(small_limit_client: AsyncClient) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: sent chunked
        nonlocal sent
        for _ in range(100):
            sent += 1
            yield b"x" * 32

    response = await small_limit_client.post("/echo", content=chunks())
    assert response.status_code == status.HTTP_413_CONTENT_TOO_LARGE
    assert response.json()["error"]["code"] == "payload_too_large"
    assert response.headers["x-request-id"]
    assert sent == 3, "the body was read past the chunk that crossed the limit"


async def test_an_undecodable_json_body_answers_as_malformed_json_does(
    client: AsyncClient, app: FastAPI
) -> None:
    """Invalid UTF-8 and malformed JSON are both a body that is not JSON: one status, 422."""

    @app.post("/parse")
    async def parse(payload: dict[str, int]) -> dict[str, int]:
        return payload

    for body in (b"\xff{", b"{"):
        response = await client.post(
            "/parse", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == status.HTTP_422_UNPROCESSABLE_CONTENT, body
        error = response.json()["error"]
        assert error["code"] == "validation_error"
        assert [detail["type"] for detail in error["details"]] == ["json_invalid"]
        assert error["details"][0]["location"][0] == "body"


async def test_405_allows_every_method_of_the_path(small_limit_client: AsyncClient) -> None:
    response = await small_limit_client.delete("/pair")
    assert response.status_code == status.HTTP_405_METHOD_NOT_ALLOWED
    assert response.headers["allow"] == "GET, POST"
    assert response.json()["error"]["code"] == "method_not_allowed"


async def test_every_operation_documents_the_error_statuses(client: AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for code in ("400", "413", "422", "500"):
                documented = operation["responses"].get(code)
                assert documented, f"{method.upper()} {path} does not document {code}"
                assert documented["content"]["application/json"]["schema"] == ERROR_SHAPE
