"""Alembic environment: async engine, settings from the application, metadata from the models.

Migrations run under a PostgreSQL advisory lock, so migrators started at the same moment (several
replicas, a job retried) apply each revision once: the others wait, then find nothing to do.
New revisions are numbered after the project's last one: 0003, 0004, ... (`--rev-id` still
wins); the template's own revisions are named t0003, t0004, ... and are not counted (record 0027).
"""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from logging.config import fileConfig

from alembic import context
from alembic.operations.ops import MigrationScript
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from {{ cookiecutter.module_name }} import models  # noqa: F401  (registers every table)
from {{ cookiecutter.module_name }}.core.config import Settings, get_settings
from {{ cookiecutter.module_name }}.db.base import Base
from {{ cookiecutter.module_name }}.db.migrations import MIGRATION_LOCK_ID, next_revision_id
from {{ cookiecutter.module_name }}.db.missing_database import (
    is_missing_database,
    missing_database_message,
)

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def settings() -> Settings:
    """Settings passed by the caller (tests) win over the application's own."""
    given: Settings | None = config.attributes.get("settings")
    return given or get_settings()


def milliseconds(seconds: float) -> str:
    return str(int(seconds * 1000))


@contextmanager
def migration_lock(connection: Connection, current: Settings) -> Iterator[None]:
    set_timeout = text("SELECT set_config(:name, :value, false)")
    wait = milliseconds(current.migration_lock_wait_seconds)
    # Both: where the service's timeouts are the role's defaults (ALTER ROLE, record 0023), its
    # statement_timeout would otherwise end this wait (and, below, its idle timeout a migration).
    for name in ("lock_timeout", "statement_timeout"):
        connection.execute(set_timeout, {"name": name, "value": wait})
    connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
    for name, seconds in (
        ("lock_timeout", current.migration_lock_timeout_seconds),
        ("statement_timeout", current.migration_statement_timeout_seconds),
        ("idle_in_transaction_session_timeout", current.migration_statement_timeout_seconds),
    ):
        connection.execute(set_timeout, {"name": name, "value": milliseconds(seconds)})
    connection.commit()  # the session-level lock outlives this transaction
    try:
        yield
    finally:
        connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
        connection.commit()


def sequential_revision_id(
    _context: MigrationContext, _revision: object, directives: list[MigrationScript]
) -> None:
    """Alembic's process_revision_directives hook: a new revision gets the next number."""
    if getattr(config.cmd_opts, "rev_id", None):
        return  # the author chose one
    scripts = ScriptDirectory.from_config(config)
    for directive in directives:
        directive.rev_id = next_revision_id(s.revision for s in scripts.walk_revisions())


def configure(connection: Connection | None = None, url: str | None = None) -> None:
    context.configure(
        connection=connection,
        url=url,
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=True,
        literal_binds=connection is None,
        process_revision_directives=sequential_revision_id,
    )


def run_migrations_offline() -> None:
    """Emit SQL to stdout (`alembic upgrade head --sql`) without a database, under the same
    timeouts as an online run (so the SQL says so, and the migration linter sees them)."""
    current = settings()
    configure(url=current.database_url.get_secret_value())
    with context.begin_transaction():
        for name, seconds in (
            ("lock_timeout", current.migration_lock_timeout_seconds),
            ("statement_timeout", current.migration_statement_timeout_seconds),
        ):
            context.execute(f"SET {name} = {milliseconds(seconds)}")
        context.run_migrations()


def run_sync_migrations(connection: Connection) -> None:
    with migration_lock(connection, settings()):
        configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()


async def run_async_migrations() -> None:
    url = settings().database_url.get_secret_value()
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_sync_migrations)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    try:
        asyncio.run(run_async_migrations())
    except Exception as error:
        if is_missing_database(error):
            message = missing_database_message(settings().database_url.get_secret_value())
            raise SystemExit(message) from None
        raise


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
