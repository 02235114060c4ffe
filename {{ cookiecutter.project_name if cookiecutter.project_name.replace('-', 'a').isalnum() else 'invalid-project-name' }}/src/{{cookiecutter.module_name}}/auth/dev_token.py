"""Print a development token: `uv run python -m {{ cookiecutter.module_name }}.auth.dev_token --scope orders:read`.

The first run writes a new signing key into `.env` (OIDC_DEV_KEY); start (or restart) the
server after it, so that the server reads it. Development only (ENVIRONMENT=development).
"""

import argparse
import sys
import time
from pathlib import Path

import jwt

from {{ cookiecutter.module_name }}.auth.dev_key import DEV_ALGORITHM, DEV_ISSUER, DEV_KID, load_dev_key, new_dev_key
from {{ cookiecutter.module_name }}.core.config import Settings

ENV_FILE = Path(".env")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scope", action="append", default=[], help="a scope; repeatable")
    parser.add_argument("--subject", default="dev-user", help="the token's sub")
    parser.add_argument("--minutes", type=int, default=60, help="lifetime (default 60)")
    args = parser.parse_args(argv)

    settings = Settings()
    if settings.environment != "development":
        print("dev_token: only with ENVIRONMENT=development", file=sys.stderr)
        return 2
    if settings.oidc_dev_key is None:
        key_text = new_dev_key()
        existing = ENV_FILE.read_text(encoding="utf-8") if ENV_FILE.exists() else ""
        with ENV_FILE.open("a", encoding="utf-8") as env:
            if existing and not existing.endswith("\n"):
                env.write("\n")
            env.write("# Signs development tokens (dev_token); trusted only in development.\n")
            env.write(f"OIDC_DEV_KEY={key_text}\n")
        print(
            f"dev_token: wrote a new OIDC_DEV_KEY into {ENV_FILE}; (re)start the server",
            file=sys.stderr,
        )
    else:
        key_text = settings.oidc_dev_key.get_secret_value()
    now = int(time.time())
    claims = {
        "iss": settings.oidc_issuer or DEV_ISSUER,
        "aud": settings.audiences[0],
        "sub": args.subject,
        "iat": now,
        "exp": now + 60 * args.minutes,
        "scope": " ".join(args.scope),
    }
    token = jwt.encode(
        claims, load_dev_key(key_text), algorithm=DEV_ALGORITHM, headers={"kid": DEV_KID}
    )
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
