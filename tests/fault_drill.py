"""What every fault drill needs first: a PostgreSQL server of its own (never the shared one: the
drills stop, kill and freeze it) holding the drill's database at the migration head, owned by
the drill's role, and the project environment that reaches it."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator

import pytest

from tests.bake import Baked
from tools.private_postgres import PrivatePostgres, available, private_postgres

REQUIRED = "FASTAPI_TEMPLATE_REQUIRE_POSTGRES_BINARIES"


def require_server_binaries() -> None:
    """Skip where PostgreSQL's server binaries are missing, except where the tier must run."""
    reason = available()
    if reason and (os.environ.get("CI") or os.environ.get(REQUIRED) == "1"):
        pytest.fail(f"the faults tier must run here ({REQUIRED}=1 or CI): {reason}")
    if reason:
        pytest.skip(reason)


@contextlib.contextmanager
def migrated_private_database(
    baked: Baked,
    role: str,
    database: str,
    settings: dict[str, str],
    database_settings: dict[str, str] | None = None,
) -> Iterator[tuple[PrivatePostgres, dict[str, str]]]:
    """The bake's environment with `settings` and DATABASE_URL naming the new database; the
    database's own defaults (ALTER DATABASE ... SET) from `database_settings`."""
    require_server_binaries()
    password = secrets.token_hex(12)
    with private_postgres() as postgres:
        postgres.psql(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        postgres.psql(f"CREATE DATABASE {database} OWNER {role}")
        for name, value in (database_settings or {}).items():
            postgres.psql(f"ALTER DATABASE {database} SET {name} = '{value}'")
        env = {**baked.env, **settings, "DATABASE_URL": postgres.url(role, password, database)}
        migrated = Baked(baked.path, baked.context, env).uv(
            "run", "--locked", "alembic", "upgrade", "head"
        )
        assert migrated.returncode == 0, migrated.stderr
        yield postgres, env
