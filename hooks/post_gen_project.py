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
import secrets
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

# Filled in by cookiecutter; read in main(), so that the file imports unrendered (its unit tests).
# Percent-encoded JSON holds no quote, backslash or line break: no value can end the literal.
CONTEXT_URLENCODED = "{{ cookiecutter | tojson | urlencode }}"

Context = dict[str, object]
MODE_VARIABLE = "FASTAPI_TEMPLATE_MODE"
# The same in both hooks: "auto" detects the mode, any other value chooses it.
MODES = ("auto", "production-default", "local-no-docker", "offline-smoke", "render-only")
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def load_context() -> Context:
    """The inputs; ValueError when this file was not rendered by cookiecutter."""
    context = json.loads(urllib.parse.unquote(context_argument() or CONTEXT_URLENCODED))
    if not isinstance(context, dict):
        raise ValueError("the context is not a JSON object")
    return context


def context_argument(prefix: str = "--context=") -> str:
    """Copier runs this file unrendered, from a task that passes the context (copier.yml):
    `--context=` and the same percent-encoded JSON. Identical in both hooks."""
    given = [arg[len(prefix) :] for arg in sys.argv[1:] if arg.startswith(prefix)]
    return given[0] if given and CONTEXT_URLENCODED.startswith("{" + "{") else ""


def prune_table(module: str) -> dict[tuple[str, str], tuple[str, ...]]:
    """Pruning is data: which paths belong to which option value."""
    return {
        ("no_docker", "yes"): (
            "Dockerfile",
            ".dockerignore",
            "docker-compose.yml",
            "docs/decisions/0006-container-image-and-compose.md",
        ),
        ("no_docker", "no"): ("docs/decisions/0009-no-docker-opt-out.md",),
        ("kubernetes", "no"): ("deploy", "docs/decisions/0015-kubernetes-manifests.md"),
        ("include_example", "no"): (
            f"src/{module}/api/routes/items.py",
            f"src/{module}/models/item.py",
            f"src/{module}/schemas/item.py",
            "tests/test_items.py",
            "alembic/versions/20260101_0002_create_items.py",
            "alembic/versions/20261202_t0005_add_items_processed_at.py",
        ),
        # Background jobs (issue 22, record 0031).
        ("background_jobs", "no"): (
            f"src/{module}/jobs",
            f"src/{module}/models/job.py",
            f"src/{module}/worker.py",
            "tests/test_jobs.py",
            "alembic/versions/20261202_t0004_create_jobs.py",
            "alembic/versions/20261202_t0005_add_items_processed_at.py",
            "docs/decisions/0031-background-jobs-in-postgresql.md",
            "deploy/k8s/worker-deployment.yaml",
            "deploy/k8s/worker-pdb.yaml",
        ),
        ("auth", "none"): (
            f"src/{module}/auth",
            "tests/issuer.py",
            "tests/test_auth.py",
            "tests/test_auth_keys.py",
            "tests/test_token_cache.py",
            "tests/test_routes_are_secured.py",
            "tests/test_dev_token.py",
            "docs/decisions/0028-identity-bearer-tokens.md",
            "docs/decisions/0029-identity-failure-choices.md",
            "docs/decisions/0030-identity-library.md",
            "docs/decisions/0032-verified-token-cache.md",
        ),
    }


def prune(project: Path, context: Context) -> list[str]:
    removed = []
    for (option, value), paths in prune_table(str(context["module_name"])).items():
        if context.get(option) != value:
            continue
        for relative in paths:
            path = project / relative
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
            else:
                continue
            removed.append(relative)
    return removed


def write_env_file(project: Path, context: Context) -> None:
    """`.env` holds the only copy of the database password; git and Docker ignore it. The password
    is made here, never typed at bake time: cruft records every answer in `.cruft.json`."""
    url = urllib.parse.urlsplit(str(context["database_url"]))
    password = secrets.token_urlsafe(24)  # URL-safe: compose and DATABASE_URL use it as is
    database_url = url
    if context["no_docker"] == "no" and url.hostname in LOCAL_HOSTS:
        # The compose database, published on this machine, is created with this password.
        database_url = url._replace(netloc=f"{url.username}:{password}@{url.netloc.split('@')[-1]}")
    lines = [
        "# Local settings; never commit this file (see .env.example for every setting).",
        f"DATABASE_URL={database_url.geturl()}",
    ]
    if database_url.password is None:
        lines.insert(1, "# Add your server's password if it needs one: user:PASSWORD@host.")
    if context["no_docker"] == "no":
        lines += [
            "# The compose stack's database container, and the URL the API uses in it.",
            f"POSTGRES_USER={url.username or ''}",
            f"POSTGRES_PASSWORD={password}",
            f"POSTGRES_DB={url.path.lstrip('/')}",
        ]
    (project / ".env").write_text("\n".join(lines) + "\n", encoding="utf-8")


# ---------------------------------------------------------------- first bake or re-render


# cruft hands an update the recorded answers plus each new input's default, and no render can
# tell a project that chose auth=oidc from one baked before `auth` existed (CHANGELOG 0.2.0).
UPDATE_TO_AUTH = (
    "auth=oidc: every route will need a bearer token. A project baked before 0.2.0 had no "
    "authentication; to keep it that way, update with: "
    'cruft update --variables-to-update \'{"auth": "none"}\''
)


def is_rerender(context: Context, project_dir: str) -> bool:
    """No environment work: render-only, or a `cruft update` render. Identical in both hooks."""
    return os.environ.get(MODE_VARIABLE) == "render-only" or is_cruft_update(context, project_dir)


def is_cruft_update(context: Context, project_dir: str) -> bool:
    """A cruft render (no `_output_dir`) into a fresh temporary folder, as `cruft update` makes.
    Identical in both hooks."""
    if "_output_dir" in context:
        return False
    parent = os.path.dirname(project_dir)
    in_fresh_tmp = os.path.dirname(parent) == os.path.realpath(tempfile.gettempdir())
    return in_fresh_tmp and os.path.basename(parent).startswith("tmp")


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
    project: Path
    mode: str
    why: str
    steps: list[Step] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)

    def skip(self, step: Step, reason: str) -> None:
        step.status, step.reason = "skipped", reason
        self.steps.append(step)

    def run(self, step: Step, env: dict[str, str] | None = None, timeout: float = 600) -> bool:
        execute(step, self.project, env, timeout)
        self.steps.append(step)
        return step.status == "passed"

    def run_together(self, steps: list[Step], env: dict[str, str]) -> None:
        """Independent checks at once (mypy is CPU-bound, the tests mostly wait on PostgreSQL and
        on a server shutting down); reported in the order given."""
        with ThreadPoolExecutor(max_workers=len(steps)) as pool:
            list(pool.map(lambda step: execute(step, self.project, env, 600), steps))
        self.steps.extend(steps)

    def check(self, name: str, ok: bool, reason: str) -> bool:
        status = "passed" if ok else "failed"
        self.steps.append(Step(name, [], status=status, reason="" if ok else reason))
        return ok

    @property
    def failed(self) -> list[Step]:
        return [step for step in self.steps if step.status == "failed"]

    def print(self) -> None:
        print(f"\nChecklist for {self.project.name}: mode {self.mode} ({self.why})")
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
            "project": str(self.project),
            "mode": self.mode,
            "why": self.why,
            "steps": [asdict(step) for step in self.steps],
            "next_steps": self.next_steps,
        }
        return json.dumps(data, indent=2)


def execute(step: Step, project: Path, env: dict[str, str] | None, timeout: float) -> None:
    """Run one step in the project folder; record its status, time, reason and output tail."""
    step.started = time.time()
    started = time.monotonic()
    try:
        result = subprocess.run(
            step.command,
            cwd=project,
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
    """The environment the hooks run tools in: no Python downloads unless the caller allows
    them, and not the caller's venv (the project gets its own). Identical in both hooks."""
    env = dict(os.environ)
    env.setdefault("UV_PYTHON_DOWNLOADS", "never")
    env.pop("VIRTUAL_ENV", None)
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


def pyenv_python(version: str) -> str | None:
    """pyenv's interpreter for the version: its shims fail outside a folder that pins it.
    Identical in both hooks."""
    pyenv = shutil.which("pyenv")
    if pyenv is None:
        return None
    try:
        prefix = subprocess.run(
            [pyenv, "prefix", version],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
            env=tool_env(),
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    candidate = os.path.join(prefix, "bin", f"python{version}")
    return candidate if prefix and os.path.isfile(candidate) else None


def mode_for(has_uv: bool, has_python: bool, no_docker: str) -> str:
    """The checklist a first bake runs when FASTAPI_TEMPLATE_MODE is auto. Identical in both
    hooks, so that the pre-gen preflight names the mode the post-gen hook runs."""
    if not (has_uv and has_python):
        return "offline-smoke"
    return "local-no-docker" if no_docker == "yes" else "production-default"


def python_for_uv(uv: str, version: str) -> bool:
    """Whether uv can use a Python of the version; a pyenv one is handed to uv via UV_PYTHON."""
    if answers([uv, "python", "find", version]):
        return True
    found = pyenv_python(version)
    if found:
        os.environ["UV_PYTHON"] = found
    return found is not None


def choose_mode(context: Context) -> tuple[str, str]:
    version, no_docker = str(context["python_version"]), str(context["no_docker"])
    requested = os.environ.get(MODE_VARIABLE, "auto")
    uv = find_uv()
    if uv is not None and "UV_PYTHON" not in os.environ:
        has_python = python_for_uv(uv, version)
    else:
        has_python = uv is not None
    if requested != "auto" and requested in MODES:
        return requested, f"chosen by {MODE_VARIABLE}"
    return decide_mode(uv is not None, has_python, no_docker, version)


def decide_mode(has_uv: bool, has_python: bool, no_docker: str, version: str) -> tuple[str, str]:
    """The mode and why, for what detection found."""
    mode = mode_for(has_uv, has_python, no_docker)
    if not has_uv:
        return mode, "uv is not on PATH"
    if not has_python:
        return mode, f"uv finds no Python {version}"
    return mode, f"no_docker={no_docker}"


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


def steps_for_later(name: str) -> list[Step]:
    """Without an engine: the container checks as a person runs them on this project later, in
    order, on the project's own compose name and ports, with the tear-down."""
    return [
        Step("docker build", ["docker", "build", "-t", f"{name}:local", "."]),
        Step("docker compose up", ["docker", "compose", "up", "-d", "--build", "--wait"]),
        Step("docker compose ps", ["docker", "compose", "ps"]),
        Step("smoke request", ["curl", "-fsS", "http://127.0.0.1:8000/readyz"]),
        Step("docker compose down", ["docker", "compose", "down"]),
    ]


def container_steps(report: Report, name: str, engine: bool) -> None:
    if not engine:
        for step in steps_for_later(name):
            report.skip(step, "no Docker engine answers")
        return
    # A unique compose project and free ports: the check never meets the team's own stack.
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


def offline_steps(report: Report, no_docker: str) -> None:
    report.run(Step("compileall src", [sys.executable, "-m", "compileall", "-q", "src"]))
    if no_docker == "no":
        missing = [
            p
            for p in ("Dockerfile", ".dockerignore", "docker-compose.yml")
            if not (report.project / p).is_file()
        ]
        report.check("Docker artefacts present", not missing, f"missing: {', '.join(missing)}")
    for step in NOT_RUN_OFFLINE:
        report.skip(Step(step.name, step.command), report.why)


def git_init(project: Path) -> None:
    git = shutil.which("git")
    if git is None or answers([git, "-C", str(project), "rev-parse", "--is-inside-work-tree"]):
        return
    subprocess.run([git, "init", "-q", str(project)], check=False, capture_output=True)


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
        execute(step, report.project, tool_env(), 120)
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


FIRST_COMMIT = "first git commit"


def first_commit(report: Report, project: Path) -> None:
    """Commit the baked project (`cruft update` needs a commit to diff against) when git has an
    identity; otherwise the report says what to run. Never in a repository the user already had."""
    message = "Bake the project from fastapi-service-template"
    later = ["git", "add", "-A", "&&", "git", "commit", "-m", f"'{message}'"]
    step = Step(FIRST_COMMIT, later)
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


# cruft writes `.cruft.json` after this hook has run, so the first commit cannot hold it, and
# `cruft update` refuses a tree where it is untracked.
COMMIT_CRUFT_JSON = "git add .cruft.json && git commit -m 'Record the template version'"


def made_by_cruft(context: Context) -> bool:
    """`cruft create` adds the template's commit to the context (cookiecutter does not)."""
    return "_commit" in context


def record_cruft_json(report: Report, context: Context) -> None:
    """After a first commit made under `cruft create`, the one command left to run, first."""
    committed = any(s.name == FIRST_COMMIT and s.status == "passed" for s in report.steps)
    if made_by_cruft(context) and committed:
        note = "   # cruft writes .cruft.json after this report; cruft update needs it committed"
        report.next_steps.insert(1, COMMIT_CRUFT_JSON + note)


def run_checklist(project: Path, context: Context) -> Report:
    mode, why = choose_mode(context)
    report = Report(project, mode, why)
    engine = False
    if mode == "offline-smoke":
        offline_steps(report, str(context["no_docker"]))
    else:
        installed = uv_steps(report)
        quality_steps(report, installed)
        development_database_steps(
            report, find_uv() or "uv", str(context["module_name"]), installed
        )
        if mode == "production-default":
            engine = engine_answers()
            container_steps(report, str(context["project_name"]), engine)
    report.next_steps = next_steps(project, context, engine)
    return report


def next_steps(project: Path, context: Context, engine: bool) -> list[str]:
    """What a person runs next, in order. Without an engine the compose stack comes last: the
    tests need no Docker (an embedded PostgreSQL), the stack waits for an engine to start."""
    compose = "docker compose up --build   # database, migrations, API on :8000"
    tests = "uv run pytest                 # tests on a real PostgreSQL"
    server = f"uv run uvicorn {context['module_name']}.main:app --reload"
    if context["no_docker"] == "yes":
        return [f"cd {project.name}", tests, server]
    if engine:
        return [f"cd {project.name}", compose, tests, server]
    return [f"cd {project.name}", tests, compose.replace("# ", "# once a Docker engine runs: ")]


def main() -> int:
    try:
        context = load_context()
    except ValueError:
        print(
            "post_gen_project: this file must be rendered by cookiecutter first.", file=sys.stderr
        )
        return 2
    project = Path.cwd()
    removed = prune(project, context)
    write_env_file(project, context)
    if is_cruft_update(context, str(project)) and context.get("auth") == "oidc":
        print(UPDATE_TO_AUTH, file=sys.stderr)
    if is_rerender(context, str(project)):
        return 0
    if removed:
        print(f"Pruned by the options: {', '.join(removed)}")
    git_init(project)
    report = run_checklist(project, context)
    first_commit(report, project)
    record_cruft_json(report, context)
    report.print()
    report_path = os.environ.get("FASTAPI_TEMPLATE_REPORT")
    if report_path:
        Path(report_path).write_text(report.to_json(), encoding="utf-8")
    strict = os.environ.get("FASTAPI_TEMPLATE_STRICT") == "1"
    return 1 if strict and report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
