"""Helpers shared by the static-validator and non-root smoke tiers: the validator binaries, and
small readers for the Dockerfile, .dockerignore and workflow files they check."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import yaml

from tools.commands import attempt
from tools.dockerfile import Instruction, dockerfile_stages, instructions
from tools.machine import tool

__all__ = ["Instruction", "dockerfile_stages", "instructions", "tool"]  # for the tiers

# Validator -> the arguments that print its version.
VALIDATORS: dict[str, tuple[str, ...]] = {
    "hadolint": ("--version",),
    "docker-compose": ("version",),
    "actionlint": ("-version",),
    "zizmor": ("--version",),
    "check-jsonschema": ("--version",),
    "shellcheck": ("--version",),
}


def run(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return attempt(args, cwd, timeout=timeout)


def requirement_name(requirement: str) -> str:
    """The normalised distribution name of a PEP 508 requirement (`Pre_Commit>=3` -> pre_commit)."""
    name = re.split(r"[<>=!~\[;@ ]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "_", name).lower()


def dev_requirements(project: Path) -> set[str]:
    """Every dependency group's requirements (dev tools, the embedded PostgreSQL): none of them
    belongs in the image."""
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    return {
        requirement_name(item)
        for group in pyproject["dependency-groups"].values()
        for item in group
        if isinstance(item, str)
    }


def module_name(project: Path) -> str:
    """The package name the template derives from the project folder's name (its default)."""
    return project.name.replace("-", "_")


def output(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"


# ---------------------------------------------------------------- Dockerfile


def copied_from_context(stage: list[Instruction]) -> list[tuple[list[str], str]]:
    """(sources, destination) of each COPY that reads the build context (no --from)."""
    copies = []
    for item in instructions(stage, "COPY"):
        tokens = item.tokens()
        if any(token.startswith("--from") for token in tokens):
            continue
        paths = [token for token in tokens if not token.startswith("--")]
        copies.append((paths[:-1], paths[-1]))
    return copies


# ---------------------------------------------------------------- .dockerignore


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Docker's pattern syntax: `**` spans folders, `*` and `?` stay within one."""
    regex, i = "", 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            regex, i = regex + "(.*/)?", i + 3
            continue
        if pattern.startswith("**", i):
            regex, i = regex + ".*", i + 2
            continue
        regex += {"*": "[^/]*", "?": "[^/]"}.get(char, re.escape(char))
        i += 1
    return re.compile(regex + "$")


def dockerignore_rules(text: str) -> list[tuple[bool, re.Pattern[str]]]:
    """(is_exception, pattern) in file order."""
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        pattern = line.lstrip("!").strip().strip("/")
        rules.append((exception, _pattern_regex(pattern)))
    return rules


def excluded(rules: list[tuple[bool, re.Pattern[str]]], relative: str) -> bool:
    """Whether the context leaves `relative` out: the last rule matching it or a parent wins."""
    parts = relative.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    result = False
    for exception, regex in rules:
        if any(regex.match(candidate) for candidate in candidates):
            result = not exception
    return result


# ---------------------------------------------------------------- workflows


def load_yaml(path: Path) -> dict:
    # `on:` is YAML 1.1's boolean True for PyYAML; give it its GitHub meaning back.
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if True in data:
        data["on"] = data.pop(True)
    return data


def steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


# A command line that cannot fail its step: it only prints, or swallows the exit status.
NOT_A_GATE = re.compile(
    r"^\s*(echo|printf)\s"  # prints the command instead of running it
    r"|^\s*(true|:)\s*$"
    r"|\|\|\s*(true|:|exit 0)\s*(;|$)"  # swallows the exit status
    r"|;\s*(true|:|exit 0)\s*$"
)


def gate_commands(workflow: dict) -> list[str]:
    """Every command line that fails its CI run when it fails: steps and jobs with
    `continue-on-error` or `if: false` are left out, and so are lines that only print or
    swallow their exit status (`|| true`). Multi-line `run:` scripts are split into lines."""
    commands = []
    for job in workflow["jobs"].values():
        if job.get("continue-on-error") or job.get("if") is False:
            continue
        for step in job.get("steps", []):
            if step.get("continue-on-error") or step.get("if") is False or "run" not in step:
                continue
            lines = str(step["run"]).replace("\\\n", " ").splitlines()
            commands += [line.strip() for line in lines if not NOT_A_GATE.search(line)]
    return [line for line in commands if line and not line.startswith("#")]


def hygiene_problems(workflow: dict) -> list[str]:
    """Least privilege, no persisted token, bounded jobs, one run per ref."""
    problems = []
    if workflow.get("permissions") != {"contents": "read"}:
        problems.append(f"top-level permissions are {workflow.get('permissions')!r}")
    if "group" not in workflow.get("concurrency", {}):
        problems.append("no concurrency group")
    for name, job in workflow["jobs"].items():
        if not isinstance(job.get("timeout-minutes"), int):
            problems.append(f"job {name} has no timeout-minutes")
        for step in job.get("steps", []):
            checkout = str(step.get("uses", "")).startswith("actions/checkout@")
            if checkout and step.get("with", {}).get("persist-credentials") is not False:
                problems.append(f"job {name}: checkout persists credentials")
    return problems
