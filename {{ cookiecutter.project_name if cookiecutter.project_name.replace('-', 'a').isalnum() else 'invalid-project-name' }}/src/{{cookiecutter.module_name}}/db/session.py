"""Engine, sessions and reads: one engine per process; a session per request for writes (commit
before the response, rollback on error); single-statement reads without a transaction.

Record 0011 has the figures behind each choice here.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Annotated, Any
from weakref import WeakKeyDictionary

from fastapi import Depends, Request
from sqlalchemy import Connection, Engine, RowMapping, event, exc
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection, QueuePool
from sqlalchemy.sql import Executable
from sqlalchemy.util import greenlet_spawn

from {{ cookiecutter.module_name }}.core.config import Settings

# Pooled connections are autocommit unless a transaction is asked for: sessions (and EngineDep)
# get TRANSACTIONS, a view of the same pool that begins one; reads run on the pool as it is.
TRANSACTIONS = "READ COMMITTED"  # PostgreSQL's default, stated rather than inherited
# With DB_POOL_PRE_PING, a connection idle for longer than this is pinged before it is handed
# out. One in steady use is not: SQLAlchemy's own pre-ping costs a round trip on every checkout.
PING_AFTER_IDLE_SECONDS = 1.0
_IDLE_SINCE = "idle_since"

# The engine that owns the pool, per transactional engine that create_engine returned.
_autocommit: WeakKeyDictionary[AsyncEngine, AsyncEngine] = WeakKeyDictionary()
# Per pool: how many reads may hold a connection at once, the others queue in arrival order.
_read_gates: WeakKeyDictionary[Engine, "_ReadGate"] = WeakKeyDictionary()


def create_engine(settings: Settings) -> AsyncEngine:
    """The engine for transactions. Its pool is shared with the reads (read_one, read_all)."""
    pool_owner = create_async_engine(
        settings.database_url.get_secret_value(),
        isolation_level="AUTOCOMMIT",
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        pool_recycle=settings.db_pool_recycle_seconds,
        # Most recently returned first: busy connections stay hot, spare ones age out.
        pool_use_lifo=True,
        connect_args={"timeout": settings.db_connect_timeout_seconds},
    )
    if settings.db_pool_pre_ping:
        ping_idle_connections(pool_owner)
    engine = pool_owner.execution_options(isolation_level=TRANSACTIONS)
    _autocommit[engine] = pool_owner
    return engine


def ping_idle_connections(engine: AsyncEngine) -> None:
    pool = engine.sync_engine.pool
    dialect = engine.sync_engine.dialect

    @event.listens_for(pool, "checkin")
    def idle_from_now(_dbapi: DBAPIConnection | None, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def ping_if_idle(
        dbapi: DBAPIConnection, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
    ) -> None:
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            dialect.do_ping(dbapi)
        except Exception as error:
            # The pool discards this connection and every older one, then connects afresh.
            raise exc.DisconnectionError from error


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


# Async: FastAPI runs a plain `def` dependency in a worker thread, a hop on every request.
async def get_engine(request: Request) -> AsyncEngine:
    engine: AsyncEngine = request.app.state.engine
    return engine


async def get_session_factory(request: Request) -> async_sessionmaker[AsyncSession]:
    factory: async_sessionmaker[AsyncSession] = request.app.state.session_factory
    return factory


SessionFactoryDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_session_factory)]


async def get_session(factory: SessionFactoryDep) -> AsyncIterator[AsyncSession]:
    """Commit when the route returns, roll back when it raises."""
    async with factory() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


# scope="function": the commit runs before the response is sent, so a failed commit is a 500,
# never a 2xx for data that was not stored.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
EngineDep = Annotated[AsyncEngine, Depends(get_engine)]


# ---------------------------------------------------------------- reads


async def read_one(
    sessions: async_sessionmaker[AsyncSession],
    statement: Executable,
    parameters: Mapping[str, Any] | None = None,
) -> RowMapping | None:
    """The first row of one read-only statement, run where `sessions` would run theirs."""
    rows = await read_all(sessions, statement, parameters)
    return rows[0] if rows else None


async def read_all(
    sessions: async_sessionmaker[AsyncSession],
    statement: Executable,
    parameters: Mapping[str, Any] | None = None,
) -> Sequence[RowMapping]:
    """Every row of one read-only statement, run where `sessions` would run theirs.

    On the engine (production): one pooled connection in autocommit, so one round trip with no
    BEGIN or COMMIT, and a single statement still sees one consistent snapshot. A statement that
    failed because its connection had dropped is run once more, on a fresh one. On a connection
    (the tests bind sessions to one): inside that connection's transaction, so a read sees the
    rows the request's session wrote. Routes that write read through their session instead.
    """
    bind = _read_bind(sessions)
    if isinstance(bind, Connection) or not isinstance(bind.pool, QueuePool):
        return await greenlet_spawn(_execute, bind, statement, parameters)
    gate = _read_gates.get(bind)
    if gate is None:
        gate = _read_gates[bind] = _ReadGate(bind.pool)
    async with gate:
        try:
            return await greenlet_spawn(_execute, bind, statement, parameters)
        except exc.DBAPIError as error:
            if not error.connection_invalidated:
                raise
        return await greenlet_spawn(_execute, bind, statement, parameters)


class _ReadGate:
    """At most DB_POOL_SIZE reads hold a connection at once; the rest wait in arrival order.

    Waiting in the pool itself is neither cheap nor fair: a connection handed back goes to
    whichever request asks next, so under load some requests wait for seconds, and reads past
    the pool size open overflow connections that are closed again as soon as they are returned.
    A waiting read gives up after DB_POOL_TIMEOUT_SECONDS, as a pool checkout would.
    """

    __slots__ = ("_semaphore", "_timeout")

    def __init__(self, pool: QueuePool) -> None:
        self._semaphore = asyncio.Semaphore(pool.size())
        self._timeout = pool.timeout()

    async def __aenter__(self) -> None:
        if not self._semaphore.locked():
            await self._semaphore.acquire()
            return
        try:
            async with asyncio.timeout(self._timeout):
                await self._semaphore.acquire()
        except TimeoutError:
            msg = f"no database connection for a read within {self._timeout:g} s"
            raise exc.TimeoutError(msg) from None

    async def __aexit__(self, *_exc: object) -> None:
        self._semaphore.release()


def _read_bind(sessions: async_sessionmaker[AsyncSession]) -> Engine | Connection:
    bind = sessions.kw.get("bind")
    if isinstance(bind, AsyncConnection) and bind.sync_connection is not None:
        return bind.sync_connection
    if isinstance(bind, AsyncEngine):
        autocommit = _autocommit.get(bind)
        if autocommit is None:  # an engine create_engine did not make
            autocommit = _autocommit[bind] = bind.execution_options(isolation_level="AUTOCOMMIT")
        return autocommit.sync_engine
    msg = f"sessions bound to {bind!r}: reads need an AsyncEngine or an AsyncConnection"
    raise TypeError(msg)


def _execute(
    bind: Engine | Connection, statement: Executable, parameters: Mapping[str, Any] | None
) -> Sequence[RowMapping]:
    """Checkout, execute, fetch and checkin in one greenlet: one switch to the event loop per
    read, where AsyncEngine.connect, execute and close take one each."""
    if isinstance(bind, Connection):
        return bind.execute(statement, parameters).mappings().all()
    with bind.connect() as connection:
        return connection.execute(statement, parameters).mappings().all()
