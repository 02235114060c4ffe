"""Following a how-to section of the baked README word for word, on a copy of a bake.

Every step of such a section is a sentence ending in a colon followed by a code block: "Create
`path`:", "In `path`, after the line `…`, add:", "In `path`, replace the line `…` with:" or
"Run:". The steps are read from the README (no test holds a copy of them), so a guide cannot
drift from the code it changes.
"""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.bake import Baked

BLOCK = re.compile(r"^```(?P<lang>\w*)\n(?P<code>.*?)^```$", re.DOTALL | re.MULTILINE)
INSTRUCTION = re.compile(
    r"(?:Create `(?P<create>[^`]+)`"
    r"|In `(?P<path>[^`]+)`, (?:after the line `(?P<after>[^`]+)`, add"
    r"|replace the line `(?P<replace>[^`]+)` with)"
    r"|(?P<run>Run)):$"
)


@dataclass(frozen=True)
class Step:
    instruction: re.Match[str]
    code: str

    @property
    def kind(self) -> str:
        found = self.instruction
        return "create" if found["create"] else "run" if found["run"] else "change"


def steps(readme: str, title: str) -> list[Step]:
    heading = rf"^## {re.escape(title)}\n(?P<body>.*?)(?=^## |\Z)"
    section = re.compile(heading, re.DOTALL | re.MULTILINE).search(readme)
    assert section, f"the baked README has no '## {title}' section"
    body = section["body"]
    found, prose_start = [], 0
    for block in BLOCK.finditer(body):
        prose = " ".join(body[prose_start : block.start()].split())
        prose_start = block.end()
        instruction = INSTRUCTION.search(prose)
        assert instruction, f"no step before this code block: {prose[-120:]!r}"
        found.append(Step(instruction, block["code"]))
    return found


def copy_of(baked: Baked, destination: Path) -> Path:
    """The bake without its venv and caches: the guide's changes stay off the shared bake."""
    copy = destination / baked.path.name
    caches = shutil.ignore_patterns(".venv", "__pycache__", ".mypy_cache", ".ruff_cache")
    shutil.copytree(baked.path, copy, ignore=caches)
    return copy


def replace_line(path: Path, anchor: str, new: str, keep_anchor: bool) -> None:
    lines = path.read_text().splitlines(keepends=True)
    matches = [i for i, line in enumerate(lines) if line.strip() == anchor.strip()]
    assert len(matches) == 1, f"{path.name}: the line {anchor!r} occurs {len(matches)} times"
    index = matches[0]
    lines[index : index + 1] = [lines[index], new] if keep_anchor else [new]
    path.write_text("".join(lines))


def run_commands(project: Baked, code: str) -> None:
    for line in code.splitlines():
        command = line.split("#", 1)[0].strip()
        if not command:
            continue
        args = shlex.split(command)
        assert args[0] == "uv", f"the guide runs {command!r}; this test knows only uv commands"
        result = project.uv(*args[1:])
        assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"


def follow(
    project: Baked, guide: list[Step], after_run: Callable[[str], None] | None = None
) -> None:
    """Each step in order, as a reader does it; `after_run` looks at what a Run step did."""
    for step in guide:
        found = step.instruction
        if found["create"]:
            target = project.path / found["create"]
            assert not target.exists(), f"the guide creates {target.name}, which exists"
            target.write_text(step.code)
        elif found["after"]:
            replace_line(project.path / found["path"], found["after"], step.code, keep_anchor=True)
        elif found["replace"]:
            replace_line(
                project.path / found["path"], found["replace"], step.code, keep_anchor=False
            )
        else:
            run_commands(project, step.code)
            if after_run is not None:
                after_run(step.code)
