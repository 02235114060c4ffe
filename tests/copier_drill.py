"""What every Copier test needs: the committed template cloned at HEAD, and the real `copier` CLI
as a user runs it (`--trust`: copier.yml loads an extension and runs the hooks as tasks)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from cookiecutter.main import cookiecutter

from tests.bake import TEMPLATE_DIR
from tests.cruft_drill import attempt, run
from tools.machine import tool

ANSWERS_FILE = ".copier-answers.yml"


def clone_at_head(dest: Path, env: dict[str, str]) -> Path:
    """The template as committed: a clone of this repository at its HEAD (never the working tree,
    so what is tested is what a user's `copier copy <url>` gets)."""
    head = run(["git", "rev-parse", "HEAD"], TEMPLATE_DIR, env).stdout.strip()
    run(["git", "clone", "-q", "--no-hardlinks", str(TEMPLATE_DIR), str(dest)], dest.parent, env)
    run(["git", "checkout", "-q", head], dest, env)
    return dest


def committed_files(template: Path, dest: Path) -> Path:
    """The clone's files without .git: the committed tree, which Copier's Python API reads in
    place (no clone per run, so a run takes milliseconds)."""
    shutil.copytree(template, dest, ignore=shutil.ignore_patterns(".git"))
    return dest


def cookiecutter_in_process(template: Path, out: Path, context: dict[str, Any]) -> str:
    """cookiecutter's Python API, its replay files beside `out` (not in the home folder); it
    raises as cookiecutter does (FailedHookException for a refused input)."""
    config = out.parent / f"{out.name}-cookiecutter.yaml"
    config.write_text(json.dumps({"replay_dir": str(out.parent / f"{out.name}-replay")}))
    return str(
        cookiecutter(
            str(template),
            no_input=True,
            extra_context=context,
            output_dir=str(out),
            config_file=str(config),
        )
    )


def data_args(context: dict[str, str]) -> list[str]:
    return [arg for key, value in context.items() for arg in ("--data", f"{key}={value}")]


def copier_copy(
    template: Path,
    dest: Path,
    env: dict[str, str],
    context: dict[str, str],
    vcs_ref: str = "HEAD",
) -> subprocess.CompletedProcess[str]:
    """`copier copy` with every answer given or defaulted; it may fail (bad input)."""
    args = [tool("copier"), "copy", "--trust", "--defaults", "--vcs-ref", vcs_ref]
    args += [*data_args(context), str(template), str(dest)]
    return attempt(args, dest.parent, env, timeout=600)


def copier_in(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """A copier command inside a project (`copier update ...`); it may fail."""
    return attempt([tool("copier"), *args], project, env, timeout=600)
