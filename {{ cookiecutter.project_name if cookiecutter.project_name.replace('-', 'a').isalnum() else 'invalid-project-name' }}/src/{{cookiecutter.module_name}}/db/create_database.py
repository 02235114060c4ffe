"""Create the database in DATABASE_URL if it does not exist yet (development set-up):

    uv run python -m {{ cookiecutter.module_name }}.db.create_database

It connects to the same server with the same credentials, to its `postgres` maintenance
database, so the user in DATABASE_URL needs the CREATEDB privilege (or an existing database).
"""

import asyncio

import asyncpg
from sqlalchemy.engine import URL, make_url

from {{ cookiecutter.module_name }}.core.config import get_settings

CONNECT_TIMEOUT_SECONDS = 5.0


def server_dsn(url: URL, database: str) -> str:
    return url.set(drivername="postgresql", database=database).render_as_string(hide_password=False)


async def create_database(url: URL) -> bool:
    """Create the database of `url`; False when it was already there."""
    connection = await asyncpg.connect(server_dsn(url, "postgres"), timeout=CONNECT_TIMEOUT_SECONDS)
    try:
        exists = await connection.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", url.database
        )
        if exists:
            return False
        name = str(url.database).replace('"', '""')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return True


def main() -> None:
    url = make_url(get_settings().database_url.get_secret_value())
    where = f'database "{url.database}" on {url.host}:{url.port or 5432}'
    try:
        created = asyncio.run(create_database(url))
    except (OSError, TimeoutError, asyncpg.PostgresError) as error:
        message = f"could not create {where}: {type(error).__name__}: {error}"
        raise SystemExit(message) from None
    print(f"created {where}" if created else f"{where} already exists")


if __name__ == "__main__":
    main()
