"""Post-generation hook: prune by the options, write `.env`, then (first bake only) lock, install
and run the checklist that fits this machine, and report what was verified and what was not.

Standard library only: it runs in the Python that cookiecutter lives in, before any venv exists.
Environment variables (all optional):
  FASTAPI_TEMPLATE_MODE    auto | production-default | local-no-docker | offline-smoke | render-only
  FASTAPI_TEMPLATE_STRICT  1 = exit non-zero when a step failed (CI); default keeps the project
  FASTAPI_TEMPLATE_REPORT  path of a JSON copy of the report
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

CONTEXT: dict[str, object] = json.loads({{cookiecutter | tojson | tojson}})

PROJECT = Path.cwd()
MODULE = str(CONTEXT["module_name"])
PYTHON_VERSION = str(CONTEXT["python_version"])
MODES = ("production-default", "local-no-docker", "offline-smoke", "render-only")

# Pruning is data: which paths belong to which option value.
PRUNE: dict[tuple[str, str], tuple[str, ...]] = {
    ("no_docker", "yes"): (
        "Dockerfile",
        ".dockerignore",
        "docker-compose.yml",
        "docs/decisions/0006-container-image-and-compose.md",
    ),
    ("no_docker", "no"): ("docs/decisions/0009-no-docker-opt-out.md",),
    ("kubernetes", "no"): ("deploy", "docs/decisions/0015-kubernetes-manifests.md"),
    ("include_example", "no"): (
        f"src/{MODULE}/api/routes/items.py",
        f"src/{MODULE}/models/item.py",
        f"src/{MODULE}/schemas/item.py",
        "tests/test_items.py",
        "alembic/versions/20260101_0002_create_items.py",
    ),
}


def prune() -> list[str]:
    removed = []
    for (option, value), paths in PRUNE.items():
        if CONTEXT.get(option) != value:
            continue
        for relative in paths:
            path = PROJECT / relative
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
            else:
                continue
            removed.append(relative)
    return removed


def write_env_file() -> None:
    """`.env` holds the only copy of the database password; git and Docker ignore it."""
    url = urllib.parse.urlsplit(str(CONTEXT["database_url"]))
    lines = [
        "# Local settings; never commit this file (see .env.example for every setting).",
        f"DATABASE_URL={CONTEXT['database_url']}",
    ]
    if CONTEXT["no_docker"] == "no":
        lines += [
            "# The compose stack's database container, and the URL the API uses in it.",
            f"POSTGRES_USER={url.username or ''}",
            f"POSTGRES_PASSWORD={url.password or ''}",
            f"POSTGRES_DB={url.path.lstrip('/')}",
        ]
    (PROJECT / ".env").write_text("\n".join(lines) + "\n", encoding="utf-8")


# ---------------------------------------------------------------- first bake or re-render


def is_rerender() -> bool:
    """cruft renders without `_output_dir`; `cruft update` renders into fresh temporary folders.
    The pre-gen hook's is_first_bake() is the same rule."""
    if os.environ.get("FASTAPI_TEMPLATE_MODE") == "render-only":
        return True
    if "_output_dir" in CONTEXT:
        return False
    parent = PROJECT.parent
    return parent.parent == Path(tempfile.gettempdir()).resolve() and parent.name.startswith("tmp")


# ---------------------------------------------------------------- steps and report


@dataclass
class Step:
    name: str
    command: list[str]
    status: str = "pending"  # passed | failed | skipped
    started: float = 0.0  # seconds since the epoch
    seconds: float = 0.0
    reason: str = ""
    output: str = ""

    @property
    def later(self) -> str:
        """The command as a person would type it in the project folder."""
        return " ".join([Path(self.command[0]).name, *self.command[1:]])


@dataclass
class Report:
    mode: str
    why: str
    steps: list[Step] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)

    def skip(self, step: Step, reason: str) -> None:
        step.status, step.reason = "skipped", reason
        self.steps.append(step)

    def run(self, step: Step, env: dict[str, str] | None = None, timeout: float = 600) -> bool:
        execute(step, env, timeout)
        self.steps.append(step)
        return step.status == "passed"

    def run_together(self, steps: list[Step], env: dict[str, str]) -> None:
        """Independent checks at once (mypy is CPU-bound, the tests mostly wait on PostgreSQL and
        on a server shutting down); reported in the order given."""
        with ThreadPoolExecutor(max_workers=len(steps)) as pool:
            list(pool.map(lambda step: execute(step, env, 600), steps))
        self.steps.extend(steps)

    def check(self, name: str, ok: bool, reason: str) -> bool:
        status = "passed" if ok else "failed"
        self.steps.append(Step(name, [], status=status, reason="" if ok else reason))
        return ok

    @property
    def failed(self) -> list[Step]:
        return [step for step in self.steps if step.status == "failed"]

    def print(self) -> None:
        print(f"\nChecklist for {PROJECT.name}: mode {self.mode} ({self.why})")
        for step in self.steps:
            line = f"  [{step.status:>7}] {step.name:<28} {step.seconds:6.1f}s"
            if step.reason:
                line += f"  {step.reason}"
            print(line)
            if step.status != "passed" and step.command:
                print(f"            run later: {step.later}")
        verified = sum(step.status == "passed" for step in self.steps)
        print(
            f"  {verified} passed, {len(self.failed)} failed, "
            f"{len(self.steps) - verified - len(self.failed)} skipped"
        )
        if self.next_steps:
            print("Next steps:")
            for line in self.next_steps:
                print(f"  {line}")

    def to_json(self) -> str:
        data = {
            "project": str(PROJECT),
            "mode": self.mode,
            "why": self.why,
            "steps": [asdict(step) for step in self.steps],
            "next_steps": self.next_steps,
        }
        return json.dumps(data, indent=2)


def execute(step: Step, env: dict[str, str] | None, timeout: float) -> None:
    """Run one step in the project folder; record its status, time, reason and output tail."""
    step.started = time.time()
    started = time.monotonic()
    try:
        result = subprocess.run(
            step.command,
            cwd=PROJECT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        step.status, step.reason = "failed", f"{type(exc).__name__}: {exc}"
    else:
        step.output = (result.stdout + result.stderr)[-4000:]
        if result.returncode == 0:
            step.status = "passed"
        else:
            step.status = "failed"
            last = step.output.strip().splitlines()[-1:] or [""]
            step.reason = f"exit {result.returncode}: {last[0][:300]}"
    step.seconds = time.monotonic() - started


# ---------------------------------------------------------------- machine detection


def tool_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("UV_PYTHON_DOWNLOADS", "never")
    env.pop("VIRTUAL_ENV", None)  # the project's own .venv, not the caller's
    return env


def answers(command: list[str], timeout: float = 10) -> bool:
    try:
        result = subprocess.run(
            command, capture_output=True, timeout=timeout, check=False, env=tool_env()
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def engine_answers() -> bool:
    """A Docker client alone is not enough: `docker info` fails unless an engine answers."""
    return shutil.which("docker") is not None and answers(["docker", "info"])


def find_uv() -> str | None:
    """The uv binary. A pyenv shim for it fails inside this project, whose .python-version may
    name another Python than the one uv was installed into, so resolve the shim once."""
    found = shutil.which("uv")
    pyenv = shutil.which("pyenv")
    if found is None or pyenv is None or Path(found).parent.name != "shims":
        return found
    try:
        real = subprocess.run(
            [pyenv, "which", "uv"], cwd="/", capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return found
    return real or found


def pyenv_python() -> str | None:
    """pyenv's interpreter for the version: its shims fail outside a folder that pins it."""
    pyenv = shutil.which("pyenv")
    if pyenv is None:
        return None
    try:
        prefix = subprocess.run(
            [pyenv, "prefix", PYTHON_VERSION], capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    candidate = Path(prefix) / "bin" / f"python{PYTHON_VERSION}"
    return str(candidate) if prefix and candidate.is_file() else None


def python_for_uv(uv: str) -> bool:
    """Whether uv can use a Python of the version; a pyenv one is handed to uv via UV_PYTHON."""
    if answers([uv, "python", "find", PYTHON_VERSION]):
        return True
    found = pyenv_python()
    if found:
        os.environ["UV_PYTHON"] = found
    return found is not None


def choose_mode() -> tuple[str, str]:
    requested = os.environ.get("FASTAPI_TEMPLATE_MODE", "auto")
    uv = find_uv()
    if uv is not None and "UV_PYTHON" not in os.environ:
        has_python = python_for_uv(uv)
    else:
        has_python = uv is not None
    if requested in MODES:
        return requested, "chosen by FASTAPI_TEMPLATE_MODE"
    if uv is None:
        return "offline-smoke", "uv is not on PATH"
    if not has_python:
        return "offline-smoke", f"uv finds no Python {PYTHON_VERSION}"
    if CONTEXT["no_docker"] == "yes":
        return "local-no-docker", "no_docker=yes"
    return "production-default", "no_docker=no"


# ---------------------------------------------------------------- checklists


def uv_steps(report: Report) -> bool:
    uv = find_uv() or "uv"
    env = tool_env()
    if not report.run(Step("uv lock", [uv, "lock"]), env):
        return False
    sync = [uv, "sync", "--locked"]
    if env.get("PYTHONDONTWRITEBYTECODE"):
        # Then no Python process caches what it compiles, and every tool run (mypy, pytest, the
        # app) compiles its dependencies again: compile them once, here (seconds, not per run).
        sync.append("--compile-bytecode")
    return report.run(Step("uv sync", sync), env)


def quality_steps(report: Report, installed: bool) -> None:
    uv = find_uv() or "uv"
    lint = [
        Step("ruff check", [uv, "run", "--locked", "ruff", "check", "."]),
        Step("ruff format --check", [uv, "run", "--locked", "ruff", "format", "--check", "."]),
    ]
    together = [
        Step("mypy --strict", [uv, "run", "--locked", "mypy"]),
        Step("pytest", [uv, "run", "--locked", "pytest", "-q"]),
        # On a throwaway database of the server the tests use: never the team's own database.
        Step("alembic upgrade head", [uv, "run", "--locked", "python", "-m", "tests.postgres"]),
    ]
    if not installed:
        for step in lint + together:
            report.skip(step, "dependencies are not installed (uv lock/sync did not pass)")
        return
    for step in lint:
        report.run(step, tool_env())
    report.run_together(together, tool_env())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def http_ok(url: str, attempts: int = 30) -> bool:
    for _ in range(attempts):
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(1)
    return False


def container_steps(report: Report) -> None:
    name = str(CONTEXT["project_name"])
    compose_project = f"{name}-check-{uuid.uuid4().hex[:8]}"
    api_port, db_port = free_port(), free_port()
    env = {**tool_env(), "API_PORT": str(api_port), "POSTGRES_PORT": str(db_port)}
    compose = ["docker", "compose", "-p", compose_project]
    steps = [
        Step("docker build", ["docker", "build", "-t", f"{name}:local", "."]),
        Step(
            "docker compose up",
            [*compose, "up", "-d", "--build", "--wait", "--wait-timeout", "180"],
        ),
        Step("docker compose ps", [*compose, "ps"]),
    ]
    if not engine_answers():
        for step in steps:
            report.skip(step, "no Docker engine answers")
        report.skip(
            Step("smoke request", ["curl", "-fsS", "http://127.0.0.1:8000/readyz"]),
            "no Docker engine answers",
        )
        return
    try:
        for step in steps:
            if not report.run(step, env, timeout=900):
                break
        else:
            started = time.monotonic()
            ok = http_ok(f"http://127.0.0.1:{api_port}/healthz") and http_ok(
                f"http://127.0.0.1:{api_port}/readyz"
            )
            report.check("smoke request /healthz /readyz", ok, "no 200 from the API")
            report.steps[-1].seconds = time.monotonic() - started
    finally:
        report.run(Step("docker compose down", [*compose, "down", "-v", "--rmi", "local"]), env)
        # Some engines (podman's Docker API) keep compose-built images after `down --rmi local`.
        leftovers = [f"{name}:local", f"{compose_project}-api", f"{compose_project}-migrate"]
        answers(["docker", "image", "rm", *leftovers], timeout=120)


NOT_RUN_OFFLINE = (
    Step("uv lock", ["uv", "lock"]),
    Step("uv sync", ["uv", "sync", "--locked"]),
    Step("ruff check", ["uv", "run", "ruff", "check", "."]),
    Step("ruff format --check", ["uv", "run", "ruff", "format", "--check", "."]),
    Step("mypy --strict", ["uv", "run", "mypy"]),
    Step("pytest", ["uv", "run", "pytest"]),
    Step("alembic upgrade head", ["uv", "run", "python", "-m", "tests.postgres"]),
)


def offline_steps(report: Report) -> None:
    report.run(Step("compileall src", [sys.executable, "-m", "compileall", "-q", "src"]))
    if CONTEXT["no_docker"] == "no":
        missing = [
            p
            for p in ("Dockerfile", ".dockerignore", "docker-compose.yml")
            if not (PROJECT / p).is_file()
        ]
        report.check("Docker artefacts present", not missing, f"missing: {', '.join(missing)}")
    for step in NOT_RUN_OFFLINE:
        report.skip(Step(step.name, step.command), report.why)


def git_init() -> None:
    git = shutil.which("git")
    if git is None or answers([git, "-C", str(PROJECT), "rev-parse", "--is-inside-work-tree"]):
        return
    subprocess.run([git, "init", "-q", str(PROJECT)], check=False, capture_output=True)


# ---------------------------------------------------------------- the first week


def development_database_steps(report: Report, uv: str, module: str, installed: bool) -> None:
    """Create and migrate the database in DATABASE_URL (`.env`) when its server lets us, so the
    README's `uv run alembic upgrade head` and the server work at once. A server that does not
    answer or refuses is a skip with the command to run later, never a failed bake."""
    create_module = f"{module}.db.create_database"
    steps = [
        Step("create development db", [uv, "run", "--locked", "python", "-m", create_module]),
        Step("migrate development db", [uv, "run", "--locked", "alembic", "upgrade", "head"]),
    ]
    reason = "" if installed else "dependencies are not installed (uv lock/sync did not pass)"
    for step in steps:
        if reason:
            report.skip(step, reason)
            continue
        execute(step, tool_env(), 120)
        if step.status != "passed":
            step.status = "skipped"  # its reason is the server's answer
            reason = "the development database is not there"
        report.steps.append(step)


def git_in(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    git = shutil.which("git") or "git"
    return subprocess.run(
        [git, "-C", str(project), *args], capture_output=True, text=True, check=False
    )


def git_identity(project: Path) -> bool:
    """Whether a commit gets a configured author (never git's guess from the host name)."""
    name = git_in(project, "config", "user.name").stdout.strip() or os.environ.get(
        "GIT_AUTHOR_NAME"
    )
    email = git_in(project, "config", "user.email").stdout.strip() or os.environ.get(
        "GIT_AUTHOR_EMAIL"
    )
    return bool(name and email)


def first_commit(report: Report, project: Path) -> None:
    """Commit the baked project (`cruft update` needs a commit to diff against) when git has an
    identity; otherwise the report says what to run. Never in a repository the user already had."""
    message = "Bake the project from fastapi-service-template"
    later = ["git", "add", "-A", "&&", "git", "commit", "-m", f"'{message}'"]
    step = Step("first git commit", later)
    if shutil.which("git") is None:
        report.skip(step, "git is not installed")
        return
    top = git_in(project, "rev-parse", "--show-toplevel")
    if top.returncode != 0 or Path(top.stdout.strip()).resolve() != project.resolve():
        report.skip(step, "the project is inside another git repository: commit it there")
        return
    if git_in(project, "rev-parse", "--verify", "-q", "HEAD").returncode == 0:
        report.skip(step, "the repository already has commits")
        return
    if not git_identity(project):
        report.skip(step, "git has no identity: git config --global user.name/user.email")
        return
    started = time.monotonic()
    result = git_in(project, "add", "-A")
    if result.returncode == 0:
        result = git_in(project, "commit", "-q", "--no-verify", "-m", message)
    step.seconds = time.monotonic() - started
    if result.returncode == 0:
        step.status = "passed"
        report.steps.append(step)
    else:
        last = result.stderr.strip().splitlines()[-1:] or [f"exit {result.returncode}"]
        report.skip(step, last[0][:300])


def run_checklist() -> Report:
    mode, why = choose_mode()
    report = Report(mode, why)
    if mode == "offline-smoke":
        offline_steps(report)
    else:
        installed = uv_steps(report)
        quality_steps(report, installed)
        development_database_steps(report, find_uv() or "uv", MODULE, installed)
        if mode == "production-default":
            container_steps(report)
    report.next_steps = next_steps()
    return report


def next_steps() -> list[str]:
    steps = [f"cd {PROJECT.name}"]
    if CONTEXT["no_docker"] == "no":
        steps.append("docker compose up --build   # database, migrations, API on :8000")
    steps += [
        "uv run pytest                 # tests on a real PostgreSQL",
        "uv run uvicorn " + MODULE + ".main:app --reload",
    ]
    return steps


def main() -> int:
    removed = prune()
    write_env_file()
    if is_rerender():
        return 0
    if removed:
        print(f"Pruned by the options: {', '.join(removed)}")
    git_init()
    report = run_checklist()
    first_commit(report, PROJECT)
    report.print()
    report_path = os.environ.get("FASTAPI_TEMPLATE_REPORT")
    if report_path:
        Path(report_path).write_text(report.to_json(), encoding="utf-8")
    strict = os.environ.get("FASTAPI_TEMPLATE_STRICT") == "1"
    return 1 if strict and report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
