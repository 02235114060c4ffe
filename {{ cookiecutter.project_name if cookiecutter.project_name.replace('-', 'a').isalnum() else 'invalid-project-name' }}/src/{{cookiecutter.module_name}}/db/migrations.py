"""What the running code knows about its migrations: the head revision it expects, and the
advisory lock every migrator takes (alembic/env.py)."""

import ast
import configparser
import zlib
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

MIGRATION_LOCK_ID = zlib.crc32(b"{{ cookiecutter.module_name }}:alembic")


def expected_revision(alembic_config: Path) -> str | None:
    """The single head of the migration scripts, or None when they cannot be read or there is
    more than one. Read from the scripts' source rather than through alembic, whose import alone
    is about a tenth of the service's start-up; tests/test_migrations.py holds it to alembic's
    answer."""
    parser = configparser.ConfigParser(defaults={"here": str(alembic_config.parent.resolve())})
    if not parser.read(alembic_config) or not parser.has_option("alembic", "script_location"):
        return None
    versions = Path(parser.get("alembic", "script_location")) / "versions"
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in versions.glob("*.py"):
        values = _assignments(script)
        revision, down = values.get("revision"), values.get("down_revision")
        if isinstance(revision, str):
            revisions.add(revision)
        if isinstance(down, str):
            parents.add(down)
        elif isinstance(down, tuple | list):  # a merge revision
            parents.update(str(parent) for parent in down)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _assignments(script: Path) -> dict[str, object]:
    """The literal module-level assignments of a migration script (`revision: str = "0002"`)."""
    values: dict[str, object] = {}
    for node in ast.parse(script.read_bytes()).body:
        if isinstance(node, ast.AnnAssign | ast.Assign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    try:
                        values[target.id] = ast.literal_eval(node.value)
                    except (ValueError, TypeError, SyntaxError):  # not a literal
                        continue
    return values


async def database_revision(connection: AsyncConnection) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    exists = await connection.scalar(text("SELECT to_regclass('alembic_version') IS NOT NULL"))
    if not exists:
        return None
    revision: str | None = await connection.scalar(text("SELECT version_num FROM alembic_version"))
    return revision
