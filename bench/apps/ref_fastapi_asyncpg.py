"""Reference: FastAPI with a raw asyncpg pool, get-by-id answering the baked service's JSON.

The same framework work as the baked route (typed path parameter, 404, a pydantic response
model), with no ORM: what is left between this and the baked route is the database layer."""

from contextlib import asynccontextmanager
from datetime import datetime

import asyncpg
from _db import POOL_MAX, POOL_SIZE, QUERY, dsn
from fastapi import FastAPI, HTTPException, Request
from pydantic import BaseModel


class ItemRead(BaseModel):
    id: int
    name: str
    description: str | None
    created_at: datetime


@asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.pool = await asyncpg.create_pool(dsn(), min_size=POOL_SIZE, max_size=POOL_MAX)
    try:
        yield
    finally:
        await app.state.pool.close()


app = FastAPI(lifespan=lifespan)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/items/{item_id}")
async def get_item(item_id: int, request: Request) -> ItemRead:
    async with request.app.state.pool.acquire() as connection:
        row = await connection.fetchrow(QUERY, item_id)
    if row is None:
        raise HTTPException(404, detail=f"item {item_id} not found")
    return ItemRead(**row)
