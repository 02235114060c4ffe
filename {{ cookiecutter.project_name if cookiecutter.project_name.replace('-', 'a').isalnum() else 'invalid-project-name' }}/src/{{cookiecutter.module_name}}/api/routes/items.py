"""The example resource, and the pattern to copy for the next one: create, get by id, list
(paging and a filter), partial update, delete.

Reads that are one statement go through the `Database` (no transaction, record 0011); writes go
through the request's session, committed before the response. Constraint violations (409/422)
and a database that cannot serve the request now (503) answer in the error shape
(api/database_errors.py).
"""

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from sqlalchemy import bindparam, delete, select

from {{ cookiecutter.module_name }}.api.database_errors import DATABASE_ERROR_RESPONSES
from {{ cookiecutter.module_name }}.api.errors import ErrorResponse
from {{ cookiecutter.module_name }}.api.idempotency import IdempotentRoute
{%- if cookiecutter.auth == "oidc" %}
from {{ cookiecutter.module_name }}.auth import AUTH_RESPONSES, require_scopes
{%- endif %}
from {{ cookiecutter.module_name }}.db.session import DatabaseDep, SessionDep
{%- if cookiecutter.background_jobs == "yes" %}
from {{ cookiecutter.module_name }}.jobs import enqueue
{%- endif %}
from {{ cookiecutter.module_name }}.models.item import Item
from {{ cookiecutter.module_name }}.schemas.item import ItemCreate, ItemRead, ItemUpdate
from {{ cookiecutter.module_name }}.schemas.types import BIGINT_MAX, PostgresText

# IdempotentRoute: a POST retried with the same Idempotency-Key creates nothing (record 0026).
router = APIRouter(
    prefix="/items",
    tags=["items"],
{%- if cookiecutter.auth == "oidc" %}
    responses={**DATABASE_ERROR_RESPONSES, **AUTH_RESPONSES},
{%- else %}
    responses=DATABASE_ERROR_RESPONSES,
{%- endif %}
    route_class=IdempotentRoute,
)
{%- if cookiecutter.auth == "oidc" %}
# Reads need items:read, writes items:write (record 0028).
READ = require_scopes("items:read")
WRITE = require_scopes("items:write")
{%- endif %}

ItemId = Annotated[int, Path(ge=-BIGINT_MAX - 1, le=BIGINT_MAX)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    status.HTTP_404_NOT_FOUND: {"model": ErrorResponse, "description": "No such item"}
}

{% if cookiecutter.background_jobs == "yes" -%}
COLUMNS = (Item.id, Item.name, Item.description, Item.created_at, Item.processed_at)
{%- else -%}
COLUMNS = (Item.id, Item.name, Item.description, Item.created_at)
{%- endif %}
# Built once, with a bound parameter: SQLAlchemy caches the compiled SQL per statement object,
# so the most frequent read skips building and keying it again on every request.
GET_ITEM = select(*COLUMNS).where(Item.id == bindparam("item_id"))


def not_found(item_id: int) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=f"item {item_id} not found")


@router.post("", status_code=status.HTTP_201_CREATED{% if cookiecutter.auth == "oidc" %}, dependencies=[WRITE]{% endif %})
async def create_item(
    payload: ItemCreate, session: SessionDep, request: Request, response: Response
) -> ItemRead:
    item = Item(**payload.model_dump())
    session.add(item)
    await session.flush()
    await session.refresh(item)  # created_at comes from the database
{%- if cookiecutter.background_jobs == "yes" %}
    # In the request's transaction: the job exists if and only if the item does (record 0031).
    await enqueue(session, "stamp_item", {"item_id": item.id})
{%- endif %}
    response.headers["Location"] = request.url_for("get_item", item_id=item.id).path
    return ItemRead.model_validate(item)


@router.get("/{item_id}", responses=NOT_FOUND{% if cookiecutter.auth == "oidc" %}, dependencies=[READ]{% endif %})
async def get_item(item_id: ItemId, database: DatabaseDep) -> ItemRead:
    row = await database.read_one(GET_ITEM, {"item_id": item_id})
    if row is None:
        raise not_found(item_id)
    return ItemRead.model_validate(row)


@router.get(""{% if cookiecutter.auth == "oidc" %}, dependencies=[READ]{% endif %})
async def list_items(
    database: DatabaseDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=BIGINT_MAX)] = 0,
    name: Annotated[PostgresText | None, Query(description="exact name")] = None,
) -> list[ItemRead]:
    statement = select(*COLUMNS).order_by(Item.id).limit(limit).offset(offset)
    if name is not None:
        statement = statement.where(Item.name == name)
    rows = await database.read_all(statement)
    return [ItemRead.model_validate(row) for row in rows]


@router.patch("/{item_id}", responses=NOT_FOUND{% if cookiecutter.auth == "oidc" %}, dependencies=[WRITE]{% endif %})
async def update_item(item_id: ItemId, payload: ItemUpdate, session: SessionDep) -> ItemRead:
    # FOR UPDATE: a concurrent update of the same item waits for this one instead of undoing it.
    item = await session.get(Item, item_id, with_for_update=True)
    if item is None:
        raise not_found(item_id)
    for field, value in payload.model_dump(exclude_unset=True).items():
        setattr(item, field, value)
    await session.flush()
    return ItemRead.model_validate(item)


@router.delete(
    "/{item_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=NOT_FOUND,
{%- if cookiecutter.auth == "oidc" %}
    dependencies=[WRITE],
{%- endif %}
)
async def delete_item(item_id: ItemId, session: SessionDep) -> Response:
    deleted = await session.scalar(delete(Item).where(Item.id == item_id).returning(Item.id))
    if deleted is None:
        raise not_found(item_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
