"""What a person does at a terminal, for the template tests that replay it: the commands a
README names, read from the README and run as written; servers started and stopped; a prompt
answered through a pseudo-terminal; and a transcript of it all."""

from __future__ import annotations

import os
import pty
import re
import select
import shlex
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.bake import TEMPLATE_DIR
from tests.cruft_drill import attempt

# ---------------------------------------------------------------- reading the READMEs


def code_block(readme: Path, heading: str) -> list[str]:
    """The commands of the code blocks in the section under `heading`, comments dropped."""
    text = readme.read_text(encoding="utf-8")
    section = text[text.index(f"\n{heading}\n") + len(heading) + 2 :].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)
    assert blocks, f"no code block under {heading!r} in {readme}"
    lines = (
        re.sub(r"\s+#.*$", "", line).strip() for block in blocks for line in block.splitlines()
    )
    return [line for line in lines if line]


def readme_cruft() -> list[str]:
    """The cruft command line the template's README tells users to run (`… cruft update`)."""
    commands = code_block(TEMPLATE_DIR / "README.md", "## Updating a baked project")
    update = next(line for line in commands if line.endswith(" cruft update"))
    return shlex.split(update.removesuffix(" update"))


# ---------------------------------------------------------------- running what a user runs


@dataclass
class Transcript:
    """Every command of the week and the first lines it printed, for the closing note."""

    lines: list[str] = field(default_factory=list)

    def add(self, command: str, result: subprocess.CompletedProcess[str] | str) -> None:
        if isinstance(result, str):
            output, code = result, ""
        else:
            output, code = result.stdout + result.stderr, f" (exit {result.returncode})"
        output = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", output)  # colours of a terminal
        shown = [line for line in output.strip().splitlines() if line.strip()]
        wanted = [line for line in shown if "does not exist" in line]
        shown = wanted or shown[-3:]
        self.lines.append(f"$ {command}{code}")
        self.lines += [f"    {line[:160]}" for line in shown]


def shell(line: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A README line exactly as a person types it into bash."""
    return attempt(["bash", "-c", line], cwd, env, timeout=900)


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> str:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # --reload runs the app in a child
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.log.read_text(encoding="utf-8", errors="replace")


def start(args: list[str], cwd: Path, env: dict[str, str], log: Path) -> Server:
    with log.open("wb") as out:
        process = subprocess.Popen(
            args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Server(process, log)


def status_of(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def wait_for(url: str, want: int, seconds: float = 60) -> int | None:
    deadline = time.monotonic() + seconds
    got = None
    while time.monotonic() < deadline:
        got = status_of(url)
        if got == want:
            return got
        time.sleep(0.5)
    return got


def wait_for_text(log: Path, text: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and text not in log.read_text(errors="replace"):
        time.sleep(0.5)


def answer_through_a_pty(
    args: list[str], cwd: Path, env: dict[str, str], prompt: bytes, answer: bytes
) -> tuple[int, str, bool]:
    """Run `args` on a pseudo-terminal, type `answer` when `prompt` appears; (exit, output,
    whether the prompt was answered)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        args, cwd=cwd, env=env, stdin=follower, stdout=follower, stderr=follower,
        start_new_session=True,
    )  # fmt: skip
    os.close(follower)
    output, answered = b"", False
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 1.0)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
            if not answered and prompt in output:
                os.write(leader, answer)
                answered = True
    finally:
        if process.poll() is None and time.monotonic() >= deadline:
            process.kill()
        process.wait(timeout=60)
        os.close(leader)
    return process.returncode, output.decode(errors="replace"), answered
