import pytest
from fastapi import status
from httpx import AsyncClient


async def test_create_then_get_an_item(client: AsyncClient) -> None:
    created = await client.post("/items", json={"name": "first", "description": "hello"})
    assert created.status_code == status.HTTP_201_CREATED
    body = created.json()
    assert body["name"] == "first"
    assert body["description"] == "hello"

    fetched = await client.get(f"/items/{body['id']}")
    assert fetched.status_code == status.HTTP_200_OK
    assert fetched.json() == body


async def test_get_a_missing_item_answers_404(client: AsyncClient) -> None:
    response = await client.get("/items/2147483647")
    assert response.status_code == status.HTTP_404_NOT_FOUND
    assert response.json() == {
        "error": {"code": "not_found", "message": "item 2147483647 not found"}
    }


async def test_create_rejects_an_empty_name(client: AsyncClient) -> None:
    response = await client.post("/items", json={"name": ""})
    assert response.status_code == status.HTTP_422_UNPROCESSABLE_CONTENT
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"][0]["location"] == ["body", "name"]


async def test_list_pages_with_limit_and_offset(client: AsyncClient) -> None:
    ids = []
    for name in ("a", "b", "c"):
        response = await client.post("/items", json={"name": name})
        ids.append(response.json()["id"])

    first_page = await client.get("/items", params={"limit": 2, "offset": 0})
    second_page = await client.get("/items", params={"limit": 2, "offset": 2})

    assert [item["id"] for item in first_page.json()] == ids[:2]
    assert [item["id"] for item in second_page.json()] == ids[2:]


async def test_list_rejects_a_limit_above_100(client: AsyncClient) -> None:
    response = await client.get("/items", params={"limit": 101})
    assert response.status_code == status.HTTP_422_UNPROCESSABLE_CONTENT


@pytest.mark.parametrize(
    "escaped_name", ["nul\\u0000inside", "lone \\ud800 surrogate"], ids=["nul", "surrogate"]
)
async def test_create_rejects_text_postgres_cannot_store(
    client: AsyncClient, escaped_name: str
) -> None:
    # Raw JSON: the escapes reach the server as sent (a client library would refuse to encode them).
    body = '{"name": "%s"}' % escaped_name  # noqa: UP031
    response = await client.post(
        "/items", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == status.HTTP_422_UNPROCESSABLE_CONTENT


async def test_the_openapi_document_says_nul_is_refused(client: AsyncClient) -> None:
    """Else a client (or a schema-driven fuzzer) sends NUL in good faith and gets a 422."""
    schema = (await client.get("/openapi.json")).json()["components"]["schemas"]["ItemCreate"]
    name, description = schema["properties"]["name"], schema["properties"]["description"]
    assert name["pattern"] == description["anyOf"][0]["pattern"] == "^[^\\x00]*$"


@pytest.mark.parametrize(
    ("path", "params"),
    [("/items/9223372036854775808", {}), ("/items", {"offset": 2**63})],
    ids=["id", "offset"],
)
async def test_numbers_beyond_bigint_answer_422(
    client: AsyncClient, path: str, params: dict[str, int]
) -> None:
    response = await client.get(path, params=params)
    assert response.status_code == status.HTTP_422_UNPROCESSABLE_CONTENT
