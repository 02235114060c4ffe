"""The benchmark's database: a throwaway one on the template tests' server
(tools.database.throwaway_database, dropped afterwards, also on failure), migrated by the baked
project's own `alembic upgrade head`, and seeded."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import asyncpg

from tools import commands


def asyncpg_dsn(url: str) -> str:
    """The SQLAlchemy URL of tools.database.throwaway_database in the form asyncpg accepts."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def migrate(project: Path, python: str, url: str, env: dict[str, str]) -> None:
    command = [python, "-m", "alembic", "upgrade", "head"]
    commands.run(command, project, {**env, "DATABASE_URL": url}, timeout=120)


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


async def _settle(dsn: str) -> None:
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        await connection.execute("VACUUM")
        # PostgreSQL 15+ lets a role with pg_checkpoint do it; otherwise the vacuum alone.
        with contextlib.suppress(asyncpg.InsufficientPrivilegeError):
            await connection.execute("CHECKPOINT")
    finally:
        await connection.close()


def settle(dsn: str) -> None:
    """After a load that wrote: vacuum and checkpoint now, so the server's background work
    (autovacuum, the checkpointer, the WAL writer) does not run during the next measurement."""
    asyncio.run(_settle(dsn))
