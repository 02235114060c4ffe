"""The auth=oidc bake's own test issuer (its tests/issuer.py: discovery and JWKS over HTTP on
loopback, real RSA and EC keys), run in that project's venv for the authenticated rows: the
service fetches its keys from it as from a provider, and wrk sends the tokens it minted."""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SCOPES = ("items:read", "items:write")
# Runs inside the project (cwd), whose tests package holds the issuer; stays up until stdin ends.
SCRIPT = f"""
import json, sys
from tests.issuer import AUDIENCE, Issuer
issuer = Issuer()
with issuer.running():
    kids = {{"RS256": issuer.rsa_kid, "ES256": issuer.ec_kid}}
    tokens = {{alg: issuer.token({SCOPES!r}, kid=kid, lifetime=86400) for alg, kid in kids.items()}}
    print(json.dumps({{"url": issuer.url, "audience": AUDIENCE, "tokens": tokens}}), flush=True)
    sys.stdin.read()
"""


@dataclass(frozen=True)
class RunningIssuer:
    url: str
    audience: str
    tokens: dict[str, str]  # per algorithm (RS256, ES256): a day-long token with SCOPES

    def settings(self) -> dict[str, str]:
        """What the service needs to trust it."""
        return {"OIDC_ISSUER": self.url, "OIDC_AUDIENCE": self.audience}

    def headers(self, algorithm: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[algorithm]}"}


@contextlib.contextmanager
def running_issuer(project: Path, env: dict[str, str]) -> Iterator[RunningIssuer]:
    python = str(project / ".venv" / "bin" / "python")
    process = subprocess.Popen(
        [python, "-c", SCRIPT],
        cwd=project,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"the test issuer exited ({process.wait(timeout=30)})")
        started = json.loads(line)
        yield RunningIssuer(started["url"], started["audience"], started["tokens"])
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
