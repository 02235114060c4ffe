"""Data access: one `Database` per process, made in the lifespan and kept on `app.state`.

    row = await database.read_one(GET_ITEM, {"item_id": 1})  # one read-only statement
    rows = await database.read_all(LIST_ITEMS, {"limit": 20})
    async with database.session() as session:  # writes, or statements that must agree
        ...
    await database.run_in_transaction(transfer)  # re-run on a deadlock or serialization failure

Routes depend on `DatabaseDep` (reads) or `SessionDep` (the request's session: committed before
the response, rolled back on error). Record 0017 says why; 0011 has the read path's figures.
Both keep to the request's database deadline (db/deadline.py, record 0023).
"""

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Annotated, Any, Self

import asyncpg
from fastapi import Depends, Request
from sqlalchemy import Connection, RowMapping, event, exc
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection
from sqlalchemy.sql import Executable

from {{ cookiecutter.module_name }}.core.config import Settings
from {{ cookiecutter.module_name }}.db.bounds import (
    close_invalidated_connections_at_once,
    connect_arguments,
)
from {{ cookiecutter.module_name }}.db.deadline import within_deadline
from {{ cookiecutter.module_name }}.db.sqlstate import (
    READ_ONLY_SQL_TRANSACTION,
    RETRY_THE_TRANSACTION,
    sqlstate,
)

# The pool's connections are autocommit, so a read is one round trip (no BEGIN, no COMMIT).
# Sessions get this isolation level instead, on the same pool: they begin a transaction.
TRANSACTIONS = "READ COMMITTED"  # PostgreSQL's default, stated rather than inherited
# With DB_POOL_PRE_PING, a connection idle for longer than this is pinged before it is handed
# out. One in steady use is not: SQLAlchemy's own pre-ping costs a round trip on every checkout.
PING_AFTER_IDLE_SECONDS = 1.0
IDLE_SINCE = "idle_since"
# run_in_transaction: the pause before attempt n+1 is random in [0, min(FIRST * 2**n, MAX)], so
# that transactions which collided do not collide again in step.
RETRY_FIRST_PAUSE_SECONDS = 0.05
RETRY_MAX_PAUSE_SECONDS = 1.0


class Database:
    """The engine and its pool, the sessions, and the reads, for one process.

    Reads: at most DB_POOL_SIZE hold a connection at once and the others queue in arrival order
    (waiting in the pool itself is neither fair nor cheap: record 0011). A queued read gives up
    after DB_POOL_TIMEOUT_SECONDS with `sqlalchemy.exc.TimeoutError`, as a pool checkout would,
    and a read whose pooled connection had dropped runs once more on a fresh one.
    """

    def __init__(self, settings: Settings, connection: AsyncConnection | None = None) -> None:
        """Use `Database.in_transaction` for `connection`; production passes settings only."""
        self._connection = connection
        self._read_slots = asyncio.Semaphore(settings.db_pool_size)
        self._waiting_reads = 0
        self._read_wait_seconds = settings.db_pool_timeout_seconds
        if connection is None:
            self._engine = _create_engine(settings)
            transactions = self._engine.execution_options(isolation_level=TRANSACTIONS)
            self._sessions = async_sessionmaker(transactions, expire_on_commit=False)
        else:
            self._engine = connection.engine
            # A session's commit releases a SAVEPOINT: the connection's transaction stays open.
            self._sessions = async_sessionmaker(
                connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
            )

    @classmethod
    def in_transaction(cls, connection: AsyncConnection, settings: Settings) -> Self:
        """Everything runs inside `connection`'s open transaction (tests): reads see what the
        sessions wrote, and rolling that transaction back undoes all of it."""
        return cls(settings, connection)

    @property
    def engine(self) -> AsyncEngine:
        """The engine and its pool, for instrumentation and metrics; queries use the methods."""
        return self._engine

    @property
    def waiting_reads(self) -> int:
        """Reads queued for a connection right now (a metric: record 0018)."""
        return self._waiting_reads

    def session(self) -> AsyncSession:
        """A new session: `async with database.session() as session:`, then commit yourself."""
        return self._sessions()

    async def run_in_transaction[T](
        self, work: Callable[[AsyncSession], Awaitable[T]], *, retries: int = 3
    ) -> T:
        """`await work(session)` in a new session's transaction, then commit, and return what
        `work` returned. A transaction that fails on a serialization failure or a deadlock (it
        met another transaction, not a bug) is rolled back and `work` runs again, up to
        `retries` more times after a short random pause; the last failure is raised. So `work`
        must be safe to run twice: its database writes are rolled back, nothing else is."""
        attempt = 0
        while True:
            try:
                async with self.session() as session, session.begin():
                    return await work(session)
            except exc.DBAPIError as error:
                if attempt >= retries or sqlstate(error) not in RETRY_THE_TRANSACTION:
                    raise
            pause = min(RETRY_FIRST_PAUSE_SECONDS * 2**attempt, RETRY_MAX_PAUSE_SECONDS)
            await asyncio.sleep(random.uniform(0, pause))  # noqa: S311 (jitter, not a secret)
            attempt += 1

    async def read_one(
        self, statement: Executable, parameters: Mapping[str, Any] | None = None
    ) -> RowMapping | None:
        """The first row of one read-only statement, or None."""
        rows = await self.read_all(statement, parameters)
        return rows[0] if rows else None

    async def read_all(
        self, statement: Executable, parameters: Mapping[str, Any] | None = None
    ) -> Sequence[RowMapping]:
        """Every row of one read-only statement, run in autocommit: one round trip, and one
        consistent snapshot for the statement. It sees committed data only; a route that reads
        what it has just written reads through its session."""
        async with within_deadline():
            await self._take_a_read_slot()
            try:
                try:
                    return await self._execute(statement, parameters)
                except exc.DBAPIError as error:
                    if not error.connection_invalidated:
                        raise
                return await self._execute(statement, parameters)
            finally:
                self._read_slots.release()

    async def dispose(self) -> None:
        """Close every pooled connection (the lifespan's shutdown)."""
        if self._connection is None:
            await self._engine.dispose()

    async def _execute(
        self, statement: Executable, parameters: Mapping[str, Any] | None
    ) -> Sequence[RowMapping]:
        if self._connection is not None:
            return await self._connection.run_sync(_fetch_all, statement, parameters)
        # Not `async with engine.connect()`: on exit it runs close() in a task of its own, so
        # that a cancellation cannot abandon the close halfway (60 µs per read, record 0017).
        # Closing an autocommit connection does no I/O (no transaction to roll back): there is
        # no point at which a cancellation could land, and nothing to protect.
        connection = await self._engine.connect()
        try:
            return await connection.run_sync(_fetch_all, statement, parameters)
        finally:
            await connection.close()

    async def _take_a_read_slot(self) -> None:
        if not self._read_slots.locked():  # a free slot: no timeout to set up
            await self._read_slots.acquire()
            return
        self._waiting_reads += 1
        try:
            async with asyncio.timeout(self._read_wait_seconds):
                await self._read_slots.acquire()
        except TimeoutError:
            msg = f"no database connection for a read within {self._read_wait_seconds:g} s"
            raise exc.TimeoutError(msg) from None
        finally:
            self._waiting_reads -= 1


def _fetch_all(
    connection: Connection, statement: Executable, parameters: Mapping[str, Any] | None
) -> Sequence[RowMapping]:
    """Execute and fetch in one call to SQLAlchemy's synchronous core (`run_sync`), where
    `await connection.execute(...)` takes two: 40 µs less per read (record 0017)."""
    return connection.execute(statement, parameters).mappings().all()


def _create_engine(settings: Settings) -> AsyncEngine:
    engine = create_async_engine(
        settings.database_url.get_secret_value(),
        isolation_level="AUTOCOMMIT",
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        pool_recycle=settings.db_pool_recycle_seconds,
        # Most recently returned first: busy connections stay hot, spare ones age out.
        pool_use_lifo=True,
        connect_args=connect_arguments(settings),
    )
    close_invalidated_connections_at_once(engine)
    _discard_connections_on_errors(engine)
    if settings.db_pool_pre_ping:
        _ping_idle_connections(engine)
    return engine


def _discard_connections_on_errors(engine: AsyncEngine) -> None:
    """Errors after which a connection must not go back to the pool are marked as disconnects
    (SQLAlchemy's `handle_error` event): the pool discards that connection and every one made
    before it, and the next checkout connects afresh.

    A read-only transaction (25006) on a connection made to a primary means the server was
    demoted in a failover: every connection made before it points at a standby now. asyncpg's
    InternalClientError means its protocol fell out of step with the server, as when the server
    ends the session just as a statement starts (asyncpg issue 1069): the read path's one retry
    then runs on a fresh connection.
    """

    @event.listens_for(engine.sync_engine, "handle_error")
    def discard_if_read_only_or_out_of_step(context: ExceptionContext) -> None:
        error = context.original_exception
        read_only = sqlstate(error) == READ_ONLY_SQL_TRANSACTION
        if read_only or isinstance(error.__cause__, asyncpg.exceptions.InternalClientError):
            # Writable by design (handle_error's documentation); SQLAlchemy 2.0's type stubs
            # leave it out of the class's __slots__, 2.1's do not.
            context.is_disconnect = True  # type: ignore[misc, unused-ignore]


def _ping_idle_connections(engine: AsyncEngine) -> None:
    pool = engine.sync_engine.pool
    dialect = engine.sync_engine.dialect

    @event.listens_for(pool, "checkin")
    def idle_from_now(_dbapi: DBAPIConnection | None, record: ConnectionPoolEntry) -> None:
        record.info[IDLE_SINCE] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def ping_if_idle(
        dbapi: DBAPIConnection, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
    ) -> None:
        idle_since = record.info.get(IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            dialect.do_ping(dbapi)
        except Exception as error:
            # The pool discards this connection and every older one, then connects afresh.
            raise exc.DisconnectionError from error


# Async: FastAPI runs a plain `def` dependency in a worker thread, a hop on every request.
async def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


DatabaseDep = Annotated[Database, Depends(get_database)]


async def get_session(database: DatabaseDep) -> AsyncIterator[AsyncSession]:
    """Commit when the route returns, roll back when it raises; the route and its commit run
    within the request's database deadline."""
    async with within_deadline(), database.session() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


# scope="function": the commit runs before the response is sent, so a failed commit is an
# error answer, never a 2xx for data that was not stored.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
