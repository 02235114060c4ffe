"""The bounds set on the engine (record 0023): the server's timeouts as start-up parameters, the
driver's command timeout, the writable host of several, and a connection that hit a bound on
the Python side closed at once.

SQLAlchemy itself invalidates a connection whose statement raised `TimeoutError` (asyncpg's
command_timeout) or was cancelled (a deadline): such a connection is never handed out again
with its cancel request in flight, and the rest of the pool is left alone.
tests/test_database_bounds.py holds it to that."""

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry

from {{ cookiecutter.module_name }}.core.config import Settings


def milliseconds(seconds: float) -> str:
    return str(round(seconds * 1000))


def server_settings(settings: Settings) -> dict[str, str]:
    """The timeouts PostgreSQL applies to the session, as asyncpg sends them when it connects;
    a bound set to 0 is left to the server's, role's or database's own setting."""
    if not settings.db_startup_parameters:
        return {}
    timeouts = {
        "statement_timeout": settings.db_statement_timeout_seconds,
        "lock_timeout": settings.db_lock_timeout_seconds,
        "idle_in_transaction_session_timeout": settings.db_idle_in_transaction_timeout_seconds,
    }
    return {name: milliseconds(seconds) for name, seconds in timeouts.items() if seconds}


def connect_arguments(settings: Settings) -> dict[str, Any]:
    """asyncpg.connect's keyword arguments (the engine's `connect_args`)."""
    arguments: dict[str, Any] = {"timeout": settings.db_connect_timeout_seconds}
    if settings.db_command_timeout_seconds:
        arguments["command_timeout"] = settings.db_command_timeout_seconds
    if parameters := server_settings(settings):
        arguments["server_settings"] = parameters
    # Several hosts (`?host=a:5432&host=b:5432`): the one that takes writes, as after a
    # failover, unless the URL chooses otherwise.
    query = make_url(settings.database_url.get_secret_value()).query
    hosts = query.get("host", ())
    if isinstance(hosts, tuple) and len(hosts) > 1 and "target_session_attrs" not in query:
        arguments["target_session_attrs"] = "read-write"
    return arguments


def close_invalidated_connections_at_once(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine.pool, "invalidate")
    def close_at_once(
        _dbapi: DBAPIConnection, record: ConnectionPoolEntry, _error: BaseException | None
    ) -> None:
        # SQLAlchemy then closes the connection politely: after a cancellation it waits up to
        # 2 s, shielded, for a server that may not answer (/readyz took 4 s against its 2 s
        # bound). Closed here first, that close returns at once. The server ends the session
        # when it sees the socket close; a statement still running there ends at its timeout.
        # One already closed is left alone: with SQLAlchemy 2.0.39 and asyncpg 0.30,
        # terminating a connection the server had dropped broke the read's retry.
        driver = record.driver_connection
        if driver is not None and not driver.is_closed():
            driver.terminate()
