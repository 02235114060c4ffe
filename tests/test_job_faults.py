"""Faults tier: the background jobs worker command of one baked project (`python -m
<module>.worker`), on a private PostgreSQL instance this module starts. A worker killed with
`kill -9` in the middle of a job leaves it to run again, by another worker, once its lease has
expired; a worker outlives a restart of the database and runs jobs enqueued after it.

The example's job stamps `items.processed_at`; to catch it mid-job, a psql session holds the
item's row lock, so the job's UPDATE waits (the worker's statement and lock timeouts are off).
"""

# ruff: noqa: S608 - the only values in this file's SQL are ids and names the test made

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.bake import NAMED, Baked, combination_params, free_port
from tests.fault_drill import migrated_private_database
from tests.processes import stop
from tools.private_postgres import PrivatePostgres

pytestmark = pytest.mark.parametrize("baked", combination_params([NAMED["local"]]), indirect=True)

ROLE = "jobs_app"
DATABASE = "jobs_drill"
LEASE_SECONDS = 2
POLL_SECONDS = 0.5
SETTINGS = {
    "LOG_FORMAT": "json",
    "HOST": "127.0.0.1",
    "JOB_LEASE_SECONDS": str(LEASE_SECONDS),
    "JOB_POLL_SECONDS": str(POLL_SECONDS),
    "DB_CONNECT_TIMEOUT_SECONDS": "1",
    # Off: the job waits on the held row lock for as long as the test holds it.
    "DB_LOCK_TIMEOUT_SECONDS": "0",
    "DB_STATEMENT_TIMEOUT_SECONDS": "0",
    "DB_COMMAND_TIMEOUT_SECONDS": "0",
}


@dataclass
class JobsDrill:
    postgres: PrivatePostgres
    baked: Baked
    env: dict[str, str]
    logs: Path

    def sql(self, statement: str) -> str:
        return self.postgres.psql(statement, DATABASE)

    def create_item(self, name: str) -> int:
        """An item and its stamp_item job, committed together, as POST /items does."""
        item_id = self.new_item(name)
        payload = json.dumps({"item_id": item_id})
        self.sql(
            "INSERT INTO jobs (task, payload, state, attempts, max_attempts) "
            f"VALUES ('stamp_item', '{payload}', 'queued', 0, 5); NOTIFY jobs"
        )
        return item_id

    def new_item(self, name: str) -> int:
        # A SELECT, so that psql prints the id alone (no INSERT command tag).
        insert = f"INSERT INTO items (name) VALUES ('{name}') RETURNING id"
        return int(self.sql(f"WITH new AS ({insert}) SELECT id FROM new"))

    def processed(self, item_id: int) -> bool:
        return self.sql(f"SELECT processed_at IS NOT NULL FROM items WHERE id = {item_id}") == "t"

    def worker(self, name: str) -> subprocess.Popen[bytes]:
        module = next(p.name for p in (self.baked.path / "src").iterdir() if p.is_dir())
        env = {**self.env, "WORKER_PORT": str(free_port())}
        with (self.logs / f"{name}.log").open("wb") as sink:
            return subprocess.Popen(
                [str(self.baked.path / ".venv" / "bin" / "python"), "-m", f"{module}.worker"],
                cwd=self.baked.path,
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )

    def until(self, check: object, seconds: float, what: str) -> float:
        """Seconds until `check()` is true; fails after `seconds`."""
        started = time.monotonic()
        while not check():  # type: ignore[operator]
            if time.monotonic() - started > seconds:
                logs = "\n".join(p.read_text() for p in sorted(self.logs.glob("*.log")))
                pytest.fail(f"{what}: not within {seconds} s\n{logs[-4000:]}")
            time.sleep(0.1)
        return time.monotonic() - started


@pytest.fixture(scope="module")
def drill(baked: Baked, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JobsDrill]:
    with migrated_private_database(baked, ROLE, DATABASE, SETTINGS) as (postgres, env):
        yield JobsDrill(postgres, baked, env, tmp_path_factory.mktemp("job-faults"))


def test_a_job_whose_worker_was_killed_runs_again_after_its_lease(drill: JobsDrill) -> None:
    item_id = drill.new_item("locked")
    lock = drill.postgres.session(DATABASE)
    assert lock.stdin is not None
    lock.stdin.write(f"BEGIN; SELECT id FROM items WHERE id = {item_id} FOR UPDATE;\n")
    lock.stdin.flush()
    payload = json.dumps({"item_id": item_id})
    drill.sql(
        "INSERT INTO jobs (task, payload, state, attempts, max_attempts) "
        f"VALUES ('stamp_item', '{payload}', 'queued', 0, 5)"
    )
    first = drill.worker("killed")
    try:
        drill.until(
            lambda: drill.sql("SELECT state FROM jobs") == "running", 60, "the job was claimed"
        )
        time.sleep(0.5)  # its UPDATE now waits for the row lock
        first.kill()  # kill -9, mid-job
        first.wait(timeout=10)
    finally:
        stop(first)
    lock.stdin.write("COMMIT;\n")
    lock.stdin.close()
    lock.wait(timeout=10)
    assert not drill.processed(item_id)
    second = drill.worker("second")
    try:
        waited = drill.until(lambda: drill.processed(item_id), 60, "the job ran again")
    finally:
        stop(second)
    assert drill.sql("SELECT count(*) FROM jobs") == "0"
    # Within the lease (from the kill) plus a poll, with start-up time on a loaded machine.
    assert waited < LEASE_SECONDS + POLL_SECONDS + 30


def test_the_worker_outlives_a_database_restart(drill: JobsDrill) -> None:
    worker = drill.worker("restart")
    try:
        before = drill.create_item("before-restart")
        drill.until(lambda: drill.processed(before), 60, "a job before the restart")
        drill.postgres.restart()
        after = drill.create_item("after-restart")
        drill.until(lambda: drill.processed(after), 30, "a job after the restart")
        assert worker.poll() is None, "the worker exited"
    finally:
        stop(worker)
    assert worker.returncode in (0, -signal.SIGTERM)
