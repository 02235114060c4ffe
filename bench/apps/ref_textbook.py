"""Reference: the textbook FastAPI + async SQLAlchemy stack (what peers ship).

One AsyncSession per request from a `Depends` generator, `session.get(Model, id)`, the ORM object
validated into a pydantic model; the engine with SQLAlchemy's defaults. Three round trips per
read: BEGIN, SELECT, ROLLBACK."""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated

from _item import ItemRead
from fastapi import Depends, FastAPI, HTTPException, Request
from sqlalchemy import BigInteger, DateTime, Text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@asynccontextmanager
async def lifespan(app: FastAPI):
    engine = create_async_engine(os.environ["DATABASE_URL"])
    app.state.sessions = async_sessionmaker(engine, expire_on_commit=False)
    try:
        yield
    finally:
        await engine.dispose()


app = FastAPI(lifespan=lifespan)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessions() as session:
        yield session


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/items/{item_id}")
async def get_item(
    item_id: int, session: Annotated[AsyncSession, Depends(get_session)]
) -> ItemRead:
    item = await session.get(Item, item_id)
    if item is None:
        raise HTTPException(404, detail=f"item {item_id} not found")
    return ItemRead.model_validate(item)
