"""`cruft update` re-renders the template twice in temporary folders: no environment work there."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.bake import TEMPLATE_DIR
from tests.test_hooks_modes import fake_tool

pytestmark = pytest.mark.hooks


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
    return result


def git_commit_all(repo: Path, env: dict[str, str], message: str) -> None:
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-q", "--no-verify", "-m", message], repo, env)


def test_cruft_update_runs_no_uv_docker_or_checklist(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "FASTAPI_TEMPLATE_MODE"}}
    env.update(
        {
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com",
        }
    )
    template = tmp_path / "template"
    shutil.copytree(
        TEMPLATE_DIR,
        template,
        ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__", "*_cache", ".ci"),
    )
    run(["git", "init", "-q", "-b", "main"], template, env)
    git_commit_all(template, env, "template v1")

    cruft = shutil.which("cruft")
    assert cruft
    run(
        [cruft, "create", "--no-input", str(template), "--output-dir", str(tmp_path / "out")],
        tmp_path,
        {**env, "FASTAPI_TEMPLATE_MODE": "render-only"},
    )
    project = tmp_path / "out" / "my-service"
    run(["git", "init", "-q", "-b", "main"], project, env)
    git_commit_all(project, env, "baked")

    readme = template / "{{cookiecutter.project_name}}" / "README.md"
    readme.write_text(readme.read_text() + "\nA line added by template v2.\n")
    git_commit_all(template, env, "template v2")

    # Any uv or docker call during the update would land in this log.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls.log"
    for tool in ("uv", "docker"):
        fake_tool(bin_dir, tool, calls)
    update_env = {**env, "PATH": f"{bin_dir}{os.pathsep}{env['PATH']}"}
    result = run([cruft, "update", "-y"], project, update_env)

    assert not calls.exists(), calls.read_text()
    assert "Checklist" not in result.stdout
    assert "A line added by template v2." in (project / "README.md").read_text()
    assert not (project / ".venv").exists()
    assert not (project / "uv.lock").exists()
