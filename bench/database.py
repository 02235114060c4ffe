"""The benchmark's database: a throwaway one on the template tests' server, migrated by the baked
project's own `alembic upgrade head`, seeded, and dropped afterwards (also on failure)."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg


async def _execute(dsn: str, statement: str, *args: object) -> str:
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        return await connection.execute(statement, *args)
    finally:
        await connection.close()


def _with_database(admin_url: str, name: str, scheme: str) -> str:
    parts = urlsplit(admin_url)
    return urlunsplit(parts._replace(scheme=scheme, path=f"/{name}"))


@contextmanager
def throwaway_database(admin_url: str) -> Iterator[tuple[str, str]]:
    """Yield (SQLAlchemy URL, asyncpg DSN) of a new empty database; drop it afterwards."""
    name = f"bench_{uuid.uuid4().hex[:12]}"
    asyncio.run(_execute(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        yield (
            _with_database(admin_url, name, "postgresql+asyncpg"),
            _with_database(admin_url, name, "postgresql"),
        )
    finally:
        asyncio.run(_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def migrate(project: Path, python: str, url: str, env: dict[str, str]) -> None:
    result = subprocess.run(
        [python, "-m", "alembic", "upgrade", "head"],
        cwd=project,
        env={**env, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"alembic upgrade head failed:\n{result.stdout}{result.stderr}")


async def _seed(dsn: str, rows: int) -> tuple[int, int]:
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        await connection.execute(
            "INSERT INTO items (name, description) "
            "SELECT 'item ' || g, 'the description of item ' || g "
            "FROM generate_series(1, $1) AS g",
            rows,
        )
        await connection.execute("ANALYZE items")
        low, high = await connection.fetchrow("SELECT min(id), max(id) FROM items")
        return int(low), int(high)
    finally:
        await connection.close()


def seed(dsn: str, rows: int) -> None:
    """Rows with ids 1..rows (a fresh identity column), as the load script asks for them."""
    low, high = asyncio.run(_seed(dsn, rows))
    if (low, high) != (1, rows):
        raise RuntimeError(f"seeded ids {low}..{high}, expected 1..{rows}")
