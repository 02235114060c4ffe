"""Databases that stop answering, for the bounds tests, without touching the real server: a
listener that accepts connections and never says a word, and a proxy to the real server that
can be frozen, after which it passes nothing on in either direction (as a frozen server)."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.engine import make_url

HOST = "127.0.0.1"


@asynccontextmanager
async def silent_listener() -> AsyncIterator[int]:
    """Yield the port of a listener that accepts every connection and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, HOST, 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in held:
            writer.transport.abort()
        server.close()


class FreezableProxy:
    """A TCP proxy to the server of a database URL (TCP or Unix socket, as the embedded server
    uses); `freeze()` stops every byte, both ways."""

    def __init__(self, database_url: str) -> None:
        url = make_url(database_url)
        self.port_number = url.port or 5432
        socket_dir = url.query.get("host")
        self.socket_dir = socket_dir if isinstance(socket_dir, str) else None
        self.host = url.host or HOST
        self.frozen = asyncio.Event()
        self.closed = False
        self.tasks: set[asyncio.Task[None]] = set()
        self.writers: list[asyncio.StreamWriter] = []
        self.port = 0

    def url(self, database_url: str) -> str:
        """database_url, through this proxy."""
        url = make_url(database_url).set(host=HOST, port=self.port)
        query = {key: value for key, value in url.query.items() if key != "host"}
        return url.set(query=query).render_as_string(hide_password=False)

    def freeze(self) -> None:
        self.frozen.set()

    async def _upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.socket_dir is not None:
            path = f"{self.socket_dir}/.s.PGSQL.{self.port_number}"
            return await asyncio.open_unix_connection(path)
        return await asyncio.open_connection(self.host, self.port_number)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                if self.frozen.is_set():
                    return  # the bytes are dropped; the connection stays open, silent
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        writer.close()

    async def _connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        if self.closed:  # accepted just before the proxy closed
            writer.transport.abort()
            return
        if self.frozen.is_set():
            return  # accepted, as a frozen server's kernel does, and never answered
        upstream_reader, upstream_writer = await self._upstream()
        self.writers.append(upstream_writer)
        for task in (
            asyncio.create_task(self._pipe(reader, upstream_writer)),
            asyncio.create_task(self._pipe(upstream_reader, writer)),
        ):
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    @asynccontextmanager
    async def running(self) -> AsyncIterator["FreezableProxy"]:
        server = await asyncio.start_server(self._connect, HOST, 0)
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            self.closed = True
            server.close()
            for task in list(self.tasks):
                task.cancel()
            for writer in self.writers:
                writer.transport.abort()  # close() would wait to flush to a peer that may be gone
            await server.wait_closed()
