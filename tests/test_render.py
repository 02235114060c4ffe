"""Render tier: every combination renders, with exactly the files its options call for."""

from __future__ import annotations

import configparser
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.bake import ALL_COMBINATIONS, combination_id

DOCKER_FILES = ("Dockerfile", ".dockerignore", "docker-compose.yml")
EXAMPLE_FILES = (
    "src/{module}/api/routes/items.py",
    "src/{module}/models/item.py",
    "src/{module}/schemas/item.py",
    "tests/test_items.py",
    "alembic/versions/20260101_0002_create_items.py",
)
AUTH_FILES = (
    "src/{module}/auth/__init__.py",
    "src/{module}/auth/keys.py",
    "src/{module}/auth/verify.py",
    "src/{module}/auth/token_cache.py",
    "src/{module}/auth/dev_token.py",
    "tests/issuer.py",
    "tests/test_auth.py",
    "tests/test_token_cache.py",
    "tests/test_routes_are_secured.py",
    "docs/decisions/0028-identity-bearer-tokens.md",
    "docs/decisions/0032-verified-token-cache.md",
)
JOBS_FILES = (
    "src/{module}/jobs/queue.py",
    "src/{module}/jobs/worker.py",
    "src/{module}/worker.py",
    "src/{module}/models/job.py",
    "tests/test_jobs.py",
    "alembic/versions/20261202_t0004_create_jobs.py",
    "docs/decisions/0031-background-jobs-in-postgresql.md",
)
PROCESSED_AT = "alembic/versions/20261202_t0005_add_items_processed_at.py"
ALWAYS = (
    "pyproject.toml",
    ".python-version",
    ".gitignore",
    ".env",
    ".env.example",
    "README.md",
    "alembic.ini",
    "alembic/env.py",
    "alembic/versions/20260101_0001_initial.py",
    "alembic/versions/20261201_t0003_create_idempotency_keys.py",
    "alembic/merge_heads.py",
    "src/{module}/main.py",
    "src/{module}/api/routes/health.py",
    "src/{module}/core/config.py",
    "src/{module}/db/base.py",
    "src/{module}/db/session.py",
    "tests/conftest.py",
    ".github/workflows/ci.yml",
    "docs/decisions/README.md",
)
GITHUB_EXPRESSION = re.compile(r"\$\{\{ [^}]+ \}\}")
UNRENDERED = re.compile(r"\{\{|\{%|\{#|cookiecutter\.")
# What the example resource's modules are called and export.
# What background jobs add to shared files: their imports, settings and the example's column.
JOBS_REFERENCE = re.compile(
    r"\bjobs\.|\benqueue\b|processed_at|\bJOB_\w+|WORKER_PORT|worker-deployment|worker-pdb"
)
EXAMPLE_REFERENCE = re.compile(r"\bitems\b(?!\(\))|\bmodels\.item\b|\bschemas\.item\b|\bItem\w*\b")


def text_files(project: Path) -> list[Path]:
    skip = {".venv", ".git", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
    return [
        path
        for path in project.rglob("*")
        if path.is_file() and not skip.intersection(path.relative_to(project).parts)
    ]


@pytest.fixture(scope="module", params=ALL_COMBINATIONS, ids=combination_id)
def rendered(request: pytest.FixtureRequest, render) -> tuple[Path, dict[str, str]]:
    return render(**request.param), request.param


def test_files_follow_the_options(rendered: tuple[Path, dict[str, str]]) -> None:
    project, context = rendered
    module = "my_service"
    for relative in ALWAYS:
        assert (project / relative.format(module=module)).is_file(), relative
    for relative in DOCKER_FILES:
        assert (project / relative).exists() == (context["no_docker"] == "no"), relative
    for relative in EXAMPLE_FILES:
        path = project / relative.format(module=module)
        assert path.exists() == (context["include_example"] == "yes"), relative
    for relative in AUTH_FILES:
        path = project / relative.format(module=module)
        assert path.exists() == (context["auth"] == "oidc"), relative
    for relative in JOBS_FILES:
        path = project / relative.format(module=module)
        assert path.exists() == (context["background_jobs"] == "yes"), relative
    both = context["include_example"] == context["background_jobs"] == "yes"
    assert (project / PROCESSED_AT).exists() == both
    opt_out = project / "docs/decisions/0009-no-docker-opt-out.md"
    assert opt_out.exists() == (context["no_docker"] == "yes")
    assert (project / ".python-version").read_text().strip() == context["python_version"]


def test_nothing_is_left_unrendered(rendered: tuple[Path, dict[str, str]]) -> None:
    project, _ = rendered
    for path in text_files(project):
        text = GITHUB_EXPRESSION.sub("", path.read_text(encoding="utf-8"))
        if path.name == "script.py.mako":
            continue  # Alembic's own template language, rendered at `alembic revision` time
        leftover = UNRENDERED.search(text)
        assert leftover is None, f"{path.relative_to(project)}: {leftover}"


def test_github_expressions_survive_rendering(rendered: tuple[Path, dict[str, str]]) -> None:
    project, _ = rendered
    workflow = (project / ".github/workflows/ci.yml").read_text()
    assert GITHUB_EXPRESSION.search(workflow), "ci.yml lost its ${{ }} expressions"


def test_every_config_file_parses(rendered: tuple[Path, dict[str, str]]) -> None:
    project, _ = rendered
    parsed = 0
    for path in text_files(project):
        if path.suffix in {".yml", ".yaml"}:
            yaml.safe_load(path.read_text())
        elif path.suffix == ".toml":
            tomllib.loads(path.read_text())
        elif path.suffix == ".ini":
            configparser.ConfigParser().read_string(path.read_text())
        else:
            continue
        parsed += 1
    assert parsed >= 3


def test_pruned_features_leave_no_reference(rendered: tuple[Path, dict[str, str]]) -> None:
    project, context = rendered
    texts = {path: path.read_text(encoding="utf-8") for path in text_files(project)}
    if context["include_example"] == "no":
        for path, text in texts.items():
            if path.suffix == ".py":
                assert not EXAMPLE_REFERENCE.search(text), path
    if context["auth"] == "none":
        for path, text in texts.items():
            assert "OIDC_" not in text, path
            assert ".auth import" not in text, path
            assert "0028" not in text, path
    if context["background_jobs"] == "no":
        for path, text in texts.items():
            assert not JOBS_REFERENCE.search(text), path.relative_to(project)
    if context["no_docker"] == "yes":
        for path, text in texts.items():
            if path.name == "0009-no-docker-opt-out.md":
                continue
            for name in DOCKER_FILES:
                assert name not in text, f"{path.relative_to(project)} mentions {name}"
            assert "docker compose" not in text.lower(), path


def test_module_name_follows_the_project_name(render) -> None:
    project = render(project_name="orders-api")
    assert (project / "src/orders_api/main.py").is_file()
    assert 'name = "orders-api"' in (project / "pyproject.toml").read_text()
