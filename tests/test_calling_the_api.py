"""Gates tier: the baked README's "Calling the API", followed on a real bake with auth=oidc.

The section's two shell blocks are run as written: the first in bash (the dev-token command that
writes its key into `.env`, then the server), the second, in "another terminal", with the same
TOKEN. Only the port differs: the server gets a free one, and the curl line is pointed at it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.bake import NAMED, Baked, combination_params, free_port
from tools.database import throwaway_database

SERVICE = [NAMED["service"]]
SECTION = re.compile(r"^## Calling the API\n(?P<body>.*?)(?=^## |\Z)", re.DOTALL | re.MULTILINE)
BASH = re.compile(r"^```bash\n(?P<code>.*?)^```$", re.DOTALL | re.MULTILINE)
README_ADDRESS = "127.0.0.1:8000"


def bash_blocks(readme: str) -> list[list[str]]:
    section = SECTION.search(readme)
    assert section, "the baked README has no '## Calling the API' section"
    return [block["code"].strip().splitlines() for block in BASH.finditer(section["body"])]


def wait_until_up(base: str, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, server.communicate()[0]
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1) as answer:  # noqa: S310
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the server did not answer /healthz within 60 s")


@pytest.mark.parametrize("baked", combination_params(SERVICE), indirect=True)
def test_the_readme_calls_the_api_with_a_dev_token(baked: Baked, tmp_path: Path) -> None:
    assert baked.context.get("auth", "oidc") == "oidc"
    copy = tmp_path / baked.path.name
    shutil.copytree(
        baked.path,
        copy,
        ignore=shutil.ignore_patterns(".venv", "__pycache__", ".mypy_cache", ".ruff_cache"),
    )
    (token_and_server, calls) = bash_blocks((copy / "README.md").read_text())
    token_line, serve_line = token_and_server
    assert token_line.startswith("export TOKEN=$(uv run python -m ")
    assert "OIDC_DEV_KEY" not in (copy / ".env").read_text()
    port = free_port()
    with throwaway_database() as url:
        env = {**baked.env, "DATABASE_URL": url, "ENVIRONMENT": "development", "PORT": str(port)}
        project = Baked(copy, baked.context, env)
        for args in (("sync", "--locked"), ("run", "alembic", "upgrade", "head")):
            result = project.uv(*args)
            assert result.returncode == 0, result.stderr
        first = subprocess.run(
            ["bash", "-c", f'{token_line}\nprintf %s "$TOKEN"'],
            cwd=copy,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert first.returncode == 0, first.stderr
        token = first.stdout
        assert token.count(".") == 2, token
        assert "OIDC_DEV_KEY=" in (copy / ".env").read_text()
        server = subprocess.Popen(
            ["bash", "-c", f"exec {serve_line}"],
            cwd=copy,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            wait_until_up(f"http://127.0.0.1:{port}", server)
            for line in calls:
                assert README_ADDRESS in line, line
                call = subprocess.run(
                    ["bash", "-c", line.replace(README_ADDRESS, f"127.0.0.1:{port}")],
                    cwd=copy,
                    env={**env, "TOKEN": token},
                    capture_output=True,
                    text=True,
                    timeout=60,
                    check=False,
                )
                assert call.returncode == 0, (line, call.stdout, call.stderr)
                assert json.loads(call.stdout) == [], call.stdout
            anonymous = subprocess.run(
                ["bash", "-c", calls[0].replace(README_ADDRESS, f"127.0.0.1:{port}")],
                cwd=copy,
                env={**env, "TOKEN": ""},
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert anonymous.returncode != 0  # --fail-with-body: the 401 without a token
            assert json.loads(anonymous.stdout)["error"]["code"] == "unauthorized"
        finally:
            server.terminate()
            server.wait(timeout=30)
