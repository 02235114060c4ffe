"""The worker's jobs per second (background_jobs=yes), against a raw reference in the same run.

Both drain the same batch of the example job (`stamp_item`, one item's processed_at per job),
inserted in one transaction with the NOTIFY that enqueue() sends:
- the worker: `python -m MODULE.worker` as shipped (WORKER_CONCURRENCY slots), timed from the
  batch's commit to an empty jobs table (a finished job's row is deleted);
- the reference: the same claim / work / delete cycle as plain SQL on raw asyncpg, as many
  connections as the worker has slots, one job per claim; no leases kept, no telemetry.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import subprocess
import time
from pathlib import Path

import asyncpg

from bench import servers
from tools.machine import free_port

START_TIMEOUT = 30.0
DRAIN_TIMEOUT = 300.0
POLL_SECONDS = 0.02
CONCURRENCY = 4  # the worker's WORKER_CONCURRENCY default, set explicitly for both

INSERT = (
    "INSERT INTO jobs (task, payload, state, attempts, max_attempts) "
    "SELECT 'stamp_item', jsonb_build_object('item_id', 1 + g % $2), 'queued', 0, 5 "
    "FROM generate_series(1, $1) AS g"
)
CLAIM = (
    "UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_by = 'raw', "
    "lease_expires_at = now() + interval '30 seconds' "
    "WHERE id IN (SELECT id FROM jobs WHERE state = 'queued' AND run_after <= now() "
    "ORDER BY run_after LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id, payload"
)
WORK = "UPDATE items SET processed_at = now() WHERE id = $1 AND processed_at IS NULL"
SETTLE = "DELETE FROM jobs WHERE id = $1 AND locked_by = 'raw'"


async def _enqueue(dsn: str, jobs: int, rows: int) -> None:
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        await connection.execute("DELETE FROM jobs")
        await connection.execute("UPDATE items SET processed_at = NULL")
        async with connection.transaction():
            await connection.execute(INSERT, jobs, rows)
            await connection.execute("SELECT pg_notify('jobs', '')")
    finally:
        await connection.close()


async def _drained(dsn: str) -> float:
    """Seconds from now until the jobs table is empty."""
    connection = await asyncpg.connect(dsn, timeout=10)
    started = time.monotonic()
    try:
        while await connection.fetchval("SELECT count(*) FROM jobs"):
            if time.monotonic() - started > DRAIN_TIMEOUT:
                raise RuntimeError(f"jobs left after {DRAIN_TIMEOUT:g} s")
            await asyncio.sleep(POLL_SECONDS)
        return time.monotonic() - started
    finally:
        await connection.close()


def worker_rate(python: str, project: Path, module: str, env: dict[str, str], dsn: str,
                jobs: int, rows: int, log: Path) -> float:  # fmt: skip
    """Jobs per second of the shipped worker; `env` carries its DATABASE_URL."""
    port = free_port()
    env = {**env, "HOST": servers.HOST, "WORKER_PORT": str(port),
           "WORKER_CONCURRENCY": str(CONCURRENCY), "LOG_LEVEL": "WARNING"}  # fmt: skip
    with log.open("ab") as out:
        process = subprocess.Popen(
            [python, "-m", f"{module}.worker"],
            cwd=project, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while ready_status(port) != 200:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not get ready: {log.read_text()[-2000:]}")
            time.sleep(POLL_SECONDS)
        asyncio.run(_enqueue(dsn, jobs, rows))
        return jobs / asyncio.run(_drained(dsn))
    finally:
        servers.stop(process)


def ready_status(port: int) -> int:
    with contextlib.suppress(OSError, http.client.HTTPException):
        return servers.get(port, "/readyz", timeout=2.0)[0]
    return 0


async def _raw_drain(dsn: str) -> None:
    async def drain() -> None:
        connection = await asyncpg.connect(dsn, timeout=10)
        try:
            while row := await connection.fetchrow(CLAIM):
                await connection.execute(WORK, item_id(row["payload"]))
                await connection.execute(SETTLE, row["id"])
        finally:
            await connection.close()

    await asyncio.gather(*(drain() for _ in range(CONCURRENCY)))


def item_id(payload: str) -> int:
    return int(json.loads(payload)["item_id"])  # asyncpg returns jsonb as its text


def raw_rate(dsn: str, jobs: int, rows: int) -> float:
    """Jobs per second of the same cycle on raw asyncpg."""
    asyncio.run(_enqueue(dsn, jobs, rows))
    started = time.monotonic()
    asyncio.run(_raw_drain(dsn))
    return jobs / (time.monotonic() - started)
