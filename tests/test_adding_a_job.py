"""Gates tier: the baked README's "Adding a job", followed word for word on a real bake.

The section uses the steps of "Adding a resource" (tests/test_adding_a_resource.py reads them):
this test applies them to a copy of a bake with the example and background jobs, and then every
gate must pass, the guide's own tests among them.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.bake import Baked, combination_params
from tests.matrix import named_where
from tests.test_adding_a_resource import replace_line, run_commands, steps
from tools.database import throwaway_database

WITH_JOBS = named_where(include_example="yes", background_jobs="yes")[:1]


@pytest.mark.parametrize("baked", combination_params(WITH_JOBS), indirect=True)
def test_the_readme_adds_a_job_and_every_gate_passes(baked: Baked, tmp_path: Path) -> None:
    copy = tmp_path / baked.path.name
    shutil.copytree(
        baked.path,
        copy,
        ignore=shutil.ignore_patterns(".venv", "__pycache__", ".mypy_cache", ".ruff_cache"),
    )
    guide = steps((copy / "README.md").read_text(), "Adding a job")
    kinds = [
        "create" if s.instruction["create"] else "run" if s.instruction["run"] else "change"
        for s in guide
    ]
    assert kinds == ["create", "change", "change", "change", "create", "run"], kinds
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
        # The gates above ran the whole suite; this proves the guide's own tests were in it.
        job = project.uv(
            "run", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_describe_item.py"
        )
    assert job.returncode == 0, job.stdout
    assert re.search(r"^3 passed", job.stdout.splitlines()[-1]), job.stdout
