"""Bake timings, as a user runs them: the whole `cookiecutter` command, wall clock.

- render-only: FASTAPI_TEMPLATE_MODE=render-only (render and prune, no environment work);
- time-to-green: FASTAPI_TEMPLATE_MODE=local-no-docker, the hook's checklist (uv lock, uv sync,
  ruff, format, mypy, pytest, alembic upgrade head), with a cold or a warm uv cache;
- the seed scaffold's time-to-green, the reference: `reference/seed-scaffold/` (the source
  design's five files, its dependencies, `alembic init -t async` wired to `Base.metadata`, one
  health test) copied and put through its own checklist the way the hook runs ours.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tools import commands

# The hook's set-up of the developer's machine (database, first commit): skipped where the machine
# does not allow it, which says nothing about whether the project is green.
SET_UP_STEPS = frozenset({"create development db", "migrate development db", "first git commit"})

BAKE_TIMEOUT = 1800
SEED_SCAFFOLD = Path(__file__).resolve().parent / "reference" / "seed-scaffold"


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


def seed_time_to_green(out: Path, uv: str, env: dict[str, str], database_url: str) -> Bake:
    """The seed scaffold through the source design's checklist, timed as a bake is: the copy
    stands for the render; then lock, sync, ruff and format in turn, then mypy, pytest and
    alembic side by side, as the hook runs them. `database_url`: an empty database it may use."""
    if out.exists():
        shutil.rmtree(out)
    started = time.monotonic()
    skipped = shutil.ignore_patterns(".venv", "*cache*", "uv.lock")  # left by a run in place
    shutil.copytree(SEED_SCAFFOLD, out, ignore=skipped)
    steps: dict[str, float] = {}
    failed: dict[str, str] = {}

    def step(name: str, *args: str) -> None:
        began = time.monotonic()
        result = commands.attempt([uv, *args], out, {**env, "DATABASE_URL": database_url})
        steps[name] = time.monotonic() - began
        if result.returncode != 0:
            failed[name] = (result.stdout + result.stderr).strip()[-300:]

    for name, args in (
        ("uv lock", ("lock",)),
        ("uv sync", ("sync", "--locked")),
        ("ruff check", ("run", "--locked", "ruff", "check", ".")),
        ("ruff format --check", ("run", "--locked", "ruff", "format", "--check", ".")),
    ):
        step(name, *args)
    together = (
        ("mypy src", ("run", "--locked", "mypy", "src")),
        ("pytest", ("run", "--locked", "pytest", "-q")),
        ("alembic upgrade head", ("run", "--locked", "alembic", "upgrade", "head")),
    )
    with ThreadPoolExecutor(max_workers=len(together)) as pool:
        for future in [pool.submit(step, name, *args) for name, args in together]:
            future.result()
    return Bake(time.monotonic() - started, out, steps, failed)
