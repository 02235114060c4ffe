import pytest
from fastapi import status
from httpx import AsyncClient
{%- if cookiecutter.auth == "oidc" %}

# The `client` fixture's token carries these scopes (tests/conftest.py).
pytestmark = pytest.mark.scopes("items:read", "items:write")
{%- endif %}


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


async def create(client: AsyncClient, name: str, description: str | None = None) -> int:
    response = await client.post("/items", json={"name": name, "description": description})
    assert response.status_code == status.HTTP_201_CREATED
    item_id: int = response.json()["id"]
    return item_id


async def test_list_filters_by_exact_name(client: AsyncClient) -> None:
    wanted = await create(client, "wanted")
    await create(client, "other")
    response = await client.get("/items", params={"name": "wanted"})
    assert [item["id"] for item in response.json()] == [wanted]


async def test_patch_changes_only_the_fields_sent(client: AsyncClient) -> None:
    item_id = await create(client, "before", "kept")
    response = await client.patch(f"/items/{item_id}", json={"name": "after"})
    assert response.status_code == status.HTTP_200_OK
    assert response.json()["name"] == "after"
    assert response.json()["description"] == "kept"
    cleared = await client.patch(f"/items/{item_id}", json={"description": None})
    assert cleared.json()["description"] is None
    assert (await client.get(f"/items/{item_id}")).json() == cleared.json()


async def test_patch_refuses_a_null_name(client: AsyncClient) -> None:
    item_id = await create(client, "named")
    response = await client.patch(f"/items/{item_id}", json={"name": None})
    assert response.status_code == status.HTTP_422_UNPROCESSABLE_CONTENT
    assert response.json()["error"]["details"][0]["location"] == ["body", "name"]


async def test_delete_removes_the_item(client: AsyncClient) -> None:
    item_id = await create(client, "doomed")
    response = await client.delete(f"/items/{item_id}")
    assert response.status_code == status.HTTP_204_NO_CONTENT
    assert response.content == b""
    assert (await client.get(f"/items/{item_id}")).status_code == status.HTTP_404_NOT_FOUND


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
async def test_changing_a_missing_item_answers_404(client: AsyncClient, method: str) -> None:
    response = await client.request(method, "/items/2147483647", json={"name": "x"})
    assert response.status_code == status.HTTP_404_NOT_FOUND
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "body",
    [{"name": "a", "colour": "red"}, {"name": True}, {"name": 7}],
    ids=["unknown-field", "bool-for-text", "int-for-text"],
)
async def test_create_rejects_what_the_schema_does_not_declare(
    client: AsyncClient, body: dict[str, object]
) -> None:
    response = await client.post("/items", json=body)
    assert response.status_code == status.HTTP_422_UNPROCESSABLE_CONTENT
    assert response.json()["error"]["code"] == "validation_error"


async def test_a_wrong_method_lists_the_methods_of_the_path(client: AsyncClient) -> None:
    one = await client.put("/items/1")
    assert one.status_code == status.HTTP_405_METHOD_NOT_ALLOWED
    assert one.headers["allow"] == "DELETE, GET, PATCH"
    collection = await client.delete("/items")
    assert collection.status_code == status.HTTP_405_METHOD_NOT_ALLOWED
    assert collection.headers["allow"] == "GET, POST"


async def test_a_create_retried_with_its_idempotency_key_creates_one_item(
    client: AsyncClient,
) -> None:
    headers = {"Idempotency-Key": "7d5b9c1e-0f4a-4c3e-9a51-2b8f6d0e4a17"}
    first = await client.post("/items", json={"name": "once"}, headers=headers)
    retry = await client.post("/items", json={"name": "once"}, headers=headers)
    assert first.status_code == retry.status_code == status.HTTP_201_CREATED
    assert retry.json() == first.json()
    assert retry.headers["Location"] == first.headers["Location"] == f"/items/{first.json()['id']}"
    listed = await client.get("/items", params={"name": "once"})
    assert listed.json() == [first.json()]
    reused = await client.post("/items", json={"name": "twice"}, headers=headers)
    assert reused.status_code == status.HTTP_422_UNPROCESSABLE_CONTENT
    assert reused.json()["error"]["code"] == "idempotency_key_reused"


async def test_the_openapi_document_declares_idempotency_on_create(client: AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    create = paths["/items"]["post"]
    assert [p["name"] for p in create["parameters"] if p["in"] == "header"] == ["Idempotency-Key"]
    for code in ("400", "409", "422"):
        assert "Idempotency-Key" in create["responses"][code]["description"], code
    listing = paths["/items"]["get"].get("parameters", [])
    assert [p for p in listing if p["in"] == "header"] == []  # POST only
