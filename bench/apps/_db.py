"""What the reference apps share: the database they read, the query, the asyncpg pool, and the
JSON of a row."""

import os
from contextlib import asynccontextmanager
from datetime import datetime

import asyncpg

# The table the baked project's migration creates (include_example=yes), seeded by bench/run.py.
QUERY = "SELECT id, name, description, created_at FROM items WHERE id = $1"
POOL_SIZE = 5  # the baked service's default db_pool_size
POOL_MAX = 15  # db_pool_size + db_max_overflow


def dsn() -> str:
    """DATABASE_URL as the baked service reads it, in the form asyncpg accepts."""
    return os.environ["DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://", 1)


def timestamp(value: datetime) -> str:
    """The same text pydantic writes for an aware datetime (UTC as Z)."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


@asynccontextmanager
async def pool_lifespan(app):
    """The asyncpg pool of the raw-driver references, sized as the baked service's pool."""
    app.state.pool = await asyncpg.create_pool(dsn(), min_size=POOL_SIZE, max_size=POOL_MAX)
    try:
        yield
    finally:
        await app.state.pool.close()
