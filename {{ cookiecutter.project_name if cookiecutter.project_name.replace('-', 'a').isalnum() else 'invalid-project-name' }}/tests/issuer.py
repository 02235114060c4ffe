"""A real OpenID Connect issuer for the tests: HTTP on loopback, with discovery and a JWKS of
real RSA and EC keys, that mints tokens, rotates keys, counts fetches and can go down."""

import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

AUDIENCE = "{{ cookiecutter.project_name }}-tests"

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class LoopbackServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that closed its connection before the answer was written (a service that
        # shut down or gave up mid-fetch) is no fault of the issuer: no traceback for it.
        if not isinstance(sys.exception(), ConnectionError):
            super().handle_error(request, client_address)


def public_jwk(kid: str, key: SigningKey) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPrivateKey):
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    else:
        jwk = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "use": "sig"}


class Issuer:
    def __init__(self) -> None:
        self.keys: dict[str, SigningKey] = {}
        self.rsa_kid = self.add_rsa_key()
        self.ec_kid = self.add_ec_key()
        self.jwks_hits = 0
        self.discovery_hits = 0
        self.down = False
        self.requests = 0  # every request, answered or not
        self.url = ""  # set by `running`
        self.discovery_issuer: str | None = None  # None: the issuer's own URL

    def add_rsa_key(self) -> str:
        kid = f"rsa-{len(self.keys)}"
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return kid

    def add_ec_key(self) -> str:
        kid = f"ec-{len(self.keys)}"
        self.keys[kid] = ec.generate_private_key(ec.SECP256R1())
        return kid

    def rotate(self) -> str:
        """A new RSA key replaces every key: tokens signed with the old ones stop verifying."""
        old = list(self.keys)
        kid = self.add_rsa_key()
        for name in old:
            del self.keys[name]
        self.rsa_kid = kid
        return kid

    def jwks(self) -> dict[str, Any]:
        return {"keys": [public_jwk(kid, key) for kid, key in self.keys.items()]}

    def token(
        self,
        scopes: tuple[str, ...] | list[str] = (),
        *,
        kid: str | None = None,
        algorithm: str | None = None,
        lifetime: int = 300,
        header_kid: str | None = None,
        **claims: Any,
    ) -> str:
        kid = kid or self.rsa_kid
        key = self.keys[kid]
        algorithm = algorithm or ("RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256")
        now = int(time.time())
        payload = {
            "iss": self.url,
            "aud": AUDIENCE,
            "sub": "user-1",
            "client_id": "test-client",
            "iat": now,
            "exp": now + lifetime,
            "scope": " ".join(scopes),
            **claims,
        }
        return jwt.encode(payload, key, algorithm=algorithm, headers={"kid": header_kid or kid})

    @contextmanager
    def running(self) -> Iterator["Issuer"]:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.requests += 1
                if issuer.down:
                    self.send_error(503)
                    return
                if self.path == "/.well-known/openid-configuration":
                    issuer.discovery_hits += 1
                    body: dict[str, Any] = {
                        "issuer": issuer.discovery_issuer or issuer.url,
                        "jwks_uri": f"{issuer.url}/jwks",
                    }
                elif self.path == "/jwks":
                    issuer.jwks_hits += 1
                    body = issuer.jwks()
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                """Quiet."""

        server = LoopbackServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        # shutdown() waits for the loop to look up, once per poll interval (0.5 s by default).
        serve = {"poll_interval": 0.05}
        thread = threading.Thread(target=server.serve_forever, kwargs=serve, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join()
