"""The servers and workers the tests start: wait until one answers, and stop one as an
orchestrator does (SIGTERM, a grace period, then SIGKILL)."""

from __future__ import annotations

import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest


def status_of(url: str, timeout: float = 2.0) -> int | None:
    """The status a GET of `url` answers, or None while nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310 (loopback)
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def wait_until_answers(
    url: str, process: subprocess.Popen[bytes], log: Path, seconds: float, status: int = 200
) -> None:
    """Poll `url` until it answers `status` (a start-up bound, not a timing check); fail with the
    process's log when it exits first or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while status_of(url) != status:
        if process.poll() is not None or time.monotonic() > deadline:
            shown = log.read_text(errors="replace")[-6000:]
            pytest.fail(
                f"{url} did not answer {status} within {seconds:g} s "
                f"(exit code {process.poll()}):\n{shown}"
            )
        time.sleep(0.2)


def stop(process: subprocess.Popen[bytes], grace: float = 30.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
