"""The real application plus one slow route, served by the tests of the server command."""

import asyncio
import logging

{% if cookiecutter.auth == "oidc" -%}
from {{ cookiecutter.module_name }}.auth import PUBLIC
{% endif -%}
from {{ cookiecutter.module_name }}.main import create_app

# The tests wait for this line: the request has reached the app.
STARTED = "slow request started"

app = create_app()
logger = logging.getLogger(__name__)


@app.get("/slow"{% if cookiecutter.auth == "oidc" %}, dependencies=[PUBLIC]{% endif %})
async def slow(seconds: float = 2.0) -> dict[str, float]:
    logger.warning(STARTED)
    await asyncio.sleep(seconds)
    return {"slept": seconds}
