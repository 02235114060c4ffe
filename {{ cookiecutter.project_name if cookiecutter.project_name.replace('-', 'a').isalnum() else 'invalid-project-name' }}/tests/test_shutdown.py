"""Graceful shutdown of the production server command: on SIGTERM a request already in flight
still completes with 200, new connections are refused, and the application shuts down cleanly.
Each step waits for what it needs (a line of output, a refused connection), never a clock."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO

import httpx
import pytest

from tests.postgres import PROJECT_ROOT
from tests.slow_app import STARTED


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Output:
    """The server's output, read as it comes, so a test can wait for a line."""

    lines: list[str] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def read(self, stream: IO[str]) -> None:
        for line in stream:
            with self.changed:
                self.lines.append(line)
                self.changed.notify_all()

    def wait_for(self, text: str, timeout: float = 30) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: text in "".join(self.lines), timeout)


@dataclass
class Server:
    process: subprocess.Popen[str]
    port: int
    output: Output

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def refuses_connections(port: int, timeout: float = 15) -> bool:
    """Wait until nothing listens on the port any more (a bound, not a delay)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                pass
        except ConnectionRefusedError:
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def server(database_url: str) -> Iterator[Server]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "SHUTDOWN_GRACE_SECONDS": "10",
        "LOG_FORMAT": "console",
    }
    code = "from {{ cookiecutter.module_name }}.serve import run; run('tests.slow_app:app')"
    process = subprocess.Popen(  # noqa: S603 - this interpreter, a fixed command
        [sys.executable, "-c", code],
        cwd=PROJECT_ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    output = Output()
    reader = threading.Thread(target=output.read, args=(process.stdout,), daemon=True)
    reader.start()
    served = Server(process, port, output)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{served.base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("the server did not answer /healthz within 30 s")
        yield served
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        reader.join(timeout=10)
        process.stdout.close()
        if process.stdin is not None:
            process.stdin.close()


def test_sigterm_lets_an_in_flight_request_finish(server: Server) -> None:
    assert server.process.stdin is not None
    with ThreadPoolExecutor(max_workers=1) as pool:
        in_flight = pool.submit(httpx.get, f"{server.base}/slow", timeout=30)
        assert server.output.wait_for(STARTED), "the request never reached the route"
        server.process.send_signal(signal.SIGTERM)
        assert refuses_connections(server.port), "still listening after SIGTERM"
        assert not in_flight.done(), "the request ended before the test released it"
        server.process.stdin.write("done\n")
        server.process.stdin.flush()
        response = in_flight.result(timeout=30)
    assert response.status_code == 200
    assert response.json() == {"released": "done"}
    server.process.wait(timeout=15)
    output = "".join(server.output.lines)
    # uvicorn re-raises the signal once it has shut down cleanly: exit 143 (-15 here) is normal.
    assert server.process.returncode in {0, -signal.SIGTERM}, output
    assert server.output.wait_for("Application shutdown complete", timeout=10), output
