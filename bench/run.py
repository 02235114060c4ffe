"""Benchmark of the template and the service it bakes: figures, and ratios against references
measured in the same run. It prints figures; it asserts nothing about speed.

    uv run python -m bench.run            # full: medians of several runs and rounds (~20 min)
    uv run python -m bench.run --quick    # one of everything, short load (CI runs it)

Needs: PostgreSQL on 127.0.0.1:5432 that lets it create databases (TEMPLATE_TEST_DATABASE_URL,
as the template's tests), wrk (Debian package `wrk`), uv, a Python of --python-version; a
container engine is optional. Everything runs on loopback; every server it starts, it stops.

Figures:
- bake: render-only (no environment work); time-to-green (bake + uv lock + sync + every gate of
  the local-no-docker checklist) with a cold and a warm uv cache; the warm one against the
  source design's bare scaffold (bench/reference/seed-scaffold) through its own checklist;
- HTTP, every app under the same uvicorn command, one worker, wrk -t1 -c32, rounds interleaved:
  /healthz of the baked service against raw ASGI, bare Starlette and minimal FastAPI; the example
  resource's get-by-id against Starlette + raw asyncpg (the limit), FastAPI + raw asyncpg (same
  framework) and FastAPI + AsyncSession.get (the textbook stack); the baked service again with
  OpenTelemetry exporting to a local OTLP/HTTP receiver the bench starts, sampling as shipped
  (one trace in ten), every trace, and metrics only (telemetry on against off), and under its
  production command (`python -m MODULE.serve`: the head limits, the drain and the concurrency
  limit, against the plain uvicorn command); get-by-id and POST /items of the baked service
  with its database bounds (record 0023) against the same service with them off; POST /items
  with a new Idempotency-Key per request against without one (record 0026); POST /items of the
  same service baked with background_jobs=yes (the example job enqueued in the request's
  transaction) against background_jobs=no; get-by-id of the same service baked with auth=oidc,
  each request with an RS256 or an ES256 bearer token that it verifies (keys from the bake's own
  test issuer on loopback, bench/issuer.py), against auth=none; requests/s, p50, p99, and the
  server process's CPU time per request; cold start to the first 200, against minimal FastAPI's;
- worker (background_jobs=yes): jobs per second of `python -m MODULE.worker` draining a batch of
  the example job, against the same claim/work/delete SQL cycle on raw asyncpg (bench/jobs.py);
- container: image size and rebuild time after a source-only change, where an engine answers or
  podman can be provisioned as the containers tier does (stand-in base images).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench import bakes, container, database, issuer, jobs, loadgen, servers
from tools import container_engine
from tools.database import throwaway_database
from tools.machine import TEMPLATE_DIR, project_env
from tools.otlp_receiver import otlp_receiver

BENCH_DIR = Path(__file__).resolve().parent

APPS_DIR = BENCH_DIR / "apps"
ITEMS_SCRIPT = APPS_DIR / "items.lua"
CREATE_SCRIPT = APPS_DIR / "create_item.lua"
CREATE_KEYED_SCRIPT = APPS_DIR / "create_item_keyed.lua"
ROWS = 1000
# auth=none: these figures compare the service with itself on other axes; the authenticated
# rows bake AUTH_CONTEXT and compare it with this one.
CONTEXT = {
    "project_name": "bench-service",
    "include_example": "yes",
    "no_docker": "no",
    "auth": "none",
    "background_jobs": "no",
}
# The same service with background jobs: POST /items enqueues the example job; and its worker.
JOBS_CONTEXT = {**CONTEXT, "background_jobs": "yes"}
# The same service with auth=oidc: every get-by-id carries a bearer token it verifies.
AUTH_CONTEXT = {**CONTEXT, "auth": "oidc"}
MODULE = "bench_service"
VERSIONS = ("fastapi", "starlette", "sqlalchemy", "asyncpg", "pydantic", "uvicorn", "uvloop")

HEALTHZ = "/healthz"
ITEMS = "/items/{id}"
CREATE = "POST /items"
CREATE_KEYED = "POST /items with an Idempotency-Key"
# The wrk script of each path that needs one.
SCRIPTS = {ITEMS: ITEMS_SCRIPT, CREATE: CREATE_SCRIPT, CREATE_KEYED: CREATE_KEYED_SCRIPT}
BAKED = "baked service"
RAW_ASGI, STARLETTE, FASTAPI_MIN = "raw ASGI", "bare Starlette", "minimal FastAPI"
STARLETTE_PG = "Starlette + raw asyncpg (the limit)"
FASTAPI_PG = "FastAPI + raw asyncpg (same framework)"
TEXTBOOK = "FastAPI + AsyncSession.get (textbook)"
BAKED_OTEL = "baked service, telemetry, every trace"
BAKED_OTEL_SHIPPED = "baked service, telemetry as shipped"
BAKED_OTEL_METRICS = "baked service, metrics, no traces"
# What each telemetry row sets beyond the endpoint: the shipped sampler (compose, ConfigMap,
# .env.example), every trace, or traces off and metrics exported.
EVERY_TRACE = (("OTEL_TRACES_SAMPLER", "parentbased_always_on"),)
SHIPPED_SAMPLING = (
    ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
    ("OTEL_TRACES_SAMPLER_ARG", "0.1"),
)
METRICS_ONLY = (("OTEL_TRACES_EXPORTER", "none"),)
BAKED_UNBOUNDED = "baked service, bounds off"
BAKED_JOBS = "baked service, background_jobs=yes"
BAKED_RS256 = "baked service, auth=oidc, RS256 token"
BAKED_ES256 = "baked service, auth=oidc, ES256 token"
# Every database bound of record 0023 switched off, through the settings a team would use.
BOUNDS_OFF = (
    ("DB_STATEMENT_TIMEOUT_SECONDS", "0"),
    ("DB_LOCK_TIMEOUT_SECONDS", "0"),
    ("DB_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS", "0"),
    ("DB_COMMAND_TIMEOUT_SECONDS", "0"),
    ("DB_REQUEST_DEADLINE_SECONDS", "0"),
)
BAKED_SERVE = "baked service, production command"
# The production command's own log and access settings, as uvicorn's command above is run.
SERVE_ENV = {"ACCESS_LOG": "false", "LOG_LEVEL": "WARNING"}

# Seven short rounds rather than three long ones: each round starts every server afresh, and two
# processes of the same app measured back to back differ by up to 7% (8 rounds of 3 s each), so a
# ratio needs many processes more than long runs; seven is also the cold start's median of 7.
FULL_ROUNDS = 7
FULL_SECONDS = 3

TARGET_HEALTHZ = 0.9
TARGET_ITEMS = 0.7
TARGET_TAIL = 3.0
TARGET_BOUNDS = 0.95  # the database bounds cost at most 5% of get-by-id and POST throughput
TARGET_AUTH = 0.9  # get-by-id with an RS256 token verified, against auth=none (issue 21)
TARGET_ENQUEUE = 0.85  # POST /items with its job enqueued, against without (issue 22)
TARGET_COLD_START = 1.3  # x minimal FastAPI's, auth and telemetry as shipped
TARGET_RENDER = 1.0
TARGET_GREEN = 1.5  # warm time-to-green, as a multiple of the seed scaffold's in the same run


# Not passed on to bakes and servers. PYTHONDONTWRITEBYTECODE: a shell that sets it (this
# machine's does) makes every Python process compile its imports from source again, which a
# developer's default Python does not do and the image does not either (it compiles at build).
UNSHARED_SETTINGS = (
    "PYTHONDONTWRITEBYTECODE",
    "FASTAPI_TEMPLATE_REPORT",
    "FASTAPI_TEMPLATE_MODE",
)


@dataclass(frozen=True)
class App:
    name: str
    target: str  # uvicorn's MODULE:app
    paths: tuple[str, ...]
    baked: bool = False
    telemetry: tuple[tuple[str, str], ...] | None = None  # exporting, with these OTEL_* settings
    settings: tuple[tuple[str, str], ...] = ()  # the baked service's own, on top of the run's
    production_command: bool = False  # python -m MODULE.serve instead of the uvicorn command
    jobs: bool = False  # the background_jobs=yes bake, on its own database
    auth: str = ""  # the auth=oidc bake, on its own database, tokens signed with this algorithm


# In this order, forwards and backwards in turn: the baked service runs right after (or before)
# the reference each of its ratios is taken against, so each pair shares the machine's load.
APPS = (
    App(RAW_ASGI, "ref_asgi:app", (HEALTHZ,)),
    App(STARLETTE, "ref_starlette:app", (HEALTHZ, ITEMS)),
    App(FASTAPI_MIN, "ref_fastapi_min:app", (HEALTHZ,)),
    App(BAKED, f"{MODULE}.main:app", (HEALTHZ, ITEMS, CREATE, CREATE_KEYED), baked=True),
    App(BAKED_RS256, f"{MODULE}.main:app", (ITEMS,), baked=True, auth="RS256"),
    App(BAKED_ES256, f"{MODULE}.main:app", (ITEMS,), baked=True, auth="ES256"),
    App(BAKED_JOBS, f"{MODULE}.main:app", (CREATE,), baked=True, jobs=True),
    App(BAKED_SERVE, MODULE, (HEALTHZ, ITEMS), baked=True, production_command=True),
    App(BAKED_OTEL, f"{MODULE}.main:app", (HEALTHZ, ITEMS), baked=True, telemetry=EVERY_TRACE),
    App(
        BAKED_OTEL_SHIPPED,
        f"{MODULE}.main:app",
        (HEALTHZ, ITEMS),
        baked=True,
        telemetry=SHIPPED_SAMPLING,
    ),
    App(BAKED_OTEL_METRICS, f"{MODULE}.main:app", (ITEMS,), baked=True, telemetry=METRICS_ONLY),
    App(BAKED_UNBOUNDED, f"{MODULE}.main:app", (ITEMS, CREATE), baked=True, settings=BOUNDS_OFF),
    App(FASTAPI_PG, "ref_fastapi_asyncpg:app", (ITEMS,)),
    App(TEXTBOOK, "ref_textbook:app", (ITEMS,)),
)
# Each telemetry row's target: its get-by-id throughput against telemetry off (issue 23).
TARGET_TELEMETRY = {BAKED_OTEL_SHIPPED: 0.85, BAKED_OTEL: 0.6, BAKED_OTEL_METRICS: 0.9}
TELEMETRY_ROWS = tuple(TARGET_TELEMETRY)
HEALTHZ_ROWS = (
    RAW_ASGI,
    STARLETTE,
    FASTAPI_MIN,
    BAKED,
    BAKED_SERVE,
    BAKED_OTEL_SHIPPED,
    BAKED_OTEL,
)
ITEMS_ROWS = (
    STARLETTE,
    FASTAPI_PG,
    TEXTBOOK,
    BAKED,
    BAKED_RS256,
    BAKED_ES256,
    BAKED_SERVE,
    *TELEMETRY_ROWS,
    BAKED_UNBOUNDED,
)
CREATE_ROWS = (BAKED, BAKED_UNBOUNDED, BAKED_JOBS)
ITEMS_LABEL = {STARLETTE: STARLETTE_PG}


@dataclass
class Settings:
    quick: bool
    rounds: int
    seconds: int
    warmup: int
    render_runs: int
    green_runs: int
    cold_runs: int
    python_version: str
    engine: str
    workdir: Path
    service_env: dict[str, str] = field(default_factory=dict)


@dataclass
class Results:
    failures: list[str] = field(default_factory=list)
    targets: list[tuple[bool | None, str]] = field(default_factory=list)

    def target(self, ok: bool | None, text: str) -> None:
        self.targets.append((ok, text))


def out(line: str = "") -> None:
    print(line, flush=True)


def median(values: list[float]) -> float:
    return statistics.median(values)


def spread(values: list[float], unit: str = "s") -> str:
    if len(values) < 2:
        return f"{len(values)} run"
    return f"{len(values)} runs, {min(values):.2f}-{max(values):.2f} {unit}"


def verdict(ok: bool | None) -> str:
    return {True: "met", False: "MISSED", None: "not measured"}[ok]


@contextlib.contextmanager
def section(title: str, results: Results) -> Iterator[None]:
    out()
    out(title)
    try:
        yield
    except Exception as exc:
        results.failures.append(f"{title}: {exc}")
        out(f"  FAILED: {type(exc).__name__}: {exc}")
        traceback.print_exc(file=sys.stderr)


# ---------------------------------------------------------------- machine and versions


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (
        f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def load_average() -> str:
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "unknown"


def versions(python: str) -> str:
    code = (
        "import importlib.metadata as m, json, sys; "
        "print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))"
    )
    result = subprocess.run(
        [python, "-c", code, *VERSIONS], capture_output=True, text=True, check=True
    )
    found = json.loads(result.stdout)
    return ", ".join(f"{name} {found[name]}" for name in VERSIONS)


def uv_binary() -> str:
    """The uv beside this Python (the template's venv), else the one on PATH."""
    beside = Path(sys.executable).with_name("uv")
    found = str(beside) if beside.is_file() else shutil.which("uv")
    if found is None:
        raise RuntimeError("uv is neither beside this Python nor on PATH")
    return found


def tool_env(settings: Settings, uv_cache: Path | None) -> dict[str, str]:
    """The environment the baked project's tools run in (tests/bake.py), uv first on PATH.
    uv_cache None: the caller's uv cache (UV_CACHE_DIR if set, else uv's default)."""
    env = project_env(settings.python_version, uv_cache or settings.workdir)
    if uv_cache is None:
        env.pop("UV_CACHE_DIR")
        if "UV_CACHE_DIR" in os.environ:
            env["UV_CACHE_DIR"] = os.environ["UV_CACHE_DIR"]
    env["PATH"] = f"{Path(uv_binary()).parent}{os.pathsep}{env.get('PATH', '')}"
    for variable in (*UNSHARED_SETTINGS, "FASTAPI_TEMPLATE_STRICT"):
        env.pop(variable, None)
    return env


# ---------------------------------------------------------------- bake figures


def bake_figures(settings: Settings, results: Results) -> Path:
    """Time the bakes; return the last time-to-green bake's project (locked and synced)."""
    work = settings.workdir / "bakes"
    renders = []
    for n in range(settings.render_runs):
        bake = bakes.render_only(
            TEMPLATE_DIR, work / f"render-{n}", tool_env(settings, None), CONTEXT
        )
        renders.append(bake.seconds)
    render = median(renders)
    out(f"  render-only (no environment work)      {render:6.2f} s   ({spread(renders)})")
    results.target(render < TARGET_RENDER, f"render-only {render:.2f} s < {TARGET_RENDER:g} s")

    cold: list[bakes.Bake] = []
    for n in range(settings.cold_runs):
        cache = settings.workdir / f"uv-cache-cold-{n}"
        env = tool_env(settings, cache)
        cold.append(bakes.time_to_green(TEMPLATE_DIR, work / f"green-cold-{n}", env, CONTEXT))
    if cold:
        green_line("time-to-green, cold uv cache", cold, "a new, empty cache each run", results)
    else:
        out("  time-to-green, cold uv cache           skipped (--quick: no cold-cache runs)")

    if cold:
        warm_cache: Path | None = settings.workdir / "uv-cache-cold-0"  # the first cold run's
        note = "the cache the first cold run filled"
    else:
        warm_cache = None
        note = "--quick: the caller's uv cache, as found"
    env = tool_env(settings, warm_cache)
    warm: list[bakes.Bake] = []
    seed: list[bakes.Bake] = []
    with throwaway_database() as url:
        bakes.seed_time_to_green(work / "seed-warm-up", uv_binary(), env, url)  # its cache
        for n in range(settings.green_runs):  # interleaved, so both see the same machine
            warm.append(bakes.time_to_green(TEMPLATE_DIR, work / f"green-warm-{n}", env, CONTEXT))
            seed.append(bakes.seed_time_to_green(work / f"seed-{n}", uv_binary(), env, url))
    seconds = green_line("time-to-green, warm uv cache", warm, note, results)
    reference = green_line("  the seed scaffold, same cache", seed, "its own checklist", results)
    ratio = seconds / reference
    out(f"    {ratio:.2f}x the seed scaffold")
    goal = f"warm time-to-green {ratio:.2f}x the seed scaffold <= {TARGET_GREEN:g}x"
    results.target(ratio <= TARGET_GREEN, goal)
    return warm[-1].project


def green_line(label: str, runs: list[bakes.Bake], note: str, results: Results) -> float:
    """Print one time-to-green figure and the steps of its median run; a run that did not end
    green makes the figure group fail (its time is still printed)."""
    seconds = median([bake.seconds for bake in runs])
    out(f"  {label:<38} {seconds:6.2f} s   ({spread([b.seconds for b in runs])}; {note})")
    middle = sorted(runs, key=lambda bake: bake.seconds)[len(runs) // 2]
    out("    its steps: " + ", ".join(f"{name} {sec:.1f} s" for name, sec in middle.steps.items()))
    for bake in runs:
        for step, why in bake.failed.items():
            out(f"    NOT GREEN: {step}: {why}")
            results.failures.append(f"{label}: {step} did not pass")
    return seconds


def render_and_sync(
    settings: Settings, context: dict[str, str] = CONTEXT, folder: str = "project"
) -> Path:
    """A project without timing anything: --skip-bakes, and the background_jobs=yes bake."""
    env = tool_env(settings, None)
    bake = bakes.render_only(TEMPLATE_DIR, settings.workdir / "bakes" / folder, env, context)
    bakes.lock_and_sync(bake.project, uv_binary(), env)
    return bake.project


# ---------------------------------------------------------------- HTTP figures


@dataclass
class Samples:
    """Per app and path: one Load per round; per app: one cold start per round."""

    loads: dict[tuple[str, str], list[loadgen.Load]] = field(default_factory=dict)
    cold: dict[str, list[float]] = field(default_factory=dict)
    answers: dict[str, object] = field(default_factory=dict)

    def rps(self, app: str, path: str) -> float:
        return median([load.requests_per_second for load in self.loads[(app, path)]])

    def ratios(
        self, app: str, reference: str, path: str, reference_path: str | None = None
    ) -> list[float]:
        """Per round; `reference_path` compares two paths of one server (default: `path`)."""
        references = self.loads[(reference, reference_path or path)]
        pairs = zip(self.loads[(app, path)], references, strict=True)
        return [a.requests_per_second / b.requests_per_second for a, b in pairs]

    def ratio(
        self, app: str, reference: str, path: str, reference_path: str | None = None
    ) -> float:
        """Median of the per-round ratios: rounds are interleaved, so each pair shares its load."""
        return median(self.ratios(app, reference, path, reference_path))

    def rounds(self, app: str, reference: str, path: str, reference_path: str | None = None) -> str:
        values = self.ratios(app, reference, path, reference_path)
        return "" if len(values) < 2 else " (rounds " + ", ".join(f"{v:.2f}" for v in values) + ")"

    def tail(self, app: str, path: str) -> float:
        return median([load.tail for load in self.loads[(app, path)]])


def server_env(database_url: str) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")  # no PYTHONDONTWRITEBYTECODE: see above
    env = {key: os.environ[key] for key in keep if key in os.environ}
    env["DATABASE_URL"] = database_url
    return env


def exercise(
    app: App,
    server: servers.Server,
    settings: Settings,
    samples: Samples,
    headers: dict[str, str],
    database_url: str,
) -> None:
    """Check each path answers 200 (and keep the item's JSON), warm up, then measure; after a
    path that writes, settle the database before the next measurement."""
    for path in app.paths:
        writes = path in (CREATE, CREATE_KEYED)
        if writes:
            status, body = servers.post_json(server.port, "/items", {"name": "probe"})
            expected = 201
        else:
            probe = "/items/1" if path == ITEMS else path
            status, body = servers.get(server.port, probe, headers)
            expected = 200
        if status != expected:
            raise RuntimeError(f"{app.name} answered {status} on {path}: {body[:200]!r}")
        if path == ITEMS:
            samples.answers[app.name] = json.loads(body)
        # items.lua writes the item paths, the create scripts their method, path and body.
        url = server.url("/" if path in (ITEMS, CREATE, CREATE_KEYED) else path)
        script = SCRIPTS.get(path)
        wrk_env = {**os.environ, "BENCH_ROWS": str(ROWS)}
        wrk = functools.partial(loadgen.run, url, script=script, env=wrk_env, headers=headers)
        wrk(settings.warmup)
        load = wrk(settings.seconds, server_pid=server.pid)
        samples.loads.setdefault((app.name, path), []).append(load)
        if writes:
            database.settle(database.asyncpg_dsn(database_url))


@contextlib.contextmanager
def migrated(project: Path, settings: Settings) -> Iterator[str]:
    """A throwaway database with the project's migrations and ROWS items."""
    with throwaway_database() as url:
        python = str(project / ".venv" / "bin" / "python")
        database.migrate(project, python, url, tool_env(settings, None))
        database.seed(database.asyncpg_dsn(url), ROWS)
        yield url


def measure_http(
    settings: Settings, project: Path, jobs_project: Path, auth_project: Path
) -> Samples:
    samples = Samples()
    logs = settings.workdir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with (
        migrated(project, settings) as url,
        migrated(jobs_project, settings) as jobs_url,
        migrated(auth_project, settings) as auth_url,
        issuer.running_issuer(auth_project, server_env(auth_url)) as idp,
        otlp_receiver() as receiver,
    ):
        # The SDK's defaults otherwise (batch size, 5 s span batches, 60 s metric exports).
        telemetry = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_SERVICE_NAME": MODULE,
        }
        for round_ in range(settings.rounds):
            for app in APPS if round_ % 2 == 0 else reversed(APPS):
                app_project = jobs_project if app.jobs else auth_project if app.auth else project
                python = str(app_project / ".venv" / "bin" / "python")
                cwd = app_project if app.baked else APPS_DIR
                env = server_env(jobs_url if app.jobs else auth_url if app.auth else url)
                if app.auth:
                    env.update(idp.settings())
                app_env = env
                if app.baked:
                    app_env = {**env, **settings.service_env, **dict(app.settings)}
                if app.telemetry is not None:
                    app_env = {**app_env, **telemetry, **dict(app.telemetry)}
                if app.production_command:
                    app_env = {**app_env, **SERVE_ENV}
                with servers.serve(
                    app.name.split(" (")[0].replace(" ", "-").replace("+", "and"),
                    python,
                    app.target,
                    cwd=cwd,
                    env=app_env,
                    log_dir=logs,
                    production_command=app.production_command,
                ) as server:
                    samples.cold.setdefault(app.name, []).append(server.cold_start)
                    headers = idp.headers(app.auth) if app.auth else {}
                    exercise(app, server, settings, samples, headers, env["DATABASE_URL"])
    return samples


def load_row(label: str, samples: Samples, app: str, path: str, ratio: str) -> str:
    loads = samples.loads[(app, path)]
    p50 = median([load.p50 for load in loads]) * 1000
    p99 = median([load.p99 for load in loads]) * 1000
    cpus = [load.cpu_per_request for load in loads if load.cpu_per_request is not None]
    cpu = f"{median(cpus) * 1e6:5.0f} us" if cpus else "    n/a"
    bad = sum(load.bad for load in loads)
    errors = f"  {bad} non-2xx/errors!" if bad else ""
    return (
        f"  {label:<48} {samples.rps(app, path):9,.0f} {p50:7.2f} {p99:8.2f} "
        f"{samples.tail(app, path):6.1f}x {cpu}   {ratio}{errors}"
    )


def same_answer(app: App, body: object, baked: object) -> bool:
    """The auth=oidc rows run on a database of their own: the same rows, seeded at another time."""
    if not app.auth or not isinstance(body, dict) or not isinstance(baked, dict):
        return body == baked

    def untimed(answer: dict) -> dict:
        return {key: value for key, value in answer.items() if not key.endswith("_at")}

    return untimed(body) == untimed(baked)


def bounds_ratio(samples: Samples, path: str) -> str:
    """The baked service as shipped against this row (its bounds off): what the bounds cost."""
    ratio = f"bounds on {samples.ratio(BAKED, BAKED_UNBOUNDED, path):.2f}x off"
    return ratio + samples.rounds(BAKED, BAKED_UNBOUNDED, path)


def print_http(settings: Settings, samples: Samples, results: Results) -> None:
    header = (
        f"  {'':<48} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>8} {'p99/50':>7} {'CPU/req':>8}   ratio"
    )
    out(
        f"/healthz (wrk -t{loadgen.THREADS} -c{loadgen.CONNECTIONS}, "
        f"{settings.seconds} s x {settings.rounds} rounds, medians)"
    )
    out(header)
    for app in HEALTHZ_ROWS:
        ratio = f"{samples.ratio(app, RAW_ASGI, HEALTHZ):.2f}x raw ASGI"
        if app == BAKED:
            ratio += f", {samples.ratio(app, FASTAPI_MIN, HEALTHZ):.2f}x minimal FastAPI"
            ratio += samples.rounds(app, FASTAPI_MIN, HEALTHZ)
        if app in TELEMETRY_ROWS:
            ratio = f"{samples.ratio(app, BAKED, HEALTHZ):.2f}x telemetry off"
            ratio += samples.rounds(app, BAKED, HEALTHZ)
        if app == BAKED_SERVE:
            ratio = f"{samples.ratio(app, BAKED, HEALTHZ):.2f}x the uvicorn command"
            ratio += samples.rounds(app, BAKED, HEALTHZ)
        out(load_row(f"/healthz   {app}", samples, app, HEALTHZ, ratio))
    healthz = samples.ratio(BAKED, FASTAPI_MIN, HEALTHZ)
    results.target(
        healthz >= TARGET_HEALTHZ,
        f"baked /healthz {healthz:.2f}x minimal FastAPI >= {TARGET_HEALTHZ:g}x",
    )

    out()
    out(f"get-by-id {ITEMS} (same load, ids 1..{ROWS} in turn)")
    out(header)
    for app in ITEMS_ROWS:
        ratio = f"{samples.ratio(app, STARLETTE, ITEMS):.2f}x the limit"
        if app in (TEXTBOOK, BAKED):
            ratio += f", {samples.ratio(app, FASTAPI_PG, ITEMS):.2f}x FastAPI + asyncpg"
            if app == BAKED:
                ratio += samples.rounds(app, FASTAPI_PG, ITEMS)
        if app in TELEMETRY_ROWS:
            ratio = f"{samples.ratio(app, BAKED, ITEMS):.2f}x telemetry off"
            ratio += samples.rounds(app, BAKED, ITEMS)
        if app == BAKED_UNBOUNDED:
            ratio = bounds_ratio(samples, ITEMS)
        if app in (BAKED_RS256, BAKED_ES256):
            ratio = f"{samples.ratio(app, BAKED, ITEMS):.2f}x auth=none"
            ratio += samples.rounds(app, BAKED, ITEMS)
        if app == BAKED_SERVE:
            ratio = f"{samples.ratio(app, BAKED, ITEMS):.2f}x the uvicorn command"
            ratio += samples.rounds(app, BAKED, ITEMS)
        out(load_row(f"get-by-id  {ITEMS_LABEL.get(app, app)}", samples, app, ITEMS, ratio))
    baked_answer = samples.answers.get(BAKED)
    differ = [
        app.name
        for app in APPS
        if app.name in samples.answers
        and not same_answer(app, samples.answers[app.name], baked_answer)
    ]
    if differ:
        out(f"  note: these answer /items/1 differently from the baked service: {differ}")
    items = samples.ratio(BAKED, FASTAPI_PG, ITEMS)
    results.target(
        items >= TARGET_ITEMS,
        f"baked get-by-id {items:.2f}x FastAPI + raw asyncpg >= {TARGET_ITEMS:g}x",
    )
    verified = samples.ratio(BAKED_RS256, BAKED, ITEMS)
    results.target(
        verified >= TARGET_AUTH,
        f"baked get-by-id, RS256 token verified {verified:.2f}x auth=none >= {TARGET_AUTH:g}x",
    )
    out()
    out("POST /items (same load, one new row per request, through the request's session)")
    out(header)
    for app in CREATE_ROWS:
        ratio = bounds_ratio(samples, CREATE) if app == BAKED_UNBOUNDED else ""
        if app == BAKED_JOBS:
            ratio = f"enqueue {samples.ratio(app, BAKED, CREATE):.2f}x background_jobs=no"
            ratio += samples.rounds(app, BAKED, CREATE)
        out(load_row(f"POST /items {app}", samples, app, CREATE, ratio))
    keyed = f"{samples.ratio(BAKED, BAKED, CREATE_KEYED, CREATE):.2f}x without a key"
    keyed += samples.rounds(BAKED, BAKED, CREATE_KEYED, CREATE)
    out(load_row(f"POST /items {BAKED}, Idempotency-Key", samples, BAKED, CREATE_KEYED, keyed))
    for path, name in ((ITEMS, "get-by-id"), (CREATE, "POST /items")):
        bounded = samples.ratio(BAKED, BAKED_UNBOUNDED, path)
        results.target(
            bounded >= TARGET_BOUNDS,
            f"baked {name}, database bounds on {bounded:.2f}x off >= {TARGET_BOUNDS:g}x",
        )
    enqueued = samples.ratio(BAKED_JOBS, BAKED, CREATE)
    results.target(
        enqueued >= TARGET_ENQUEUE,
        f"baked POST /items, job enqueued {enqueued:.2f}x without >= {TARGET_ENQUEUE:g}x",
    )
    for app, goal in TARGET_TELEMETRY.items():
        traced = samples.ratio(app, BAKED, ITEMS)
        what = app.removeprefix(f"{BAKED}, ")
        results.target(traced >= goal, f"baked get-by-id, {what}: {traced:.2f}x off >= {goal:g}x")
    for app, what in ((BAKED, "baked"), (BAKED_OTEL_SHIPPED, "baked, telemetry as shipped,")):
        for path, name in ((HEALTHZ, "/healthz"), (ITEMS, "get-by-id")):
            tail = samples.tail(app, path)
            goal = f"{what} {name} p99 {tail:.1f}x p50 <= {TARGET_TAIL:g}x"
            results.target(tail <= TARGET_TAIL, goal)

    out()
    out(f"Cold start: process spawned to the first 200 on /healthz (median of {settings.rounds})")
    for app in APPS:
        starts = samples.cold[app.name]
        out(f"  cold start {app.name:<44} {median(starts):6.2f} s   ({spread(starts)})")
    reference = median(samples.cold[FASTAPI_MIN])
    # The textbook app imports what every service on this stack imports (SQLAlchemy, asyncpg):
    # how much of the gap to minimal FastAPI the stack itself sets, and how much is the service's.
    floor = median(samples.cold[TEXTBOOK])
    out(f"  the stack's own floor: {TEXTBOOK} {floor / reference:.2f}x minimal FastAPI")
    shipped = ((BAKED_RS256, "auth as shipped"), (BAKED_OTEL_SHIPPED, "telemetry as shipped"))
    for app, what in shipped:
        seconds = median(samples.cold[app])
        out(f"  baked cold start, {what}: {seconds / floor:.2f}x the textbook app")
        cold = seconds / reference
        goal = f"baked cold start, {what}, {cold:.2f}x minimal FastAPI <= {TARGET_COLD_START:g}x"
        results.target(cold <= TARGET_COLD_START, goal)


# ---------------------------------------------------------------- worker figures


def worker_figures(settings: Settings, jobs_project: Path) -> None:
    """The shipped worker's jobs per second against the same SQL cycle on raw asyncpg, rounds
    interleaved (bench/jobs.py)."""
    count = 500 if settings.quick else 5000
    python = str(jobs_project / ".venv" / "bin" / "python")
    log = settings.workdir / "logs" / "worker.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    shipped: list[float] = []
    raw: list[float] = []
    with migrated(jobs_project, settings) as url:
        dsn = database.asyncpg_dsn(url)
        for round_ in range(settings.rounds):
            runs = [
                lambda: shipped.append(
                    jobs.worker_rate(
                        python, jobs_project, MODULE, server_env(url), dsn, count, ROWS, log
                    )
                ),
                lambda: raw.append(jobs.raw_rate(dsn, count, ROWS)),
            ]
            for run in runs if round_ % 2 == 0 else reversed(runs):
                run()
    ratios = [a / b for a, b in zip(shipped, raw, strict=True)]
    each = f" (rounds {', '.join(f'{r:.2f}' for r in ratios)})" if len(ratios) > 1 else ""
    slots = f"{jobs.CONCURRENCY} slots / connections"
    out(f"  {count} example jobs (stamp_item) in one batch, {slots}, medians")
    worker = f"worker (python -m {MODULE}.worker)"
    out(f"  {worker:<44} {median(shipped):7,.0f} jobs/s")
    out(f"  {'raw asyncpg, same claim/work/delete SQL':<44} {median(raw):7,.0f} jobs/s")
    out(f"    worker {median(ratios):.2f}x raw asyncpg{each}")


# ---------------------------------------------------------------- container figures


def container_figures(settings: Settings, project: Path | None) -> None:
    size_label = "  image size                             "
    rebuild_label = "  rebuild after a source-only change     "
    reason = ""
    if settings.quick:
        reason = "skipped (--quick: no image builds)"
    elif project is None:
        reason = "skipped: no baked project"
    elif settings.engine != "docker":
        if container.engine_answers(settings.engine):
            image, where = container.measure(settings.engine, project), "the engine as found"
        else:
            reason = f"skipped: no {settings.engine} engine answers"
    elif missing := container_engine.missing_prerequisite():
        reason = f"skipped: no Docker engine answers and none can be provisioned: {missing}"
    else:
        # The containers tier's engine: Docker if it answers, else podman on a private socket
        # with stand-ins for the base images (no registry answers here), whose size it then is.
        with container_engine.exclusive_use(), container_engine.provisioned_engine() as engine:
            if engine.provisioned:
                container_engine.ensure_standins(engine, container_engine.base_images(project))
            image = container.measure("docker", project, engine.env)
        where = (
            "podman on a private socket, stand-in base images"
            if engine.provisioned
            else "the engine as found"
        )
    if reason:
        out(f"{size_label}{reason}")
        out(f"{rebuild_label}{reason}")
        return
    out(f"{size_label}{image.size_bytes / 1e6:6.0f} MB   ({where})")
    out(
        f"{rebuild_label}{image.rebuild:6.1f} s   "
        f"(first build {image.first_build:.1f} s, build cache as found)"
    )


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> tuple[Settings, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one of everything, short load")
    parser.add_argument("--rounds", type=int, help="interleaved load rounds (7; --quick 1)")
    parser.add_argument("--seconds", type=int, help="wrk seconds per target (3; --quick 1)")
    parser.add_argument("--runs", type=int, help="bakes per bake figure (3; --quick 1)")
    parser.add_argument("--python-version", default="3.12", help="the baked project's Python")
    parser.add_argument("--engine", default="docker", help="container engine CLI (docker)")
    parser.add_argument("--workdir", type=Path, help="keep the work here (default: a temp dir)")
    parser.add_argument(
        "--skip-bakes", action="store_true", help="no bake figures: render, lock and sync only"
    )
    parser.add_argument(
        "--service-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting for the baked service only, e.g. DB_POOL_SIZE=20 (default: as shipped)",
    )
    args = parser.parse_args(argv)
    runs = args.runs or (1 if args.quick else 3)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="fastapi-bench-"))
    settings = Settings(
        quick=args.quick,
        rounds=args.rounds or (1 if args.quick else FULL_ROUNDS),
        seconds=args.seconds or (1 if args.quick else FULL_SECONDS),
        warmup=1,
        render_runs=1 if args.quick else max(5, runs),
        green_runs=runs,
        cold_runs=0 if args.quick else runs,
        python_version=args.python_version,
        engine=args.engine,
        workdir=workdir.resolve(),
        service_env=dict(item.split("=", 1) for item in args.service_env),
    )
    return settings, args


def main(argv: list[str] | None = None) -> int:
    settings, args = parse_args(argv)
    settings.workdir.mkdir(parents=True, exist_ok=True)
    loadgen.wrk_binary()  # fail early, with the install command
    results = Results()
    started = time.monotonic()
    mode = "quick" if settings.quick else "full"
    out(f"fastapi-service-template benchmark ({mode}), {time.strftime('%Y-%m-%d %H:%M')}")
    out(f"machine: {machine()}; load average {load_average()} at start")
    out(f"work: {settings.workdir}")
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        out("note: PYTHONDONTWRITEBYTECODE is set here; bakes and servers run without it")
    try:
        run_all(settings, args, results)
    finally:
        if args.workdir is None:
            shutil.rmtree(settings.workdir, ignore_errors=True)
    out()
    out("Targets")
    for ok, text in results.targets:
        out(f"  [{verdict(ok):>6}] {text}")
    out()
    out(
        f"done in {time.monotonic() - started:.0f} s; load average {load_average()} at the end; "
        f"{len(results.failures)} figure group(s) failed"
    )
    return 1 if results.failures else 0


def run_all(settings: Settings, args: argparse.Namespace, results: Results) -> None:
    project: Path | None = None
    with section("Bake (cookiecutter command, wall clock, medians)", results):
        if args.skip_bakes:
            out("  render-only (no environment work)      skipped (--skip-bakes)")
            out("  time-to-green, cold uv cache           skipped (--skip-bakes)")
            out("  time-to-green, warm uv cache           skipped (--skip-bakes)")
            project = render_and_sync(settings)
        else:
            project = bake_figures(settings, results)
    if project is None:
        return
    python = str(project / ".venv" / "bin" / "python")
    out()
    out(f"stack (the baked lock): {versions(python)}; wrk {loadgen.wrk_version()}")
    out(f"server: {servers.uvicorn_command_text()} (one worker), loopback")
    serve_settings = ", ".join(f"{k}={v}" for k, v in SERVE_ENV.items())
    out(f"production command: python -m {MODULE}.serve ({serve_settings}), same port rules")
    shipped = ", ".join(f"{k}={v}" for k, v in settings.service_env.items()) or "as shipped"
    out(f"baked service settings: {shipped}")
    jobs_project: Path | None = None
    with section("The same service with background_jobs=yes (render, lock, sync)", results):
        jobs_project = render_and_sync(settings, JOBS_CONTEXT, "jobs-project")
        out("  done")
    auth_project: Path | None = None
    with section("The same service with auth=oidc (render, lock, sync)", results):
        auth_project = render_and_sync(settings, AUTH_CONTEXT, "auth-project")
        out("  done")
    if jobs_project is None or auth_project is None:
        return
    samples: Samples | None = None
    with section("Service under load (rounds interleaved, apps in turn)", results):
        samples = measure_http(settings, project, jobs_project, auth_project)
        out("  done")
    if samples is not None:
        with section("Results", results):
            print_http(settings, samples, results)
    with section("Worker, background_jobs=yes (jobs per second, rounds interleaved)", results):
        worker_figures(settings, jobs_project)
    with section(f"Container tier ({settings.engine})", results):
        container_figures(settings, project)


if __name__ == "__main__":
    sys.exit(main())
