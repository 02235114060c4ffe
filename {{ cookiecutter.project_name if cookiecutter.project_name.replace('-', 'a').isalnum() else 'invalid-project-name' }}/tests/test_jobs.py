"""Background jobs on committed data, as production runs them (record 0031): a job exists if
and only if its transaction commits, the worker runs it, retries it with backoff into the
failed state, waits for a delayed one, takes over an expired lease, and drains on stop."""

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from httpx import AsyncClient
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from sqlalchemy import RowMapping, func, select, update

from {{ cookiecutter.module_name }}.core.config import Settings
from {{ cookiecutter.module_name }}.db.session import Database, SessionDep
from {{ cookiecutter.module_name }}.jobs import JOBS, JobRun, enqueue, retry_failed
from {{ cookiecutter.module_name }}.jobs.run import JobFunction
from {{ cookiecutter.module_name }}.jobs.worker import Worker
{%- if cookiecutter.include_example == "yes" %}
from {{ cookiecutter.module_name }}.models.item import Item
{%- endif %}
from {{ cookiecutter.module_name }}.models.job import FAILED, QUEUED, RUNNING, Job
from tests.postgres import PROJECT_ROOT
from tests.server_process import free_port

WAIT_SECONDS = 15.0
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
{%- if cookiecutter.auth == "oidc" and cookiecutter.include_example == "yes" %}
# The client fixtures' token carries these scopes (tests/conftest.py).
pytestmark = pytest.mark.scopes("items:read", "items:write")
{%- endif %}


def worker_settings(url: str, **overrides: float) -> Settings:
    """Short intervals, so that the tests wait for tenths of a second, not for the defaults."""
    values: dict[str, float] = {
        "job_poll_seconds": 0.2,
        "job_lease_seconds": 3.0,
        "job_retry_first_delay_seconds": 0.05,
        "worker_shutdown_grace_seconds": 5.0,
        **overrides,
    }
    return Settings(
        database_url=url,
        environment="test",
        alembic_config=PROJECT_ROOT / "alembic.ini",
        **values,  # type: ignore[arg-type]
    )


@asynccontextmanager
async def running_worker(
    url: str, jobs: Mapping[str, JobFunction] = JOBS, **overrides: float
) -> AsyncIterator[Worker]:
    database = Database(worker_settings(url, **overrides))
    worker = Worker(worker_settings(url, **overrides), database, jobs)
    worker.start()
    try:
        yield worker
    finally:
        await worker.stop()
        await database.dispose()


async def eventually[T](
    read: Callable[[], Awaitable[T | None]], seconds: float = WAIT_SECONDS
) -> T:
    """The first truthy answer of `read`, asked every 50 ms."""
    deadline = time.monotonic() + seconds
    while not (answer := await read()):
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)
    return answer


async def add_job(database: Database, task: str, **values: object) -> int:
    async with database.session() as session:
        job_id = await enqueue(session, task, {})
        if values:
            await session.execute(update(Job).where(Job.id == job_id).values(**values))
        await session.commit()
    return job_id


async def count_jobs(database: Database) -> int:
    row = await database.read_one(select(func.count().label("jobs")).select_from(Job))
    assert row is not None
    return int(row["jobs"])


async def job_row(database: Database, job_id: int) -> RowMapping | None:
    return await database.read_one(select(Job.__table__).where(Job.id == job_id))


async def test_a_rolled_back_transaction_leaves_no_job(committed_app: FastAPI) -> None:
    database: Database = committed_app.state.database
    async with database.session() as session:
        await enqueue(session, "anything", {"n": 1})
        await session.rollback()
    assert await count_jobs(database) == 0


async def test_a_request_that_fails_after_enqueueing_leaves_no_job(
    committed_app: FastAPI, committed_client: AsyncClient
) -> None:
    @committed_app.post("/enqueue-then-fail")
    async def enqueue_then_fail(session: SessionDep) -> None:
        await enqueue(session, "anything", {"n": 1})
        raise HTTPException(409, "refused after the enqueue")

    response = await committed_client.post("/enqueue-then-fail")
    assert response.status_code == 409
    database: Database = committed_app.state.database
    assert await count_jobs(database) == 0


async def test_a_committed_transaction_leaves_its_job(committed_app: FastAPI) -> None:
    database: Database = committed_app.state.database
    job_id = await add_job(database, "anything")
    row = await job_row(database, job_id)
    assert row is not None
    assert (row["task"], row["state"], row["attempts"]) == ("anything", QUEUED, 0)
{%- if cookiecutter.include_example == "yes" %}


async def test_creating_an_item_enqueues_its_job_with_the_request_id(
    committed_app: FastAPI, committed_client: AsyncClient
) -> None:
    response = await committed_client.post("/items", json={"name": "a"})
    assert response.status_code == 201
    database: Database = committed_app.state.database
    rows = await database.read_all(select(Job.task, Job.payload, Job.request_id))
    assert [dict(row) for row in rows] == [
        {
            "task": "stamp_item",
            "payload": {"item_id": response.json()["id"]},
            "request_id": response.headers["x-request-id"],
        }
    ]


async def test_the_worker_stamps_the_item(
    committed_database_url: str, committed_app: FastAPI, committed_client: AsyncClient
) -> None:
    created = await committed_client.post("/items", json={"name": "a"})
    assert created.json()["processed_at"] is None
    path = created.headers["location"]

    async def processed() -> object:
        return (await committed_client.get(path)).json()["processed_at"]

    async with running_worker(committed_database_url):
        await eventually(processed)
    database: Database = committed_app.state.database
    assert await count_jobs(database) == 0


async def test_the_example_job_is_idempotent(committed_app: FastAPI) -> None:
    database: Database = committed_app.state.database
    async with database.session() as session:
        item = Item(name="a")
        session.add(item)
        await session.commit()
    run = JobRun(1, "stamp_item", {"item_id": item.id}, 1, database)
    await JOBS["stamp_item"](run)
    first = await database.read_one(select(Item.processed_at).where(Item.id == item.id))
    await JOBS["stamp_item"](run)
    again = await database.read_one(select(Item.processed_at).where(Item.id == item.id))
    assert first is not None
    assert first["processed_at"] is not None
    assert again == first
{%- endif %}


async def test_attempts_run_out_into_the_failed_state_and_retry_queues_it_again(
    committed_database_url: str, committed_app: FastAPI
) -> None:
    runs: list[datetime] = []

    async def always_fails(_run: JobRun) -> None:
        runs.append(datetime.now(UTC))
        raise RuntimeError("boom")

    database: Database = committed_app.state.database
    job_id = await add_job(database, "fails", max_attempts=3)

    async def failed() -> RowMapping | None:
        row = await job_row(database, job_id)
        return row if row is not None and row["state"] == FAILED else None

    async with running_worker(committed_database_url, {"fails": always_fails}):
        failed_row = await eventually(failed)
    assert failed_row["attempts"] == 3
    assert failed_row["last_error"] == "RuntimeError: boom"
    assert len(runs) == 3
    # Backoff: 0.05 s after the first attempt, 0.1 s after the second.
    pauses = [later - earlier for earlier, later in itertools.pairwise(runs)]
    assert pauses[0] >= timedelta(seconds=0.05)
    assert pauses[1] >= timedelta(seconds=0.1)

    async with database.session() as session:
        assert await retry_failed(session, [job_id]) == [job_id]
        await session.commit()
    row = await job_row(database, job_id)
    assert row is not None
    assert (row["state"], row["attempts"], row["last_error"]) == (QUEUED, 0, None)


async def test_a_delayed_job_does_not_run_before_its_time(
    committed_database_url: str, committed_app: FastAPI
) -> None:
    ran: list[datetime] = []

    async def note(_run: JobRun) -> None:
        ran.append(datetime.now(UTC))

    database: Database = committed_app.state.database
    not_before = datetime.now(UTC) + timedelta(seconds=1.5)
    async with database.session() as session:
        await enqueue(session, "note", {}, run_after=not_before)
        await session.commit()

    async def ran_once() -> bool:
        return bool(ran)

    async with running_worker(committed_database_url, {"note": note}):
        await asyncio.sleep(1.0)
        assert ran == []
        await eventually(ran_once)
    assert ran[0] >= not_before


async def test_a_job_whose_lease_expired_runs_again(
    committed_database_url: str, committed_app: FastAPI
) -> None:
    """What a worker killed mid-job leaves behind: a running job nobody extends."""
    ran: list[int] = []

    async def note(run: JobRun) -> None:
        ran.append(run.attempt)

    database: Database = committed_app.state.database
    expired = datetime.now(UTC) - timedelta(seconds=1)
    await add_job(
        database, "note", state=RUNNING, attempts=1, locked_by="dead", lease_expires_at=expired
    )

    async def ran_once() -> bool:
        return bool(ran)

    async with running_worker(committed_database_url, {"note": note}):
        await eventually(ran_once)
    assert ran == [2]


async def test_stop_lets_a_running_job_finish_within_the_grace(
    committed_database_url: str, committed_app: FastAPI
) -> None:
    started, finished = asyncio.Event(), asyncio.Event()

    async def slow(_run: JobRun) -> None:
        started.set()
        await asyncio.sleep(0.5)
        finished.set()

    database: Database = committed_app.state.database
    job_id = await add_job(database, "slow")
    async with running_worker(committed_database_url, {"slow": slow}):
        await asyncio.wait_for(started.wait(), WAIT_SECONDS)
    assert finished.is_set()
    assert await job_row(database, job_id) is None  # done


async def test_stop_releases_a_job_still_running_at_the_grace(
    committed_database_url: str, committed_app: FastAPI
) -> None:
    started = asyncio.Event()

    async def too_slow(_run: JobRun) -> None:
        started.set()
        await asyncio.sleep(60)

    database: Database = committed_app.state.database
    job_id = await add_job(database, "too_slow")
    async with running_worker(
        committed_database_url, {"too_slow": too_slow}, worker_shutdown_grace_seconds=0.2
    ):
        await asyncio.wait_for(started.wait(), WAIT_SECONDS)
    row = await job_row(database, job_id)
    assert row is not None
    assert (row["state"], row["attempts"], row["locked_by"]) == (QUEUED, 0, None)


async def test_the_job_continues_the_trace_of_the_request_that_enqueued_it(
    committed_database_url: str, committed_app: FastAPI
) -> None:
    seen: list[int] = []

    async def note_trace(_run: JobRun) -> None:
        seen.append(trace.get_current_span().get_span_context().trace_id)

    database: Database = committed_app.state.database
    token = otel_context.attach(propagate.extract({"traceparent": TRACEPARENT}))
    try:
        await add_job(database, "note_trace")
    finally:
        otel_context.detach(token)

    async def ran_once() -> bool:
        return bool(seen)

    async with running_worker(committed_database_url, {"note_trace": note_trace}):
        await eventually(ran_once)
    assert seen == [int(TRACEPARENT.split("-")[1], 16)]


async def test_the_worker_command_logs_job_and_request_ids_answers_probes_and_stops_on_sigterm(
    committed_database_url: str, committed_app: FastAPI
) -> None:
    database: Database = committed_app.state.database
    job_id = await add_job(database, "not_registered_here", request_id="the-request")
    output, returncode = await asyncio.to_thread(run_the_worker_command, committed_database_url)
    assert "Application shutdown complete" in output
    # uvicorn re-raises the signal once it has shut down cleanly.
    assert returncode in (0, -signal.SIGTERM)
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    failed = [line for line in lines if "failed" in line["message"]]
    assert failed, output
    assert failed[0]["job_id"] == job_id
    assert failed[0]["request_id"] == "the-request"
    assert "LookupError" in failed[0]["exception"]


def run_the_worker_command(url: str) -> tuple[str, int]:
    """Start `python -m <package>.worker`, wait until /readyz answers 200, check /healthz, send
    SIGTERM; its output and exit status."""
    port = free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": url,
        "WORKER_PORT": str(port),
        "LOG_FORMAT": "json",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "{{ cookiecutter.module_name }}.worker"],
        cwd=PROJECT_ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.communicate()[0]
            assert time.monotonic() < deadline, "the worker did not become ready"
            time.sleep(0.1)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
        time.sleep(0.5)  # the job's first attempt, claimed at start-up, has failed by now
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return output, process.returncode


@pytest.mark.parametrize("value", ["0", "-1"])
def test_the_worker_refuses_a_concurrency_below_one(value: str) -> None:
    with pytest.raises(ValueError, match="worker_concurrency"):
        Settings(database_url="postgresql+asyncpg://app@localhost/x", worker_concurrency=value)
