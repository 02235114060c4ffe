"""A private PostgreSQL instance (15 where installed) for fault tests: its own data folder, port
and socket folder, made with initdb and removed afterwards, so a test may freeze, restart or
`kill -9` it. The shared server on 5432 is never touched.

The server runs as the `postgres` user when the tests run as root (initdb refuses root), and as
the current user otherwise.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from tools.machine import free_port

# Debian's postgresql-15 package (the machine's server), else the newest major installed.
INSTALLED = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
PREFERRED = Path("/usr/lib/postgresql/15/bin")
BINDIR = PREFERRED if (PREFERRED / "initdb").exists() or not INSTALLED else INSTALLED[-1].parent
SERVER_USER = "postgres"
START_TIMEOUT_SECONDS = 60


def available() -> str | None:
    """None when an instance can be made here, else the reason it cannot."""
    if not (BINDIR / "initdb").exists():
        return f"no PostgreSQL server binaries in {BINDIR} (Debian package postgresql-15)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: cannot start PostgreSQL as another user"
    return None


def _as_server_user(args: Sequence[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", SERVER_USER, "--", *args]
    return list(args)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child that has exited but is not reaped yet is a zombie: gone for our purposes.
    with suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return False


@dataclass
class PrivatePostgres:
    root: Path
    port: int

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def url(self, user: str, password: str, database: str) -> str:
        """A SQLAlchemy asyncpg URL over TCP on loopback."""
        return f"postgresql+asyncpg://{user}:{password}@127.0.0.1:{self.port}/{database}"

    def _run(self, args: Sequence[str], timeout: float = START_TIMEOUT_SECONDS) -> str:
        result = subprocess.run(
            _as_server_user(args), capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            tail = self.log.read_text()[-3000:] if self.log.exists() else ""
            output = result.stdout + result.stderr
            msg = f"{' '.join(args)}: exit {result.returncode}\n{output}\n{tail}"
            raise RuntimeError(msg)
        return result.stdout

    def initdb(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, SERVER_USER, SERVER_USER)
        self._run(
            [
                str(BINDIR / "initdb"),
                "-D",
                str(self.data),
                "--auth=trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
            ]
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        self._run(
            [
                str(BINDIR / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-w",
                "-t",
                str(START_TIMEOUT_SECONDS),
                "-o",
                options,
                "start",
            ]
        )

    def restart(self) -> None:
        """A fast restart: sessions are ended (SQLSTATE 57P01), then the server comes back."""
        # With its log file: a server that wrote to our pipe would keep the call waiting.
        pg_ctl = [str(BINDIR / "pg_ctl"), "-D", str(self.data), "-l", str(self.log)]
        self._run([*pg_ctl, "-m", "fast", "-w", "restart"])

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().splitlines()[0])

    def processes(self) -> list[int]:
        """The postmaster and every process it started."""
        postmaster = self.postmaster_pid()
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with suppress(OSError, IndexError, ValueError):
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                    children.append(int(stat.parent.name))
        return [postmaster, *children]

    def freeze(self) -> None:
        """SIGSTOP every process: open connections hang, new ones are never answered."""
        for pid in self.processes():
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self.processes():
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def kill_postmaster(self) -> None:
        """`kill -9` of the postmaster; returns once its backends have exited too (they notice
        the postmaster's death), so that `start()` can run crash recovery."""
        processes = self.processes()
        os.kill(processes[0], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in processes):
            if time.monotonic() > deadline:
                raise RuntimeError(f"backends still alive 30 s after kill -9: {processes}")
            time.sleep(0.05)
        # Until its parent reaps it, the dead postmaster is a zombie that the next one's check
        # of postmaster.pid takes for a running server: the file is stale, as after a crash.
        deadline = time.monotonic() + 5
        while Path(f"/proc/{processes[0]}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        (self.data / "postmaster.pid").unlink(missing_ok=True)

    def _psql(self, database: str) -> list[str]:
        """psql as the superuser on this instance, stopping at the first error."""
        return [
            "psql", "-X", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
            "-d", database, "-v", "ON_ERROR_STOP=1",
        ]  # fmt: skip

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL as the superuser; the unaligned output."""
        return self._run([*self._psql(database), "-Atc", sql], timeout=30).strip()

    def session(self, database: str) -> subprocess.Popen[str]:
        """An open psql session reading SQL from its stdin (to hold a lock); close its stdin
        to end it."""
        return subprocess.Popen(
            _as_server_user([*self._psql(database), "-q", "-At"]),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def remove(self) -> None:
        """Stop at once (thawed first, if frozen) and delete everything."""
        with suppress(OSError, RuntimeError, ValueError):
            self.thaw()
            processes = self.processes()
            subprocess.run(
                _as_server_user(
                    [str(BINDIR / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"]
                ),
                capture_output=True,
                timeout=30,
                check=False,
            )
            for pid in processes:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A started instance on a free port, removed afterwards (a short path: its socket lives in
    its folder)."""
    instance = PrivatePostgres(Path(tempfile.mkdtemp(prefix="pgf")), free_port())
    try:
        instance.initdb()
        instance.start()
        yield instance
    finally:
        instance.remove()
