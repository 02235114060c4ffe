"""Faults tier, the server: the baked service's production command (`python -m <module>.serve`)
on a throwaway database of the shared PostgreSQL, driven the way clients and orchestrators
drive it. An oversized request head gets 431 while another client is served; silent and
half-sent heads are closed at the head timeout; SIGTERM with WORKERS=2 under load refuses or
answers every connection (none is accepted and then reset); a killed worker is started again,
both events as JSON lines; the concurrency limit answers 503 in the error shape while the
probes answer."""

from __future__ import annotations

import asyncio
import collections
import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from tests.bake import NAMED, Baked, combination_params, free_port
from tests.dev_tokens import dev_key_env, dev_token, has_auth
from tools.database import throwaway_database

# One bake: the default combination (containers, the example resource) on the first Python.
BAKE = [NAMED["service"]]
pytestmark = pytest.mark.parametrize("baked", combination_params(BAKE), indirect=True)

HOST = "127.0.0.1"
START_SECONDS = 30.0
# Socket timeouts: a bound that only keeps a broken build from hanging the run; the limits under
# test are far below them.
CLIENT_TIMEOUT = 10.0
HEAD_TIMEOUT_SECONDS = 1
DEFAULT_HEAD_LIMIT = 64 * 1024
LOAD_THREADS = 6


def module_of(baked: Baked) -> str:
    return next(p.name for p in (baked.path / "src").iterdir() if p.is_dir())


# Where the module's environment carries the token for the requests (not passed to the server).
TOKEN = "_TEST_BEARER_TOKEN"  # noqa: S105 - the name of a variable, not a secret


@dataclass
class Service:
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    token: str = ""  # with auth=oidc, a development token with the example's scopes

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]

    def wait_for(self, what: str, found: Callable[[dict], bool], timeout: float = 15) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = next((line for line in self.lines() if found(line)), None)
            if line is not None:
                return line
            time.sleep(0.05)
        pytest.fail(f"no log line for {what} within {timeout} s:\n{self.log.read_text()}")

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict, dict]:
        connection = http.client.HTTPConnection(HOST, self.port, timeout=CLIENT_TIMEOUT)
        try:
            payload = json.dumps(body).encode() if body is not None else None
            headers = {"content-type": "application/json"} if payload else {}
            if self.token:
                headers["authorization"] = f"Bearer {self.token}"
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), json.loads(response.read())
        finally:
            connection.close()

    def workers(self) -> list[int]:
        """The worker processes: the supervisor's children running the multiprocessing spawn."""
        children = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                command = (entry / "cmdline").read_bytes()
            except (OSError, IndexError):
                continue
            if parent == self.process.pid and b"spawn_main" in command:
                children.append(int(entry.name))
        return sorted(children)


@pytest.fixture(scope="module")
def migrated(baked: Baked) -> Iterator[dict[str, str]]:
    with throwaway_database() as url:
        env = {k: v for k, v in baked.env.items() if not k.startswith("OTEL_")}
        env.update({"DATABASE_URL": url, "LOG_FORMAT": "json", "ENVIRONMENT": "test"})
        env.update(dev_key_env(baked))  # with auth=oidc: development, which trusts dev tokens
        result = Baked(baked.path, baked.context, env).uv(
            "run", "--locked", "alembic", "upgrade", "head"
        )
        assert result.returncode == 0, result.stderr
        if has_auth(baked):
            env[TOKEN] = dev_token(baked, env, "items:read", "items:write")
        yield env


@contextmanager
def service(baked: Baked, env: dict[str, str], log: Path, **settings: str) -> Iterator[Service]:
    port = free_port()
    python = baked.path / ".venv" / "bin" / "python"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(python), "-m", f"{module_of(baked)}.serve"],
            cwd=baked.path,
            env={**{k: v for k, v in env.items() if k != TOKEN}, "PORT": str(port), **settings},
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    running = Service(process, port, log, env.get(TOKEN, ""))
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                if running.request("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail(f"the server did not start:\n{log.read_text()}")
                time.sleep(0.1)
        yield running
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def read_until_closed(connection: socket.socket) -> bytes:
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    return received


def test_an_oversized_head_gets_431_while_another_client_is_served(
    baked: Baked, migrated: dict[str, str], tmp_path: Path
) -> None:
    with service(baked, migrated, tmp_path / "log") as running:
        big = socket.create_connection((HOST, running.port), timeout=CLIENT_TIMEOUT)
        with big:
            started = time.monotonic()
            # 1 MiB of one header: 16 times the default MAX_REQUEST_HEAD_BYTES.
            big.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 1024 * 1024)
            assert running.request("GET", "/healthz")[0] == 200
            assert running.request("GET", "/items/1")[0] in {200, 404}
            answer = read_until_closed(big)
            seconds = time.monotonic() - started
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 431 "), answer[:500]
        assert json.loads(body)["error"]["code"] == "request_header_fields_too_large"
        print(f"431 for a 1 MiB head after {seconds:.3f} s (close included)")
        # A head just within the limit is served.
        near = socket.create_connection((HOST, running.port), timeout=CLIENT_TIMEOUT)
        with near:
            padding = b"a" * (DEFAULT_HEAD_LIMIT - 200)
            near.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Pad: " + padding + b"\r\n\r\n")
            assert near.recv(65536).startswith(b"HTTP/1.1 200 ")
        refused = running.wait_for(
            "the refused head", lambda line: "request head over" in line["message"]
        )
        assert refused["level"] == "WARNING"


def test_silent_and_half_sent_heads_are_closed_at_the_head_timeout(
    baked: Baked, migrated: dict[str, str], tmp_path: Path
) -> None:
    with service(
        baked, migrated, tmp_path / "log", REQUEST_HEAD_TIMEOUT_SECONDS=str(HEAD_TIMEOUT_SECONDS)
    ) as running:
        sent = [b""] * 20 + [b"GET /items/1 HTTP/1.1\r\nHost: t\r\nX-Slow: "] * 20
        started = time.monotonic()  # before the first connection: its timer starts after this
        clients = [
            socket.create_connection((HOST, running.port), timeout=CLIENT_TIMEOUT) for _ in sent
        ]
        try:
            for client, data in zip(clients, sent, strict=True):
                client.sendall(data)
            assert running.request("GET", "/healthz")[0] == 200  # others are served meanwhile
            closed_after = []
            for client in clients:
                assert read_until_closed(client) == b""  # closed by the server, unanswered
                closed_after.append(time.monotonic() - started)
        finally:
            for client in clients:
                client.close()
        print(
            f"40 silent/half heads closed after {min(closed_after):.2f}-{max(closed_after):.2f} s"
        )
        # After the timeout, not before: a slow client gets the whole timeout.
        assert min(closed_after) >= HEAD_TIMEOUT_SECONDS * 0.9
        assert running.request("GET", "/healthz")[0] == 200


@dataclass
class Outcomes:
    """What each fresh connection of the load got, before and after SIGTERM."""

    counts: collections.Counter[tuple[str, bool]]
    created: int = 0


def one_request(port: int, index: int) -> tuple[str, int]:
    """`refused`, `answered <status>`, `cut` (connected, then reset or closed unanswered) or
    `hung` (connected, then no answer within the client's timeout)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=CLIENT_TIMEOUT)
    try:
        try:
            connection.connect()
        except ConnectionRefusedError:
            return "refused", 0
        if index % 2:
            body = json.dumps({"name": f"load {index}"}).encode()
            connection.request("POST", "/items", body, {"content-type": "application/json"})
        else:
            connection.request("GET", "/items/1")
        response = connection.getresponse()
        response.read()
        return f"answered {response.status}", response.status
    except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
        return "cut", 0
    except TimeoutError:  # accepted, then left hanging (what a drain must never do either)
        return "hung", 0
    finally:
        connection.close()


async def count_items(database_url: str) -> int:
    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        return int(await connection.fetchval("SELECT count(*) FROM items"))
    finally:
        await connection.close()


def test_sigterm_with_two_workers_under_load_resets_no_accepted_connection(
    baked: Baked, migrated: dict[str, str], tmp_path: Path
) -> None:
    before = asyncio.run(count_items(migrated["DATABASE_URL"]))
    outcomes = Outcomes(collections.Counter())
    lock = threading.Lock()
    signalled = threading.Event()
    enough = threading.Event()
    stop = threading.Event()
    with service(baked, migrated, tmp_path / "log", WORKERS="2") as running:

        def hammer(first: int) -> None:
            index = first
            while not stop.is_set():
                outcome, status = one_request(running.port, index)
                index += LOAD_THREADS
                with lock:
                    outcomes.counts[outcome, signalled.is_set()] += 1
                    outcomes.created += status == 201
                    if sum(outcomes.counts.values()) >= 300:
                        enough.set()
                if outcome == "refused":
                    time.sleep(0.005)

        threads = [threading.Thread(target=hammer, args=(n,)) for n in range(LOAD_THREADS)]
        for thread in threads:
            thread.start()
        try:
            assert enough.wait(60), "the load did not get going"
            signalled.set()
            running.process.send_signal(signal.SIGTERM)
            running.process.wait(timeout=60)
            time.sleep(0.2)  # a few more connections after the exit: refused
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
        lines = running.lines()
    report = ", ".join(
        f"{outcome} {'after' if after else 'before'} SIGTERM: {count}"
        for (outcome, after), count in sorted(outcomes.counts.items())
    )
    print(f"WORKERS=2 drain under {LOAD_THREADS} threads of fresh connections: {report}")
    lost = [outcome for outcome, _ in outcomes.counts if outcome in {"cut", "hung"}]
    assert not lost, report
    assert outcomes.counts["refused", True] > 0, report  # the drain refused new connections
    assert not [k for k in outcomes.counts if k[0].startswith("answered 5")], report
    assert running.process.returncode == 0, "\n".join(map(str, lines[-20:]))
    # Every acknowledged write is in the table.
    after = asyncio.run(count_items(migrated["DATABASE_URL"]))
    assert after - before == outcomes.created, report
    assert any("stopping the workers" in line["message"] for line in lines)


def test_a_killed_worker_is_started_again_and_both_events_are_logged(
    baked: Baked, migrated: dict[str, str], tmp_path: Path
) -> None:
    with service(baked, migrated, tmp_path / "log", WORKERS="2") as running:
        workers = running.workers()
        assert len(workers) == 2, workers
        victim = workers[0]
        os.kill(victim, signal.SIGKILL)
        died = running.wait_for(
            "the worker's death",
            lambda line: line.get("worker_pid") == victim and "died" in line["message"],
        )
        assert died["exit"] == "SIGKILL"
        assert died["level"] == "ERROR"
        replaced = running.wait_for("its replacement", lambda line: line.get("replaces") == victim)
        assert replaced["worker_pid"] != victim
        assert replaced["logger"].endswith("server.supervisor")
        deadline = time.monotonic() + START_SECONDS
        while replaced["worker_pid"] not in running.workers() or len(running.workers()) != 2:
            assert time.monotonic() < deadline, running.workers()
            time.sleep(0.05)
        statuses = {running.request("GET", "/readyz")[0] for _ in range(20)}
        assert statuses == {200}


def test_workers_exit_on_their_own_when_the_supervisor_is_killed(
    baked: Baked, migrated: dict[str, str], tmp_path: Path
) -> None:
    with service(baked, migrated, tmp_path / "log", WORKERS="2") as running:
        workers = running.workers()
        assert len(workers) == 2, workers
        running.process.kill()
        running.process.wait(timeout=10)
        deadline = time.monotonic() + START_SECONDS
        alive = workers
        while alive:
            assert time.monotonic() < deadline, f"workers {alive} outlived their supervisor"
            time.sleep(0.05)
            alive = [pid for pid in workers if Path(f"/proc/{pid}").exists()]
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((HOST, running.port), timeout=CLIENT_TIMEOUT).close()


def test_the_concurrency_limit_answers_503_in_the_error_shape_while_probes_answer(
    baked: Baked, migrated: dict[str, str], tmp_path: Path
) -> None:
    with service(baked, migrated, tmp_path / "log", MAX_CONCURRENT_REQUESTS="2") as running:
        # Two requests in progress: each POST has sent its head and half its body.
        body = json.dumps({"name": "held"}).encode()
        held = []
        for _ in range(2):
            connection = socket.create_connection((HOST, running.port), timeout=CLIENT_TIMEOUT)
            connection.sendall(
                b"POST /items HTTP/1.1\r\nHost: t\r\ncontent-type: application/json\r\n"
                + (f"authorization: Bearer {running.token}\r\n" if running.token else "").encode()
                + f"content-length: {len(body)}\r\n\r\n".encode()
                + body[:5]
            )
            held.append(connection)
        try:
            deadline = time.monotonic() + CLIENT_TIMEOUT
            while (answer := running.request("GET", "/items/1"))[0] != 503:
                assert time.monotonic() < deadline, answer  # until both are in progress
                time.sleep(0.02)
            _, headers, error = answer
            assert headers["retry-after"] == "1"
            assert error["error"]["code"] == "server_busy"
            assert running.request("GET", "/healthz")[0] == 200
            assert running.request("GET", "/readyz")[0] == 200
            for connection in held:
                connection.sendall(body[5:])
                assert connection.recv(65536).startswith(b"HTTP/1.1 201 ")
        finally:
            for connection in held:
                connection.close()
        assert running.request("GET", "/items/1")[0] in {200, 404}
