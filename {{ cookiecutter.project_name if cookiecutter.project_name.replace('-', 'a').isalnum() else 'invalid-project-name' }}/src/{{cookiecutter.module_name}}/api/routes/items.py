"""The example resource: create, read by id, list with paging.

Writes go through a session (one transaction, committed before the response); reads are one
statement each, without a transaction (record 0011).
"""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status
from sqlalchemy import bindparam, select

from {{ cookiecutter.module_name }}.api.errors import ErrorResponse
from {{ cookiecutter.module_name }}.db.session import (
    SessionDep,
    SessionFactoryDep,
    read_all,
    read_one,
)
from {{ cookiecutter.module_name }}.models.item import Item
from {{ cookiecutter.module_name }}.schemas.item import ItemCreate, ItemRead
from {{ cookiecutter.module_name }}.schemas.types import BIGINT_MAX

router = APIRouter(prefix="/items", tags=["items"])

# Built once, with bound parameters: SQLAlchemy caches the compiled SQL per statement object, so a
# statement built inside the route would be keyed for that cache again on every request.
COLUMNS = (Item.id, Item.name, Item.description, Item.created_at)
GET_ITEM = select(*COLUMNS).where(Item.id == bindparam("item_id"))
LIST_ITEMS = (
    select(*COLUMNS).order_by(Item.id).limit(bindparam("limit")).offset(bindparam("offset"))
)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_item(payload: ItemCreate, session: SessionDep) -> ItemRead:
    item = Item(name=payload.name, description=payload.description)
    session.add(item)
    await session.flush()
    await session.refresh(item)
    return ItemRead.model_validate(item)


@router.get(
    "/{item_id}",
    responses={status.HTTP_404_NOT_FOUND: {"model": ErrorResponse, "description": "No such item"}},
)
async def get_item(
    item_id: Annotated[int, Path(ge=-BIGINT_MAX - 1, le=BIGINT_MAX)], sessions: SessionFactoryDep
) -> ItemRead:
    row = await read_one(sessions, GET_ITEM, {"item_id": item_id})
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"item {item_id} not found")
    return ItemRead.model_validate(row)


@router.get("")
async def list_items(
    sessions: SessionFactoryDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=BIGINT_MAX)] = 0,
) -> list[ItemRead]:
    rows = await read_all(sessions, LIST_ITEMS, {"limit": limit, "offset": offset})
    return [ItemRead.model_validate(row) for row in rows]
