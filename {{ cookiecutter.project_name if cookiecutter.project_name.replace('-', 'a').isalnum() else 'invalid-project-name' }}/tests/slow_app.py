"""The real application plus one slow route, served by tests/test_shutdown.py."""

import asyncio

from {{ cookiecutter.module_name }}.main import create_app

app = create_app()


@app.get("/slow")
async def slow(seconds: float = 2.0) -> dict[str, float]:
    await asyncio.sleep(seconds)
    return {"slept": seconds}
