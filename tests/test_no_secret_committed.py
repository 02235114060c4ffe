"""Cruft tier: `cruft create` (which records every answer in `.cruft.json`) leaves no password in
a file git would commit; the password the bake generated lives in `.env` only, and works."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest

from tests.bake import admin_database_url
from tests.cruft_drill import (
    RENDER_ONLY,
    attempt,
    cruft_in,
    drill_env,
    git_commit_all,
    git_init_and_commit,
    run,
    template_repo,
    tool,
)


def dot_env(project: Path) -> dict[str, str]:
    lines = (project / ".env").read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def readme_section(project: Path, heading: str) -> str:
    """The README's text under `heading`, up to the next heading of its level."""
    text = (project / "README.md").read_text(encoding="utf-8")
    return text.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]


async def admin(*statements: str) -> None:
    connection = await asyncpg.connect(admin_database_url(), timeout=5)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


async def connects(database_url: str) -> int:
    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    connection = await asyncpg.connect(dsn, timeout=5)
    try:
        return int(await connection.fetchval("SELECT 1"))
    finally:
        await connection.close()


@pytest.mark.parametrize("no_docker", ["no", "yes"])
def test_cruft_create_commits_no_password_and_dot_env_works(tmp_path: Path, no_docker: str) -> None:
    env = drill_env()
    template = template_repo(tmp_path / "template", env)
    role = f"tmpl_role_{uuid.uuid4().hex[:12]}"
    host = urlsplit(admin_database_url()).hostname
    context = {
        "no_docker": no_docker,
        "kubernetes": "no" if no_docker == "yes" else "yes",
        "database_url": f"postgresql+asyncpg://{role}@{host}:5432/{role}",
    }
    args = [tool("cruft"), "create", "--no-input", str(template), "--output-dir", str(tmp_path)]
    run([*args, "--extra-context", json.dumps(context)], tmp_path, drill_env(RENDER_ONLY))
    project = tmp_path / "my-service"

    settings = dot_env(project)
    url = urlsplit(settings["DATABASE_URL"])
    configure = readme_section(project, "## Configure")  # what it says the bake wrote into .env
    if no_docker == "yes":
        # No compose database to create: the URL is the one typed, the server's password is the
        # team's to add to .env.
        assert url.password is None
        assert "POSTGRES_PASSWORD" not in settings
        assert "which has no password" in configure
        assert "random password" not in configure
        return
    assert "random password for the compose database" in configure
    password = settings["POSTGRES_PASSWORD"]
    assert len(password) >= 32
    assert url.password == password, "DATABASE_URL must reach the compose database"

    git_init_and_commit(project, env, "baked")
    committed = run(["git", "ls-files"], project, env).stdout.split()
    assert ".cruft.json" in committed
    assert ".env" not in committed
    holders = [name for name in committed if password.encode() in (project / name).read_bytes()]
    assert holders == []

    # The local URL works: a server with this role and password answers it.
    asyncio.run(admin(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{password}'",
                      f'CREATE DATABASE "{role}" OWNER "{role}"'))  # fmt: skip
    try:
        assert asyncio.run(connects(settings["DATABASE_URL"])) == 1
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{role}" WITH (FORCE)',
                          f'DROP ROLE IF EXISTS "{role}"'))  # fmt: skip


def test_a_typed_password_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    env = drill_env(RENDER_ONLY)
    template = template_repo(tmp_path / "template", drill_env())
    out = tmp_path / "out"
    context = '{"database_url": "postgresql+asyncpg://app:typed-secret@localhost:5432/orders"}'
    args = [tool("cruft"), "create", "--no-input", str(template), "--output-dir", str(out)]
    result = attempt([*args, "--extra-context", context], tmp_path, env)
    assert result.returncode != 0
    message = result.stdout + result.stderr
    assert "database_url" in message
    assert "holds a password" in message
    # (cruft itself prints cookiecutter's FailedHookException with its traceback.)
    assert not (out / "my-service").exists()


def test_a_project_baked_with_a_typed_password_still_updates(tmp_path: Path) -> None:
    """Projects baked before passwords were refused keep theirs in `.cruft.json` (the changelog
    says to remove it): `cruft update` must not fail on it."""
    env = drill_env()
    template = template_repo(tmp_path / "template", env)
    out = tmp_path / "out"
    args = [tool("cruft"), "create", "--no-input", str(template), "--output-dir", str(out)]
    run(args, tmp_path, drill_env(RENDER_ONLY))
    project = out / "my-service"
    recorded = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))
    old_url = "postgresql+asyncpg://app:app@localhost:5432/my_service"
    recorded["context"]["cookiecutter"]["database_url"] = old_url
    (project / ".cruft.json").write_text(json.dumps(recorded, indent=2), encoding="utf-8")
    git_init_and_commit(project, env, "baked before passwords were refused")

    folder = next(path for path in template.iterdir() if path.name.startswith("{{"))
    readme = folder / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8") + "\nA line from template v2.\n")
    git_commit_all(template, env, "template v2")

    result = cruft_in(project, env, "update", "-y")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "A line from template v2." in (project / "README.md").read_text(encoding="utf-8")
