"""The benchmark's --quick mode runs end to end, so bench/run.py cannot rot unnoticed.

It asserts that the script ran and printed a line for every figure; nothing about speed (the
figures are for people to read, never thresholds for a test).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from tests.bake import TEMPLATE_DIR

# One line per figure, as bench/run.py prints them (a skipped figure still prints its line).
FIGURES = (
    r"^  render-only \(no environment work\) ",
    r"^  time-to-green, cold uv cache ",
    r"^  time-to-green, warm uv cache ",
    r"^    its steps: uv lock .*, pytest .*, alembic upgrade head ",
    r"^  /healthz   raw ASGI ",
    r"^  /healthz   bare Starlette ",
    r"^  /healthz   minimal FastAPI ",
    r"^  /healthz   baked service .*x minimal FastAPI",
    r"^  /healthz   baked service, telemetry as shipped .*x telemetry off",
    r"^  /healthz   baked service, telemetry, every trace .*x telemetry off",
    r"^  /healthz   baked service, production command .*x the uvicorn command",
    r"^  get-by-id  Starlette \+ raw asyncpg \(the limit\) ",
    r"^  get-by-id  FastAPI \+ raw asyncpg \(same framework\) ",
    r"^  get-by-id  FastAPI \+ AsyncSession.get \(textbook\) ",
    r"^  get-by-id  baked service .*x FastAPI \+ asyncpg",
    r"^  get-by-id  baked service, auth=oidc, RS256 token .*x auth=none",
    r"^  get-by-id  baked service, auth=oidc, ES256 token .*x auth=none",
    r"^  get-by-id  baked service, telemetry as shipped .*x telemetry off",
    r"^  get-by-id  baked service, telemetry, every trace .*x telemetry off",
    r"^  get-by-id  baked service, metrics, no traces .*x telemetry off",
    r"^  get-by-id  baked service, bounds off .*bounds on .*x off",
    r"^  POST /items baked service ",
    r"^  POST /items baked service, bounds off .*bounds on .*x off",
    r"^  POST /items baked service, Idempotency-Key .*x without a key",
    r"^  POST /items baked service, background_jobs=yes .*enqueue .*x background_jobs=no",
    r"^  worker \(python -m bench_service.worker\) .* jobs/s",
    r"^  raw asyncpg, same claim/work/delete SQL .* jobs/s",
    r"^    worker .*x raw asyncpg",
    r"^  get-by-id  baked service, production command .*x the uvicorn command",
    r"^  cold start raw ASGI ",
    r"^  cold start minimal FastAPI ",
    r"^  cold start FastAPI \+ AsyncSession.get \(textbook\) ",
    r"^  cold start baked service ",
    r"^  the stack's own floor: FastAPI \+ AsyncSession.get \(textbook\) [\d.]+x minimal FastAPI$",
    r"^  baked cold start, auth as shipped: \d+\.\d\dx the textbook app$",
    r"^  image size ",
    r"^  rebuild after a source-only change ",
)
# render-only, warm time-to-green, /healthz, get-by-id, get-by-id with an RS256 token, the
# database bounds on get-by-id and on POST, POST with its job enqueued, get-by-id with telemetry
# three ways, four tails (telemetry off and as shipped), two cold starts (auth, telemetry)
TARGETS = 17


def test_quick_benchmark_prints_every_figure() -> None:
    if shutil.which("wrk") is None:
        pytest.fail("wrk is not installed: apt-get update && apt-get install -y wrk")
    result = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick"],
        cwd=TEMPLATE_DIR,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = result.stdout
    assert result.returncode == 0, f"{output}\n{result.stderr[-4000:]}"
    missing = [line for line in FIGURES if not re.search(line, output, re.MULTILINE)]
    assert not missing, f"figures not printed: {missing}\n{output}"
    assert "FAILED" not in output, output
    assert len(re.findall(r"^  \[\s*(met|MISSED)\] ", output, re.MULTILINE)) == TARGETS, output
