"""Gates tier: the baked README's "Adding a resource", followed word for word on a real bake.

Every step of that section is a sentence ending in a colon followed by a code block: "Create
`path`:", "In `path`, after the line `…`, add:", "In `path`, replace the line `…` with:" or
"Run:". This test reads the steps from the README (it holds no copy of them), applies them to a
copy of a baked project, and then every gate must pass: the guide cannot drift from the code.
"""

from __future__ import annotations

import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.bake import NAMED, Baked, combination_params
from tools.database import throwaway_database

EXAMPLE = [NAMED["service"]]
SECTION = re.compile(r"^## Adding a resource\n(?P<body>.*?)(?=^## |\Z)", re.DOTALL | re.MULTILINE)
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


def steps(readme: str) -> list[Step]:
    section = SECTION.search(readme)
    assert section, "the baked README has no '## Adding a resource' section"
    body = section["body"]
    found, prose_start = [], 0
    for block in BLOCK.finditer(body):
        prose = " ".join(body[prose_start : block.start()].split())
        prose_start = block.end()
        instruction = INSTRUCTION.search(prose)
        assert instruction, f"no step before this code block: {prose[-120:]!r}"
        found.append(Step(instruction, block["code"]))
    return found


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


def newest_migration(project: Path) -> Path:
    return max((project / "alembic" / "versions").glob("*.py"), key=lambda p: p.stat().st_mtime)


@pytest.mark.parametrize("baked", combination_params(EXAMPLE), indirect=True)
def test_the_readme_adds_a_resource_and_every_gate_passes(baked: Baked, tmp_path: Path) -> None:
    copy = tmp_path / baked.path.name
    shutil.copytree(
        baked.path,
        copy,
        ignore=shutil.ignore_patterns(".venv", "__pycache__", ".mypy_cache", ".ruff_cache"),
    )
    guide = steps((copy / "README.md").read_text())
    assert [s.instruction["run"] for s in guide].count("Run") == 2  # migration, then the gates
    with throwaway_database() as url:
        project = Baked(copy, baked.context, {**baked.env, "DATABASE_URL": url})
        sync = project.uv("sync", "--locked")
        assert sync.returncode == 0, sync.stderr
        for step in guide:
            found = step.instruction
            if found["create"]:
                target = copy / found["create"]
                assert not target.exists(), f"the guide creates {target.name}, which exists"
                target.write_text(step.code)
            elif found["after"]:
                replace_line(copy / found["path"], found["after"], step.code, keep_anchor=True)
            elif found["replace"]:
                replace_line(copy / found["path"], found["replace"], step.code, keep_anchor=False)
            else:
                run_commands(project, step.code)
                if "--autogenerate" in step.code:  # the "review" step, as a reader would
                    migration = newest_migration(copy).read_text()
                    assert 'op.create_table(\n        "orders"' in migration, migration
                    assert 'sa.ForeignKeyConstraint(["item_id"], ["items.id"]' in migration
                    assert "op.create_index(" in migration
                    # The status as text with a CHECK: no PostgreSQL type left by a downgrade.
                    assert "native_enum=False" in migration
                    assert "create_constraint=True" in migration
                    assert 'sa.UniqueConstraint("reference"' in migration
        # The gates above ran the whole suite; this proves the guide's own tests were in it.
        orders = project.uv("run", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_orders.py")
    assert orders.returncode == 0, orders.stdout
    assert re.search(r"^\d+ passed", orders.stdout.splitlines()[-1]), orders.stdout
