"""The real application plus one slow route, served by tests/test_shutdown.py."""

import asyncio
import sys

from {{ cookiecutter.module_name }}.main import create_app

app = create_app()
STARTED = "slow request started"


@app.get("/slow")
async def slow() -> dict[str, str]:
    """Says on stdout that it started, then answers with the next line on stdin: the test, not
    a clock, decides when the request ends."""
    print(STARTED, flush=True)
    line = await asyncio.to_thread(sys.stdin.readline)
    return {"released": line.strip()}
