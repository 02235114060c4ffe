"""Throwaway databases on the template tests' PostgreSQL server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from tools.machine import admin_database_url


async def _execute(statement: str) -> None:
    connection = await asyncpg.connect(admin_database_url(), timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def throwaway_database() -> Iterator[str]:
    """Yield the asyncpg SQLAlchemy URL of a new, empty database; drop it afterwards."""
    name = f"tmpl_{uuid.uuid4().hex[:16]}"
    asyncio.run(_execute(f'CREATE DATABASE "{name}"'))
    try:
        parts = urlsplit(admin_database_url())
        yield urlunsplit(parts._replace(scheme="postgresql+asyncpg", path=f"/{name}"))
    finally:
        asyncio.run(_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def drop_database(name: str) -> None:
    """Drop a database a test made by other means (a bake's development database)."""
    asyncio.run(_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
