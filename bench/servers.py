"""Start an ASGI app under uvicorn (the same command for every app), time it to its first 200,
and stop it again. Every server is started by this process, in its own process group, and
stopped in a finally block."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tools.machine import free_port

HOST = "127.0.0.1"
START_TIMEOUT = 60.0
POLL_INTERVAL = 0.005


def uvicorn_command(python: str, app: str, port: int) -> list[str]:
    """One worker (uvicorn's default), uvloop and httptools (uvicorn[standard] picks them), no
    access log: what the template's image runs, on loopback."""
    return [
        python,
        "-m",
        "uvicorn",
        app,
        "--host",
        HOST,
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]


def serve_command(python: str, module: str) -> list[str]:
    """The baked service's production command (`python -m <module>.serve`): uvicorn with the
    service's own protocol class, drain and limits; host and port from the environment."""
    return [python, "-m", f"{module}.serve"]


def uvicorn_command_text() -> str:
    return " ".join(uvicorn_command("python", "MODULE:app", 0)).replace(" 0 ", " PORT ")


def get(
    port: int, path: str, headers: dict[str, str] | None = None, timeout: float = 5.0
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def post_json(port: int, path: str, body: object, timeout: float = 5.0) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        payload = json.dumps(body).encode()
        connection.request("POST", path, payload, {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    cold_start: float  # seconds from spawning the process to the first 200 on the probe path
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"


def _wait_for_200(process: subprocess.Popen[bytes], port: int, path: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode} before answering")
        with contextlib.suppress(OSError, http.client.HTTPException):
            status, _ = get(port, path, timeout=2.0)
            if status == 200:
                return
        time.sleep(POLL_INTERVAL)
    raise RuntimeError(f"no 200 on {path} within {START_TIMEOUT:g} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


@contextlib.contextmanager
def serve(
    name: str,
    python: str,
    app: str,
    *,
    cwd: Path,
    env: dict[str, str],
    log_dir: Path,
    probe: str = "/healthz",
    production_command: bool = False,
) -> Iterator[Server]:
    """`app` is uvicorn's MODULE:app, or with production_command the baked module's name."""
    port = free_port()
    log = log_dir / f"{name}.log"
    if production_command:
        command = serve_command(python, app)
        env = {**env, "HOST": HOST, "PORT": str(port)}
    else:
        command = uvicorn_command(python, app, port)
    with log.open("ab") as out:
        started = time.monotonic()
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        try:
            _wait_for_200(process, port, probe)
        except RuntimeError as exc:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{name}: {exc}\n{tail}") from None
        yield Server(name, port, process, time.monotonic() - started, log)
    finally:
        stop(process)
