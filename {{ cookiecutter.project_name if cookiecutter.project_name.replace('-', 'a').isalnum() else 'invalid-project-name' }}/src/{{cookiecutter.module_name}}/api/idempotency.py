"""`Idempotency-Key` on POST (IETF httpapi draft "The Idempotency-Key HTTP Header Field"), so a
client can retry a POST and the retry creates nothing.

    router = APIRouter(prefix="/orders", route_class=IdempotentRoute)

Every POST of that router then accepts the optional header. The first request with a key runs and
its response (status, body, the headers in `REPLAYED_HEADERS`) is stored in the request's
session, so the key commits with the write it guards or not at all. A retry with the same key and
the same request gets that response again (with `Idempotent-Replayed: true`); the same key with
another request is 422; a retry while the first is still running is 409, found with a
non-blocking advisory lock rather than by waiting on a row. Keys expire after
IDEMPOTENCY_KEY_TTL_SECONDS. Record 0026 says why it is built this way.
"""

import hashlib
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response, status
from fastapi.routing import APIRoute
from sqlalchemy import and_, delete, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from {{ cookiecutter.module_name }}.api.errors import ErrorResponse, error_response
from {{ cookiecutter.module_name }}.db.session import SessionDep
from {{ cookiecutter.module_name }}.models.idempotency_key import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
# The draft's field is a Structured Field string: printable ASCII, quoted or (as most clients
# send it) bare. A UUID is 36 characters; 255 leaves room for any client's scheme.
MAX_KEY_LENGTH = 255
# Printable ASCII but `"` and `\`, bare or quoted: the header's documented form (parse_key).
KEY_PATTERN = r'^(?:"[!#-\[\]-~]+"|[!#-\[\]-~]+)$'
# Headers of the first response that a replay repeats; the others (date, request id, length)
# belong to each answer.
REPLAYED_HEADERS = ("content-type", "location", "content-location", "etag", "last-modified")
# Each key stored deletes up to this many expired ones in the same statement: keys expire at the
# rate they are made, so the table holds about one TTL's worth.
PURGE_BATCH = 10
# Separates this lock space from every other user of pg_advisory_xact_lock(bigint).
LOCK_SEED = int.from_bytes(hashlib.sha256(b"{{ cookiecutter.module_name }}:idempotency").digest()[:4])
STATE = "idempotency"

IDEMPOTENCY_RESPONSES: dict[int | str, dict[str, Any]] = {
    status.HTTP_400_BAD_REQUEST: {
        "model": ErrorResponse,
        "description": f"Malformed {HEADER} (`invalid_idempotency_key`)",
    },
    status.HTTP_409_CONFLICT: {
        "model": ErrorResponse,
        "description": f"A request with this {HEADER} is in progress (`idempotency_key_in_use`)",
    },
    status.HTTP_422_UNPROCESSABLE_CONTENT: {
        "model": ErrorResponse,
        "description": f"This {HEADER} was used for another request (`idempotency_key_reused`)",
    },
}


class IdempotencyError(Exception):
    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message

    def response(self) -> Response:
        headers = {"Retry-After": "1"} if self.status_code == status.HTTP_409_CONFLICT else None
        return error_response(self.status_code, self.code, self.message, headers=headers)


class Replay(Exception):  # noqa: N818 - not an error: the stored answer, raised past the route
    def __init__(self, stored: IdempotencyKey) -> None:
        super().__init__(stored.key)
        self.stored = stored

    def response(self) -> Response:
        return Response(
            self.stored.body,
            status_code=self.stored.status_code,
            headers={**self.stored.headers, REPLAYED: "true"},
        )
{%- if cookiecutter.auth == "oidc" %}


async def caller_scope(request: Request) -> str:
    """Whose keys these are: two callers never see each other's. The token's issuer and subject,
    which the app's authentication put on the request before any route dependency runs."""
    principal = getattr(request.state, "principal", None)
    return "global" if principal is None else f"{principal.issuer} {principal.subject}"
{%- else %}


async def caller_scope() -> str:
    """Whose keys these are: two callers never see each other's. With no identity every caller
    shares one scope; with OpenID Connect it becomes the token's issuer and subject."""
    return "global"
{%- endif %}


def parse_key(value: str) -> str:
    key = value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all("!" <= c <= "~" for c in key):
        msg = f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters, no spaces"
        raise IdempotencyError(status.HTTP_400_BAD_REQUEST, "invalid_idempotency_key", msg)
    if '"' in key or "\\" in key:
        msg = f'{HEADER} must not contain `"` or `\\` (quote the whole key, or nothing)'
        raise IdempotencyError(status.HTTP_400_BAD_REQUEST, "invalid_idempotency_key", msg)
    return key


async def fingerprint(request: Request) -> bytes:
    """What makes two requests "the same": method, path with query, and the body's bytes."""
    digest = hashlib.sha256(f"{request.method} {request.url.path}?{request.url.query}\n".encode())
    digest.update(await request.body())  # already read for the route: no second read
    return digest.digest()


@dataclass(frozen=True)
class Pending:
    """A key seen for the first time: its response is stored when the route has answered."""

    session: AsyncSession
    scope: str
    key: str
    fingerprint: bytes
    ttl: timedelta

    async def store(self, response: Response) -> None:
        body = getattr(response, "body", None)
        if not isinstance(body, bytes | memoryview):
            msg = f"a {type(response).__name__} cannot be stored for {HEADER} replays"
            raise TypeError(msg)
        values = {
            "scope": self.scope,
            "key": self.key,
            "fingerprint": self.fingerprint,
            "status_code": response.status_code,
            "headers": {
                name: value for name, value in response.headers.items() if name in REPLAYED_HEADERS
            },
            "body": bytes(body),
            "created_at": func.now(),
            "expires_at": func.now() + self.ttl,
        }
        table = IdempotencyKey
        expired = (
            select(table.scope, table.key)
            .where(table.expires_at <= func.now())
            .where(~and_(table.scope == self.scope, table.key == self.key))
            .order_by(table.expires_at)
            .limit(PURGE_BATCH)
            .with_for_update(skip_locked=True)
        )
        purge = delete(table).where(tuple_(table.scope, table.key).in_(expired)).cte("purge")
        new = insert(table).values(values).add_cte(purge)
        statement = new.on_conflict_do_update(
            index_elements=[table.scope, table.key],
            set_={name: new.excluded[name] for name in values if name not in {"scope", "key"}},
            where=table.expires_at <= func.now(),  # an expired key may be used afresh
        ).returning(table.key)
        if await self.session.scalar(statement) is None:
            # Only when the lock could not keep another request out (a REPEATABLE READ session
            # whose snapshot predates the first request's commit): never store a second answer.
            raise IdempotencyError(
                status.HTTP_409_CONFLICT,
                "idempotency_key_in_use",
                f"A request with this {HEADER} has just completed; retry to get its answer.",
            )


async def idempotency_key(
    request: Request,
    session: SessionDep,
    scope: Annotated[str, Depends(caller_scope)],
    key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            description=(
                "Optional. A unique value (a UUID, say) per operation: a retry with the same key "
                "and request gets the first response and creates nothing."
            ),
            # Documented, and checked by parse_key: a malformed key is a 400 of its own.
            json_schema_extra={"pattern": KEY_PATTERN, "maxLength": MAX_KEY_LENGTH},
        ),
    ] = None,
) -> None:
    """Runs after the route's other dependencies that it depends on (the caller's scope, so
    after authentication), and before the route's own code."""
    if key is None:
        return
    key = parse_key(key)
    request_fingerprint = await fingerprint(request)
    lock = func.pg_try_advisory_xact_lock(func.hashtextextended(f"{scope}\n{key}", LOCK_SEED))
    if not await session.scalar(select(lock)):
        raise IdempotencyError(
            status.HTTP_409_CONFLICT,
            "idempotency_key_in_use",
            f"A request with this {HEADER} is in progress; retry later.",
        )
    # A statement of its own, after the lock: under READ COMMITTED it sees a first request that
    # committed while this one waited for nothing.
    stored = await session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.scope == scope,
            IdempotencyKey.key == key,
            IdempotencyKey.expires_at > func.now(),
        )
    )
    if stored is None:
        ttl = timedelta(seconds=request.app.state.settings.idempotency_key_ttl_seconds)
        setattr(request.state, STATE, Pending(session, scope, key, request_fingerprint, ttl))
        return
    if stored.fingerprint != request_fingerprint:
        raise IdempotencyError(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "idempotency_key_reused",
            f"This {HEADER} was used for a different request; use a new key for a new request.",
        )
    raise Replay(stored)


class IdempotentRoute(APIRoute):
    """A route class (FastAPI's documented `APIRoute` extension) whose POST routes honour
    `Idempotency-Key`. The response is stored here, in the route's handler: a dependency never
    sees the response, and the request's session commits before the response is sent."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if "POST" in (kwargs.get("methods") or ()):
            kwargs["dependencies"] = [*(kwargs.get("dependencies") or ()), Depends(idempotency_key)]
            responses = dict(kwargs.get("responses") or {})
            for code, documented in IDEMPOTENCY_RESPONSES.items():
                given = responses.get(code)
                if given is None:
                    responses[code] = documented
                else:
                    description = f"{given.get('description', '')}; {documented['description']}"
                    responses[code] = {**given, "description": description.lstrip("; ")}
            kwargs["responses"] = responses
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def idempotent_handler(request: Request) -> Response:
            try:
                response = await handler(request)
            except (IdempotencyError, Replay) as answer:
                return answer.response()
            pending: Pending | None = getattr(request.state, STATE, None)
            if pending is not None:
                try:
                    await pending.store(response)
                except IdempotencyError as error:
                    await pending.session.rollback()  # the route's writes must not commit
                    return error.response()
            return response

        return idempotent_handler
