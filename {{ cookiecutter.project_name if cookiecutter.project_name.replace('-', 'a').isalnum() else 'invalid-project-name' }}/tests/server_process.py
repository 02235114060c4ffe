"""The production server command (`serve.run`) in a child process, and what it writes."""

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx

from tests.postgres import PROJECT_ROOT

START_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class ServerProcess:
    process: subprocess.Popen[str]
    port: int
    lines: list[str] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def output(self) -> str:
        with self.changed:
            return "\n".join(self.lines)

    def read_output(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                self.changed.notify_all()

    def wait_for_line(self, text: str, timeout: float = 15.0) -> str:
        """The first line with `text`, once the server has written it."""
        with self.changed:
            found = self.changed.wait_for(
                lambda: next((line for line in self.lines if text in line), None), timeout
            )
        if found is None:
            msg = f"no line with {text!r} within {timeout} s:\n{self.output}"
            raise AssertionError(msg)
        return found

    def wait_until_refused(self, timeout: float = 10.0) -> None:
        """Until a new connection is refused: the listening socket is closed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            except ConnectionRefusedError:
                return
            time.sleep(0.02)
        msg = f"port {self.port} still accepted connections after {timeout} s"
        raise AssertionError(msg)


@contextmanager
def running_server(app: str, database_url: str, **env: str) -> Iterator[ServerProcess]:
    port = free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "LOG_FORMAT": "console",
        **env,
    }
    code = f"from {{ cookiecutter.module_name }}.serve import run; run({app!r})"
    process = subprocess.Popen(  # noqa: S603 - this interpreter, a fixed command
        [sys.executable, "-c", code],
        cwd=PROJECT_ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    server = ServerProcess(process, port)
    reader = threading.Thread(target=server.read_output, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                if httpx.get(f"{server.base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    msg = f"the server did not answer /healthz:\n{server.output}"
                    raise AssertionError(msg) from None
                time.sleep(0.05)
        yield server
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        reader.join(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
