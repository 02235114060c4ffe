"""Reference: bare Starlette. /healthz, and get-by-id on a raw asyncpg pool (the limit)."""

from _db import QUERY, pool_lifespan, timestamp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def get_item(request: Request) -> JSONResponse:
    try:
        item_id = int(request.path_params["item_id"])
    except ValueError:
        return JSONResponse({"detail": "item_id must be an integer"}, status_code=422)
    async with request.app.state.pool.acquire() as connection:
        row = await connection.fetchrow(QUERY, item_id)
    if row is None:
        return JSONResponse({"detail": f"item {item_id} not found"}, status_code=404)
    return JSONResponse(
        {
            "id": row["id"],
            "name": row["name"],
            "description": row["description"],
            "created_at": timestamp(row["created_at"]),
        }
    )


app = Starlette(
    routes=[Route("/healthz", healthz), Route("/items/{item_id}", get_item)],
    lifespan=pool_lifespan,
)
