"""Gates tier: the baked README's "Adding a job", followed word for word on a real bake.

The section uses the steps of "Adding a resource" (tests/guide.py reads and follows them):
this test applies them to a copy of a bake with the example and background jobs, and then every
gate must pass, the guide's own tests among them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.bake import Baked, combination_params
from tests.guide import copy_of, follow, steps
from tests.matrix import named_where
from tools.database import throwaway_database

WITH_JOBS = named_where(include_example="yes", background_jobs="yes")[:1]


@pytest.mark.parametrize("baked", combination_params(WITH_JOBS), indirect=True)
def test_the_readme_adds_a_job_and_every_gate_passes(baked: Baked, tmp_path: Path) -> None:
    copy = copy_of(baked, tmp_path)
    guide = steps((copy / "README.md").read_text(), "Adding a job")
    kinds = [step.kind for step in guide]
    assert kinds == ["create", "change", "change", "change", "create", "run"], kinds
    with throwaway_database() as url:
        project = Baked(copy, baked.context, {**baked.env, "DATABASE_URL": url})
        sync = project.uv("sync", "--locked")
        assert sync.returncode == 0, sync.stderr
        follow(project, guide)
        # The gates above ran the whole suite; this proves the guide's own tests were in it.
        job = project.uv(
            "run", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_describe_item.py"
        )
    assert job.returncode == 0, job.stdout
    assert re.search(r"^3 passed", job.stdout.splitlines()[-1]), job.stdout
