"""What every cruft drill needs: the template under git in a temporary folder, real cruft, git and
cookiecutter runs, and logging stand-ins for the tools a re-render must never call."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from tests.bake import TEMPLATE_DIR, fake_tool
from tools.commands import attempt as attempt
from tools.commands import run as run
from tools.machine import tool as tool

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Template Tests",
    "GIT_AUTHOR_EMAIL": "template-tests@example.com",
    "GIT_COMMITTER_NAME": "Template Tests",
    "GIT_COMMITTER_EMAIL": "template-tests@example.com",
}
# The template repository's own machinery, caches and environments are not part of a release.
NOT_IN_A_RELEASE = shutil.ignore_patterns(".venv", ".git", "__pycache__", "*_cache", ".ci")
RENDER_ONLY = {"FASTAPI_TEMPLATE_MODE": "render-only"}
# Network routes closed: git may only use local paths; uv and proxy-honouring HTTP clients fail.
CLOSED_PROXY = "http://127.0.0.1:9"
NO_NETWORK = {
    "GIT_ALLOW_PROTOCOL": "file",
    "UV_OFFLINE": "1",
    **dict.fromkeys(("http_proxy", "https_proxy", "all_proxy"), CLOSED_PROXY),
    **dict.fromkeys(("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"), CLOSED_PROXY),
    "no_proxy": "",
    "NO_PROXY": "",
}


def drill_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without a venv or a mode, plus a git identity (no global config)."""
    drop = {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "FASTAPI_TEMPLATE_MODE"}
    env = {key: value for key, value in os.environ.items() if key not in drop}
    env.update(GIT_IDENTITY)
    env.update(extra or {})
    return env


def git_commit_all(repo: Path, env: dict[str, str], message: str) -> None:
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-q", "--no-verify", "-m", message], repo, env)


def git_init_and_commit(repo: Path, env: dict[str, str], message: str) -> None:
    run(["git", "init", "-q", "-b", "main"], repo, env)
    git_commit_all(repo, env, message)


def template_repo(dest: Path, env: dict[str, str]) -> Path:
    """This template's working tree as a git repository with one commit: the "older revision"."""
    shutil.copytree(TEMPLATE_DIR, dest, ignore=NOT_IN_A_RELEASE)
    git_init_and_commit(dest, env, "template v1")
    return dest


def cruft_create(
    template: Path, out: Path, env: dict[str, str], context: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    args = [tool("cruft"), "create", "--no-input", str(template)]
    args += ["--extra-context", json.dumps(context), "--output-dir", str(out)]
    return run(args, template.parent, env)


def cookiecutter_bake(
    template: Path, out: Path, env: dict[str, str], context: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    args = [tool("cookiecutter"), "--no-input", "-o", str(out), str(template)]
    args += [f"{key}={value}" for key, value in context.items()]
    return run(args, template.parent, env)


def cruft_in(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """A cruft command inside a project; it may fail (`cruft check` exits 1 when out of date)."""
    return attempt([tool("cruft"), *args], project, env, timeout=300)


def with_stand_ins(
    env: dict[str, str], bin_dir: Path, log: Path, tools: tuple[str, ...] = ("uv", "docker")
) -> dict[str, str]:
    """`env` with stand-ins first on PATH: each call of one of `tools` lands in `log` and fails."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in tools:
        fake_tool(bin_dir, name, log)
    return {**env, "PATH": f"{bin_dir}{os.pathsep}{env['PATH']}"}


def file_tree(root: Path) -> dict[str, bytes]:
    """Every file under `root` (git's own folder aside) by relative path, with its bytes."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(root).parts
    }


def rejected_hunks(project: Path) -> list[str]:
    """The `.rej` files a failed three-way merge leaves behind."""
    return sorted(path.relative_to(project).as_posix() for path in project.rglob("*.rej"))


# ---------------------------------------------------------------- editing files by anchor


def insert_after_line(path: Path, starts_with: str, text: str) -> None:
    """Insert `text` (whole lines) after the first line that starts with `starts_with`."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    index = next((i for i, line in enumerate(lines) if line.lstrip().startswith(starts_with)), None)
    assert index is not None, f"{path}: no line starts with {starts_with!r}; update the drill"
    lines.insert(index + 1, text)
    path.write_text("".join(lines), encoding="utf-8")


def append_to_line(path: Path, starts_with: str, suffix: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    index = next((i for i, line in enumerate(lines) if line.startswith(starts_with)), None)
    assert index is not None, f"{path}: no line starts with {starts_with!r}; update the drill"
    lines[index] = lines[index].rstrip("\n") + suffix + "\n"
    path.write_text("".join(lines), encoding="utf-8")


def append_text(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


# ---------------------------------------------------------------- the team's edits

README_PARAGRAPH = "The orders team owns this service; questions go to #orders-oncall.\n"
INCLUDE_ROUTER = "    app.include_router(reports.router)\n"
DEPENDENCY = "httpx>=0.28.1"
ROUTE_FILE = '''"""Reports: a route the team added after baking."""

from fastapi import APIRouter

router = APIRouter(prefix="/reports", tags=["reports"])


@router.get("")
async def list_reports() -> list[str]:
    return []
'''
TEST_FILE = """from fastapi import status
from httpx import AsyncClient


async def test_reports_start_empty(client: AsyncClient) -> None:
    response = await client.get("/reports")
    assert response.status_code == status.HTTP_200_OK
    assert response.json() == []
"""


def add_route_test_readme_and_dependency(project: Path, module: str, tools: dict[str, str]) -> None:
    """A team's first months: a README paragraph, a route module wired into main.py next to the
    example's router, its test, and a dependency added with `uv add` (pyproject.toml, uv.lock)."""
    insert_after_line(project / "README.md", "# ", f"\n{README_PARAGRAPH}")
    source = project / "src" / module
    append_to_line(source / "main.py", f"from {module}.api.routes import ", ", reports")
    insert_after_line(source / "main.py", "app.include_router(items.router)", INCLUDE_ROUTER)
    (source / "api" / "routes" / "reports.py").write_text(ROUTE_FILE, encoding="utf-8")
    (project / "tests" / "test_reports.py").write_text(TEST_FILE, encoding="utf-8")
    run([tool("uv"), "add", "--no-sync", DEPENDENCY], project, tools)


# ---------------------------------------------------------------- a project's own gates

GATES = (
    ("lock", "--check"),
    ("sync", "--locked"),
    ("run", "--locked", "ruff", "check", "."),
    ("run", "--locked", "ruff", "format", "--check", "."),
    ("run", "--locked", "mypy"),
    ("run", "--locked", "pytest", "-q", "-p", "no:cacheprovider"),
    # alembic upgrade head on a throwaway database, as the post-gen hook's checklist runs it
    ("run", "--locked", "python", "-m", "tests.postgres"),
)


def failed_gates(project: Path, tools: dict[str, str]) -> list[str]:
    """Each gate that fails in `project`, with its exit code and the tail of its output."""
    failures = []
    for gate in GATES:
        result = attempt([tool("uv"), *gate], project, tools)
        if result.returncode != 0:
            tail = (result.stdout + result.stderr)[-2000:]
            failures.append(f"uv {' '.join(gate)}: exit {result.returncode}\n{tail}")
    return failures
