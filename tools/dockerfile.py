"""A Dockerfile read as build stages of instructions: what the static tier checks and the
container engine reads its base images from."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, RUN, COPY, ...
    arguments: str

    def exec_form(self) -> list[str]:
        """The JSON array of an exec-form CMD/ENTRYPOINT (after any flags, for HEALTHCHECK)."""
        return list(json.loads(self.arguments[self.arguments.index("[") :]))

    def tokens(self) -> list[str]:
        return shlex.split(self.arguments)


def dockerfile_stages(text: str) -> list[list[Instruction]]:
    """Instructions per build stage; continuation lines joined, comments dropped."""
    logical: list[str] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#") or not line:
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    stages: list[list[Instruction]] = []
    for line in logical:
        keyword, _, arguments = line.partition(" ")
        instruction = Instruction(keyword.upper(), arguments.strip())
        if instruction.keyword == "FROM":
            stages.append([])
        stages[-1].append(instruction)
    return stages


def instructions(stage: list[Instruction], keyword: str) -> list[Instruction]:
    return [item for item in stage if item.keyword == keyword]
