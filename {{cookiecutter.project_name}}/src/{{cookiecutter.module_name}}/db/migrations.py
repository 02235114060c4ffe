"""What the running code knows about its migrations: the head revision it expects, and the
advisory lock every migrator takes (alembic/env.py)."""

import zlib
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

MIGRATION_LOCK_ID = zlib.crc32(b"{{ cookiecutter.module_name }}:alembic")


def expected_revision(alembic_config: Path) -> str | None:
    """The single head of the migration scripts, or None when they cannot be found."""
    if not alembic_config.is_file():
        return None
    script = ScriptDirectory.from_config(Config(str(alembic_config)))
    return script.get_current_head()


async def database_revision(connection: AsyncConnection) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    exists = await connection.scalar(text("SELECT to_regclass('alembic_version') IS NOT NULL"))
    if not exists:
        return None
    revision: str | None = await connection.scalar(text("SELECT version_num FROM alembic_version"))
    return revision
