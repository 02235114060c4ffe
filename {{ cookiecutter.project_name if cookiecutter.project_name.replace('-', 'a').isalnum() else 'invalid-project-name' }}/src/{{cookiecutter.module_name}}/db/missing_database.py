"""One clear line instead of a traceback when the database in DATABASE_URL does not exist yet:
for `alembic upgrade head`, and for the server started in development."""

import logging

from sqlalchemy.engine import make_url

from {{ cookiecutter.module_name }}.db.session import Database

logger = logging.getLogger(__name__)

INVALID_CATALOG_NAME = "3D000"  # PostgreSQL's SQLSTATE for "database ... does not exist"
CREATE_COMMAND = "uv run python -m {{ cookiecutter.module_name }}.db.create_database"


def is_missing_database(error: BaseException) -> bool:
    """Whether PostgreSQL refused the connection because the database does not exist, however
    SQLAlchemy and the driver wrapped its error."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if getattr(current, "sqlstate", None) == INVALID_CATALOG_NAME:
            return True
        wrapped = getattr(current, "orig", None)
        current = wrapped if isinstance(wrapped, BaseException) else current.__cause__
    return False


def missing_database_message(database_url: str) -> str:
    url = make_url(database_url)
    return (
        f'database "{url.database}" does not exist on {url.host}:{url.port or 5432}: '
        f"create it with `{CREATE_COMMAND}`, then run `uv run alembic upgrade head`"
    )


async def log_if_database_is_missing(database: Database, database_url: str) -> None:
    """Say so at start-up in development; any other failure is /readyz's to report."""
    try:
        async with database.session() as session:
            await session.connection()
    except Exception as error:  # only this failure is reported here
        if is_missing_database(error):
            logger.error(missing_database_message(database_url))  # noqa: TRY400 - one line
