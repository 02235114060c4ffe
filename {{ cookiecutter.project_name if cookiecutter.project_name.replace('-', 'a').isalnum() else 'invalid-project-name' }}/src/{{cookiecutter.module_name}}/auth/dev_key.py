"""The local signing key for development tokens (`python -m {{ cookiecutter.module_name }}.auth.dev_token`).

It lives in the git-ignored `.env` as OIDC_DEV_KEY and is trusted only with
ENVIRONMENT=development; production refuses to start with it set (core/config.py).
"""

import base64
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from {{ cookiecutter.module_name }}.core.config import Settings

# The issuer of development tokens when OIDC_ISSUER is not set.
DEV_ISSUER = "urn:dev-token"
DEV_KID = "dev"
DEV_ALGORITHM = "ES256"


def new_dev_key() -> str:
    """A new P-256 private key, as one line for `.env`."""
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return base64.urlsafe_b64encode(der).decode()


def load_dev_key(text: str) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_der_private_key(base64.urlsafe_b64decode(text), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        msg = "OIDC_DEV_KEY is not an EC private key: delete it and run dev_token again"
        raise TypeError(msg)
    return key


def dev_public_jwk(settings: Settings) -> dict[str, Any] | None:
    """The development key's public half, when this environment may trust it."""
    if settings.environment != "development" or settings.oidc_dev_key is None:
        return None
    public = load_dev_key(settings.oidc_dev_key.get_secret_value()).public_key()
    jwk: dict[str, Any] = jwt.algorithms.ECAlgorithm.to_jwk(public, as_dict=True)
    return {**jwk, "kid": DEV_KID, "alg": DEV_ALGORITHM, "use": "sig"}
