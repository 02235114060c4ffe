"""Static tier: container and CI artefacts of every baked variant, and the template repository's own
.github, checked offline with the real validators (hadolint, Compose, actionlint + shellcheck,
zizmor, check-jsonschema) and by reading what they mean. About a second per variant."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from tests.bake import TEMPLATE_DIR, Baked, bakes_where, combination_params
from tests.validators import (
    VALIDATORS,
    copied_from_context,
    dev_requirements,
    dockerfile_stages,
    dockerignore_rules,
    excluded,
    gate_commands,
    hygiene_problems,
    instructions,
    load_yaml,
    module_name,
    output,
    run,
    steps,
    tool,
)

DOCKER_VARIANTS = bakes_where(no_docker="no")
DOCKER_ARTEFACTS = ("Dockerfile", ".dockerignore", "docker-compose.yml")
with_docker = pytest.mark.parametrize("baked", combination_params(DOCKER_VARIANTS), indirect=True)


def test_validators_run_and_report_versions(record_property: pytest.RecordProperty) -> None:
    """The versions behind every verdict below (shown with `-rP`, and in JUnit XML)."""
    versions = {}
    for name, args in VALIDATORS.items():
        result = run(tool(name), *args, cwd=TEMPLATE_DIR)
        assert result.returncode == 0, output(result)
        lines = (result.stdout or result.stderr).strip().splitlines()
        versions[name] = next(line for line in lines if re.search(r"\d+\.\d+", line))
        record_property(name, versions[name])
    print("\n".join(f"{name}: {version}" for name, version in versions.items()))


# ---------------------------------------------------------------- what each variant has


def test_docker_artefacts_follow_the_option(baked: Baked) -> None:
    docker = baked.context["no_docker"] == "no"
    for name in DOCKER_ARTEFACTS:
        assert (baked.path / name).is_file() is docker, name
    workflow = load_yaml(baked.path / ".github/workflows/ci.yml")
    assert ("image" in workflow["jobs"]) is docker
    ecosystems = {
        update["package-ecosystem"]
        for update in yaml.safe_load((baked.path / ".github/dependabot.yml").read_text())["updates"]
    }
    expected = {"uv", "github-actions"} | ({"docker", "docker-compose"} if docker else set())
    assert ecosystems == expected


# ---------------------------------------------------------------- Dockerfile


@with_docker
def test_hadolint_is_clean(baked: Baked) -> None:
    result = run(tool("hadolint"), "--no-color", "Dockerfile", cwd=baked.path)
    assert result.returncode == 0, output(result)


@with_docker
def test_dockerfile_builds_a_lean_non_root_image(baked: Baked) -> None:
    stages = dockerfile_stages((baked.path / "Dockerfile").read_text())
    runtime = stages[-1]
    python = baked.context["python_version"]
    assert runtime[0].arguments.startswith(f"python:{python}-slim-trixie")
    # Dependencies in their own cached layer, with absolute bind-mount targets (buildah).
    runs = [item.arguments for stage in stages for item in instructions(stage, "RUN")]
    dependency_layer = next(line for line in runs if "--no-install-project" in line)
    assert "uv sync --locked" in dependency_layer
    assert "--no-default-groups" in dependency_layer
    for target in re.findall(r"target=([^\s,]+)", dependency_layer):
        assert target.startswith("/"), target
    assert any("--no-editable" in line and "--no-default-groups" in line for line in runs)
    # Runtime: numeric non-root user, healthcheck buildah accepts, exec-form serve command.
    user = instructions(runtime, "USER")[-1].arguments.split(":")[0]
    assert user.isdigit()
    assert int(user) != 0
    (healthcheck,) = instructions(runtime, "HEALTHCHECK")
    assert "--start-period" in healthcheck.arguments
    assert "--start-interval" not in healthcheck.arguments
    assert "/healthz" in healthcheck.arguments
    command = instructions(runtime, "CMD")[-1].exec_form()
    assert command == ["python", "-m", f"{module_name(baked.path)}.serve"]
    copied = {source for sources, _ in copied_from_context(runtime) for source in sources}
    assert {"alembic.ini", "alembic"} <= copied
    # No secret baked into a layer: DATABASE_URL arrives only at run time.
    for item in (item for stage in stages for item in stage):
        assert "DATABASE_URL" not in item.arguments, item
        assert "PASSWORD" not in item.arguments.upper(), item


@with_docker
def test_dockerignore_keeps_secrets_tests_and_caches_out(baked: Baked) -> None:
    rules = dockerignore_rules((baked.path / ".dockerignore").read_text())
    for path in (
        ".env",
        ".venv/bin/python",
        ".git/config",
        "tests/conftest.py",
        "docs/x.md",
        f"src/{module_name(baked.path)}/__pycache__/main.cpython-312.pyc",
    ):
        assert excluded(rules, path), path
    stages = dockerfile_stages((baked.path / "Dockerfile").read_text())
    needed = [
        source
        for stage in stages
        for sources, _ in copied_from_context(stage)
        for source in sources
    ]
    needed += ["uv.lock", "pyproject.toml"]  # bind-mounted for the dependency layer
    for source in needed:
        assert (baked.path / source).exists(), source
        assert not excluded(rules, source), source
    inside = [p.relative_to(baked.path).as_posix() for p in (baked.path / "src").rglob("*.py")]
    assert inside
    assert not any(excluded(rules, path) for path in inside)


# ---------------------------------------------------------------- Compose


def compose_model(baked: Baked) -> dict:
    result = run(
        tool("docker-compose"),
        "-f",
        "docker-compose.yml",
        "config",
        "--format",
        "json",
        cwd=baked.path,
    )
    assert result.returncode == 0, output(result)
    return json.loads(result.stdout)


@with_docker
def test_compose_config_is_valid_and_builds_from_existing_paths(baked: Baked) -> None:
    assert (baked.path / ".env").is_file()  # the bake's credentials, as `docker compose` reads
    result = run(tool("docker-compose"), "-f", "docker-compose.yml", "config", "-q", cwd=baked.path)
    assert result.returncode == 0, output(result)
    assert not result.stderr.strip(), result.stderr  # no warnings either
    schema = run(
        tool("check-jsonschema"),
        "--builtin-schema",
        "vendor.compose-spec",
        "docker-compose.yml",
        cwd=baked.path,
    )
    assert schema.returncode == 0, output(schema)
    builds = [
        service["build"]
        for service in compose_model(baked)["services"].values()
        if "build" in service
    ]
    assert builds
    for build in builds:  # Compose's `config` does not check these
        assert Path(build["context"]).is_dir()
        assert (Path(build["context"]) / build.get("dockerfile", "Dockerfile")).is_file()


@with_docker
def test_compose_runs_migrations_before_the_api(baked: Baked) -> None:
    services = compose_model(baked)["services"]
    db, migrate, api = services["db"], services["migrate"], services["api"]
    assert re.fullmatch(r"postgres:16(\.\d+)*(-alpine)?", db["image"]), db["image"]
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert any(volume["type"] == "volume" for volume in db["volumes"])
    assert migrate["command"] == ["alembic", "upgrade", "head"]
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    assert api["depends_on"]["db"]["condition"] == "service_healthy"
    assert api["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert api["environment"]["DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert "@db:5432/" in api["environment"]["DATABASE_URL"]
    for service in services.values():
        for port in service.get("ports", []):
            assert port["host_ip"] == "127.0.0.1", port


@with_docker
def test_compose_file_takes_the_password_from_the_environment(baked: Baked) -> None:
    raw = yaml.safe_load((baked.path / "docker-compose.yml").read_text())
    db_password = raw["services"]["db"]["environment"]["POSTGRES_PASSWORD"]
    assert db_password.startswith("${POSTGRES_PASSWORD:?")
    assert ":${POSTGRES_PASSWORD" in raw["x-app"]["environment"]["DATABASE_URL"]
    assert "version" not in raw


# ---------------------------------------------------------------- GitHub Actions


def github_checks(root: Path) -> None:
    """actionlint (+ shellcheck), the workflow and dependabot schemas, zizmor: all clean."""
    workflows = sorted(str(p) for p in (root / ".github/workflows").glob("*.yml"))
    assert workflows
    checks = [
        [
            tool("actionlint"),
            "-no-color",
            "-oneline",
            f"-shellcheck={tool('shellcheck')}",
            *workflows,
        ],
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *workflows],
        [
            tool("check-jsonschema"),
            "--builtin-schema",
            "vendor.dependabot",
            str(root / ".github/dependabot.yml"),
        ],
        [tool("zizmor"), "--offline", "--strict-collection", "--no-progress", f"{root}/.github"],
    ]
    for command in checks:
        result = run(*command, cwd=root)
        assert result.returncode == 0, f"{' '.join(command)}\n{output(result)}"


def test_github_files_pass_every_validator(baked: Baked) -> None:
    github_checks(baked.path)


def test_pre_commit_config_passes_zizmor(baked: Baked) -> None:
    result = run(
        tool("zizmor"),
        "--offline",
        "--strict-collection",
        "--no-progress",
        "--collect=pre-commit",
        ".",
        cwd=baked.path,
    )
    assert result.returncode == 0, output(result)
    assert "pre-commit-config.yaml" in result.stderr  # it was really audited


def test_template_repository_github_files_pass_every_validator() -> None:
    github_checks(TEMPLATE_DIR)


def runs(gate: str, commands: list[str]) -> bool:
    return any(gate in command for command in commands)


@pytest.mark.parametrize(
    "step",
    [
        {"run": "echo uv run mypy"},
        {"run": "uv run mypy || true"},
        {"run": "uv run mypy; true"},
        {"run": "uv run mypy", "continue-on-error": True},
        {"run": "uv run mypy", "if": False},
        {"run": "# uv run mypy\nuv sync"},
    ],
    ids=["echoed", "or-true", "then-true", "continue-on-error", "if-false", "comment"],
)
def test_a_gate_that_cannot_fail_is_not_counted(step: dict[str, object]) -> None:
    workflow = {"jobs": {"lint": {"steps": [{"run": "uv sync --locked"}, step]}}}
    assert not runs("mypy", gate_commands(workflow))
    assert runs("mypy", gate_commands({"jobs": {"lint": {"steps": [{"run": "uv run mypy"}]}}}))


def test_baked_ci_runs_every_gate_with_least_privilege(baked: Baked) -> None:
    workflow = load_yaml(baked.path / ".github/workflows/ci.yml")
    assert hygiene_problems(workflow) == []
    commands = gate_commands(workflow)
    for gate in (
        "ruff check",
        "ruff format --check",
        "mypy",
        "pytest",
        "alembic upgrade head",
        "alembic check",
        "pip-audit",
        "cruft check",
        "pre-commit run --all-files --color=never check-merge-conflict",
        "pre-commit run --all-files --color=never no-rejected-hunks",
    ):
        assert runs(gate, commands), gate
    test_job = workflow["jobs"]["test"]
    assert test_job["services"]["postgres"]["image"].startswith("postgres:16")
    assert "TEST_DATABASE_URL" in test_job["env"]
    cruft = next(step for step in steps(workflow) if "cruft check" in str(step.get("run")))
    assert "hashFiles('.cruft.json')" in cruft["if"]
    text = (baked.path / ".github/workflows/ci.yml").read_text()
    assert "${{ github.workflow }}" in text  # GitHub expressions survived Jinja
    if baked.context["no_docker"] == "no":
        image_steps = workflow["jobs"]["image"]["steps"]
        uses = [str(step.get("uses")) for step in image_steps]
        assert "docker/build-push-action@v7" in uses
        build = next(step for step in image_steps if "build-push-action" in str(step.get("uses")))
        assert build["with"]["cache-from"] == "type=gha"
        assert build["with"]["push"] is False
        assert runs("hadolint", gate_commands({"jobs": {"image": workflow["jobs"]["image"]}}))


def test_template_ci_runs_the_suite_on_every_supported_python() -> None:
    workflow = load_yaml(TEMPLATE_DIR / ".github/workflows/ci.yml")
    assert hygiene_problems(workflow) == []
    test_job = workflow["jobs"]["test"]
    assert test_job["strategy"]["matrix"]["python"] == ["3.11", "3.12", "3.13"]
    assert test_job["services"]["postgres"]["image"].startswith("postgres:16")
    commands = gate_commands(workflow)
    for gate in (
        "pytest",
        "-m smoke",
        "ruff check",
        "ruff format --check",
        "python3.10 -m py_compile hooks/",
    ):
        assert runs(gate, commands), gate


# Actions that publish no moving major tag (setup-uv since v8): pinned to a full release instead.
FULL_VERSION_ONLY = {"astral-sh/setup-uv"}


def action_pins(workflow_root: Path) -> dict[str, set[str]]:
    pins: dict[str, set[str]] = {}
    for path in sorted((workflow_root / ".github/workflows").glob("*.yml")):
        for step in steps(load_yaml(path)):
            action, _, ref = str(step.get("uses", "")).partition("@")
            if action:
                pins.setdefault(action, set()).add(ref)
    return pins


@pytest.mark.parametrize("where", ["template", "baked"])
def test_actions_are_pinned_to_tags_dependabot_moves(render, where: str) -> None:
    root = TEMPLATE_DIR if where == "template" else render(project_name="pins-check")
    pins = action_pins(root)
    assert "actions/checkout" in pins
    assert "astral-sh/setup-uv" in pins
    for action, refs in pins.items():
        assert len(refs) == 1, f"{action} is pinned to several versions: {refs}"
        (ref,) = refs
        shape = r"v\d+\.\d+\.\d+" if action in FULL_VERSION_ONLY else r"v\d+"
        assert re.fullmatch(shape, ref), f"{action}@{ref}: expected a tag like {shape}"


@pytest.mark.parametrize("where", ["template", "baked"])
def test_dependabot_groups_minor_and_patch_per_ecosystem(render, where: str) -> None:
    root = TEMPLATE_DIR if where == "template" else render(project_name="groups-check")
    updates = load_yaml(root / ".github/dependabot.yml")["updates"]
    assert {update["package-ecosystem"] for update in updates} >= {"uv", "github-actions"}
    for update in updates:
        groups = update.get("groups", {})
        assert [group["update-types"] for group in groups.values()] == [["minor", "patch"]], update[
            "package-ecosystem"
        ]


# ---------------------------------------------------------------- secrets


@pytest.mark.parametrize("no_docker", ["no", "yes"])
def test_database_password_lands_only_in_dot_env(render, no_docker: str) -> None:
    """The bake generates the local password (a typed one is refused: cruft would record it)."""
    path = render(
        project_name="secret-check",
        no_docker=no_docker,
        kubernetes="no" if no_docker == "yes" else "yes",
        database_url="postgresql+asyncpg://svc@localhost:5432/orders",
    )
    env = dict(
        line.split("=", 1)
        for line in (path / ".env").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    if no_docker == "yes":
        assert env["DATABASE_URL"] == "postgresql+asyncpg://svc@localhost:5432/orders"
        return
    secret = env["POSTGRES_PASSWORD"]
    assert env["DATABASE_URL"] == f"postgresql+asyncpg://svc:{secret}@localhost:5432/orders"
    holders = {
        file.relative_to(path).as_posix()
        for file in path.rglob("*")
        if file.is_file() and secret.encode() in file.read_bytes()
    }
    assert holders == {".env"}


# ---------------------------------------------------------------- pre-commit


def test_pre_commit_hooks_pass_on_a_fresh_checkout(baked: Baked, tmp_path: Path) -> None:
    """`pre-commit run --all-files` in a git copy of the bake (the shared bake stays untouched)."""
    missing = {"pre_commit", "pre_commit_hooks"} - dev_requirements(baked.path)
    assert not missing, f"the baked [dependency-groups] dev lacks {missing}"
    copy = tmp_path / baked.path.name
    shutil.copytree(baked.path, copy, ignore=shutil.ignore_patterns(".venv"), symlinks=True)
    env = {**baked.env, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}
    project = Baked(copy, baked.context, env)
    for args in (("git", "init", "-q"), ("git", "add", "--all")):
        result = project.run(*args)
        assert result.returncode == 0, output(result)
    assert project.uv("sync", "--locked").returncode == 0
    result = project.uv("run", "--locked", "pre-commit", "run", "--all-files", "--color=never")
    assert result.returncode == 0, output(result)
    assert ".env" not in project.run("git", "ls-files").stdout.split()  # git-ignored
