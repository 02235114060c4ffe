"""What every Copier test needs: the committed template cloned at HEAD, and the real `copier` CLI
as a user runs it (`--trust`: copier.yml loads an extension and runs the hooks as tasks)."""

from __future__ import annotations

import subprocess
from pathlib import Path

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
