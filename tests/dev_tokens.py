"""Development tokens for the tiers that call a baked auth=oidc service over HTTP: a signing key
for one run, passed in the environment (the shared bake's .env stays as it was), and a token
from the baked dev-token command."""

from __future__ import annotations

from tests.bake import Baked


def module_of(baked: Baked) -> str:
    return next(p.name for p in (baked.path / "src").iterdir() if p.is_dir())


def has_auth(baked: Baked) -> bool:
    return baked.context.get("auth", "oidc") == "oidc"


def dev_key_env(baked: Baked) -> dict[str, str]:
    """The settings under which the service trusts development tokens; none with auth=none."""
    if not has_auth(baked):
        return {}
    code = f"from {module_of(baked)}.auth.dev_key import new_dev_key; print(new_dev_key())"
    made = baked.uv("run", "--locked", "python", "-c", code)
    assert made.returncode == 0, made.stderr
    return {"ENVIRONMENT": "development", "OIDC_DEV_KEY": made.stdout.strip()}


def dev_token(baked: Baked, env: dict[str, str], *scopes: str) -> str:
    """A token from `python -m <module>.auth.dev_token` under `env` (which holds the key)."""
    arguments = [argument for scope in scopes for argument in ("--scope", scope)]
    made = Baked(baked.path, baked.context, env).uv(
        "run", "--locked", "python", "-m", f"{module_of(baked)}.auth.dev_token", *arguments
    )
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()
