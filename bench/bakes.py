"""Bake timings, as a user runs them: the whole `cookiecutter` command, wall clock.

- render-only: FASTAPI_TEMPLATE_MODE=render-only (render and prune, no environment work);
- time-to-green: FASTAPI_TEMPLATE_MODE=local-no-docker, the hook's checklist (uv lock, uv sync,
  ruff, format, mypy, pytest, alembic upgrade head), with a cold or a warm uv cache.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tools import commands

# The hook's set-up of the developer's machine (database, first commit): skipped where the machine
# does not allow it, which says nothing about whether the project is green.
SET_UP_STEPS = frozenset({"create development db", "migrate development db", "first git commit"})

BAKE_TIMEOUT = 1800


def cookiecutter_command() -> list[str]:
    script = Path(sys.executable).with_name("cookiecutter")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "cookiecutter"]


@dataclass(frozen=True)
class Bake:
    seconds: float
    project: Path
    steps: dict[str, float]  # checklist step -> seconds (time-to-green only)
    failed: dict[str, str]  # checklist step -> why it did not pass

    @property
    def green(self) -> bool:
        return bool(self.steps) and not self.failed


def _bake(template: Path, out: Path, env: dict[str, str], context: dict[str, str]) -> Bake:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    report = out / "report.json"
    env = {**env, "FASTAPI_TEMPLATE_REPORT": str(report)}
    extra = [f"{key}={value}" for key, value in context.items()]
    started = time.monotonic()
    command = [*cookiecutter_command(), "--no-input", "-o", str(out), str(template), *extra]
    commands.run(command, None, env, BAKE_TIMEOUT)
    seconds = time.monotonic() - started
    projects = [p for p in out.iterdir() if p.is_dir()]
    if len(projects) != 1:
        raise RuntimeError(f"expected one project in {out}, found {projects}")
    steps: dict[str, float] = {}
    failed: dict[str, str] = {}
    if report.is_file():
        data = json.loads(report.read_text())
        steps = {step["name"]: step["seconds"] for step in data["steps"]}
        failed = {
            step["name"]: step["reason"] or step["status"]
            for step in data["steps"]
            if step["status"] == "failed"
            or (step["status"] == "skipped" and step["name"] not in SET_UP_STEPS)
        }
    return Bake(seconds, projects[0], steps, failed)


def render_only(template: Path, out: Path, env: dict[str, str], context: dict[str, str]) -> Bake:
    return _bake(template, out, {**env, "FASTAPI_TEMPLATE_MODE": "render-only"}, context)


def time_to_green(template: Path, out: Path, env: dict[str, str], context: dict[str, str]) -> Bake:
    """Not strict: a failed step keeps the project (cookiecutter would delete it), the caller
    reports the bake as not green."""
    env = {**env, "FASTAPI_TEMPLATE_MODE": "local-no-docker"}
    bake = _bake(template, out, env, context)
    if not bake.steps:
        raise RuntimeError("the time-to-green bake wrote no checklist report")
    return bake


def lock_and_sync(project: Path, uv: str, env: dict[str, str]) -> None:
    """What a render-only bake leaves out and the service needs: its locked environment."""
    for args in (("lock",), ("sync", "--locked", "--compile-bytecode")):  # as the image does
        commands.run([uv, *args], project, env)
