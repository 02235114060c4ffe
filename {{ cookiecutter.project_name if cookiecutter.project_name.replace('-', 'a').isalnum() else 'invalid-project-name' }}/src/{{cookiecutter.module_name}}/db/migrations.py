"""What the running code knows about its migrations: the head revision it expects, the
advisory lock every migrator takes (alembic/env.py), and how new revisions are numbered."""

import zlib
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

MIGRATION_LOCK_ID = zlib.crc32(b"{{ cookiecutter.module_name }}:alembic")


def next_revision_id(existing: Iterable[str]) -> str:
    """One more than the highest of the project's numbered revisions, four digits: 0003 after
    0002. The template's own revisions after 0002 are t0003, t0004, ... and count for nothing
    here, so a template update never brings an id the project already has (record 0027)."""
    numbers = [int(revision) for revision in existing if revision.isdigit()]
    return f"{max(numbers, default=0) + 1:04d}"


def expected_revision(alembic_config: Path) -> str | None:
    """The single head of the migration scripts, or None when they cannot be read or there is
    more than one. Slow enough (alembic's import, every script loaded) that the lifespan runs it
    in a thread and `/readyz` awaits it, rather than holding up start-up."""
    # Imported here, in that thread, and not at start-up.
    from alembic.config import Config  # noqa: PLC0415
    from alembic.script import ScriptDirectory  # noqa: PLC0415
    from alembic.util import CommandError  # noqa: PLC0415

    try:
        return ScriptDirectory.from_config(Config(alembic_config)).get_current_head()
    except CommandError:  # no such configuration, or several heads
        return None


async def database_revision(session: AsyncSession) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    exists = await session.scalar(text("SELECT to_regclass('alembic_version') IS NOT NULL"))
    if not exists:
        return None
    revision: str | None = await session.scalar(text("SELECT version_num FROM alembic_version"))
    return revision
