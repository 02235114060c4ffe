"""Reference: FastAPI with a raw asyncpg pool, get-by-id answering the baked service's JSON.

The same framework work as the baked route (typed path parameter, 404, a pydantic response
model), with no ORM: what is left between this and the baked route is the database layer."""

from _db import QUERY, pool_lifespan
from _item import ItemRead
from fastapi import FastAPI, HTTPException, Request

app = FastAPI(lifespan=pool_lifespan)


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
