"""What a job function is given, and its type."""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from {{ cookiecutter.module_name }}.db.session import Database


@dataclass(frozen=True)
class JobRun:
    """One attempt of one job, as its function sees it."""

    id: int
    task: str
    payload: Mapping[str, Any]
    attempt: int  # 1 for the first run
    database: Database  # the worker's: open a session per step, commit each step yourself


JobFunction = Callable[[JobRun], Awaitable[None]]
