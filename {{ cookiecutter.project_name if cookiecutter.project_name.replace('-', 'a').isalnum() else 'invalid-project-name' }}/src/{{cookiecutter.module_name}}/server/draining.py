"""One server process: uvicorn's `Server`, whose drain serves what the kernel already accepted.

Closing a listening socket resets every connection still in its accept queue: the client's
`connect()` succeeded, its request is sent, and it reads a reset. Before uvicorn's own shutdown
closes the socket, this server takes those connections off the queue and serves them (with
`connection: close`), so a drain refuses new connections and answers every accepted one.
"""

import asyncio
import socket

import uvicorn

from {{ cookiecutter.module_name }}.server.protocol import BoundedHttpToolsProtocol


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.late_connections: set[asyncio.Task[object]] = set()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for listener in sockets or []:
            self.serve_accept_queue(listener)
        # uvicorn closes the sockets at once, before its first await: nothing lands in the
        # queue between the last accept above and the close.
        await super().shutdown(sockets)

    def serve_accept_queue(self, listener: socket.socket) -> None:
        listener.setblocking(False)
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:  # BlockingIOError: the queue is empty; or the socket is closed
                return
            self.serve_late(connection)

    def serve_late(self, connection: socket.socket) -> None:
        protocol = self.config.http_protocol_class(  # type: ignore[call-arg]
            config=self.config,
            server_state=self.server_state,
            app_state=self.lifespan.state,
        )
        if isinstance(protocol, BoundedHttpToolsProtocol):
            protocol.draining = True  # its answer says `connection: close`
        loop = asyncio.get_running_loop()
        task = loop.create_task(loop.connect_accepted_socket(lambda: protocol, connection))
        self.late_connections.add(task)
        task.add_done_callback(self.late_connections.discard)
