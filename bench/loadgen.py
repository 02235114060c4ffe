"""Load from wrk: one run against one URL, parsed into requests/s, latency percentiles, errors,
and the server process's CPU time per request (read from /proc around the run)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

THREADS = 1
CONNECTIONS = 32
# Long enough that a starved request counts in the percentiles instead of vanishing as a timeout.
TIMEOUT = "10s"
UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class WrkMissingError(RuntimeError):
    pass


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise WrkMissingError(
            "wrk is not on PATH: apt-get update && apt-get install -y wrk (Debian package)"
        )
    return found


def wrk_version() -> str:
    result = subprocess.run([wrk_binary(), "--version"], capture_output=True, text=True)
    match = re.search(r"wrk (\S+)", result.stdout + result.stderr)
    return match.group(1) if match else "unknown"


@dataclass(frozen=True)
class Load:
    requests_per_second: float
    p50: float  # seconds
    p99: float
    requests: int
    bad: int  # non-2xx responses plus socket errors and timeouts
    cpu_per_request: float | None  # seconds of server CPU per request

    @property
    def tail(self) -> float:
        return self.p99 / self.p50 if self.p50 else float("inf")


def _seconds(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"unexpected wrk duration {text!r}")
    return float(match.group(1)) * UNITS[match.group(2)]


def parse(output: str) -> tuple[float, float, float, int, int]:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    total = re.search(r"(\d+) requests in", output)
    if not (rps and p50 and p99 and total):
        raise ValueError(f"could not parse wrk output:\n{output}")
    bad = 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non2xx:
        bad += int(non2xx.group(1))
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if errors:
        bad += sum(int(n) for n in errors.groups())
    return (
        float(rps.group(1)),
        _seconds(p50.group(1)),
        _seconds(p99.group(1)),
        int(total.group(1)),
        bad,
    )


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux), None where /proc does not exist."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After the command name: state is field 3, utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def run(
    url: str,
    seconds: float,
    *,
    server_pid: int | None = None,
    script: Path | None = None,
    env: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Load:
    command = [
        wrk_binary(),
        f"-t{THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={TIMEOUT}",
        "--latency",
    ]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if script is not None:
        command += ["-s", str(script)]
    command.append(url)
    before = cpu_seconds(server_pid) if server_pid else None
    result = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=seconds + 60, check=False
    )
    after = cpu_seconds(server_pid) if server_pid else None
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stderr or result.stdout}")
    rps, p50, p99, requests, bad = parse(result.stdout)
    cpu = None
    if before is not None and after is not None and requests:
        cpu = (after - before) / requests
    return Load(rps, p50, p99, requests, bad, cpu)
