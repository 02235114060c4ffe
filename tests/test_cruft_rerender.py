"""`cruft update` re-renders the template twice in temporary folders: no environment work there."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bake import PROJECT_FOLDER
from tests.cruft_drill import (
    RENDER_ONLY,
    cruft_create,
    cruft_in,
    drill_env,
    git_commit_all,
    git_init_and_commit,
    template_repo,
    with_stand_ins,
)

pytestmark = [pytest.mark.hooks, pytest.mark.cruft]


def test_cruft_update_runs_no_uv_docker_or_checklist(tmp_path: Path) -> None:
    env = drill_env()
    template = template_repo(tmp_path / "template", env)
    cruft_create(template, tmp_path / "out", drill_env(RENDER_ONLY), {})
    project = tmp_path / "out" / "my-service"
    git_init_and_commit(project, env, "baked")

    readme = template / PROJECT_FOLDER / "README.md"
    readme.write_text(readme.read_text() + "\nA line added by template v2.\n")
    git_commit_all(template, env, "template v2")

    # Any uv or docker call during the update would land in this log.
    calls = tmp_path / "calls.log"
    result = cruft_in(project, with_stand_ins(env, tmp_path / "bin", calls), "update", "-y")

    assert result.returncode == 0, result.stdout + result.stderr
    assert not calls.exists(), calls.read_text()
    assert "Checklist" not in result.stdout
    assert "A line added by template v2." in (project / "README.md").read_text()
    assert not (project / ".venv").exists()
    assert not (project / "uv.lock").exists()
