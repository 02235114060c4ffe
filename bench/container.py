"""The container tier's figures, where an engine answers: the image's size, and how long a rebuild
takes after a source-only change (the dependency layer should come from the build cache)."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from tools import commands

BUILD_TIMEOUT = 1800


def engine_answers(engine: str) -> bool:
    if shutil.which(engine) is None:
        return False
    try:
        result = subprocess.run([engine, "info"], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


@dataclass(frozen=True)
class Image:
    size_bytes: int
    first_build: float
    rebuild: float


def _run(
    engine: str, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> str:
    return commands.run([engine, *args], cwd, env, BUILD_TIMEOUT).stdout.strip()


def measure(engine: str, project: Path, env: dict[str, str] | None = None) -> Image:
    """Build, change one source file, build again; remove both images afterwards. `env`: the
    engine CLI's environment (a provisioned engine's socket), else this process's."""
    tag = f"fastapi-bench-{uuid.uuid4().hex[:8]}:latest"
    images: list[str] = []
    try:
        started = time.monotonic()
        _run(engine, "build", "-q", "-t", tag, ".", cwd=project, env=env)
        first = time.monotonic() - started
        images.append(_run(engine, "image", "inspect", "-f", "{{.Id}}", tag, env=env))
        size = int(_run(engine, "image", "inspect", "-f", "{{.Size}}", tag, env=env))
        source = next((project / "src").glob("*/__init__.py"))
        with source.open("a", encoding="utf-8") as handle:
            handle.write(f"# a source-only change ({uuid.uuid4().hex})\n")
        started = time.monotonic()
        _run(engine, "build", "-q", "-t", tag, ".", cwd=project, env=env)
        rebuild = time.monotonic() - started
        images.append(_run(engine, "image", "inspect", "-f", "{{.Id}}", tag, env=env))
        return Image(size, first, rebuild)
    finally:
        for image in dict.fromkeys([tag, *images]):
            subprocess.run(
                [engine, "rmi", "-f", image], env=env, capture_output=True, timeout=120, check=False
            )
