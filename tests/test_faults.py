"""Faults tier: the production server command of one baked project, on a private PostgreSQL 15
instance this module starts, driven through the database faults production meets: a lock held,
a statement cancelled, a statement timeout, a read-only database (and back), a frozen server, a
fast restart and a `kill -9` of the postmaster.

Each answer comes within its bound with the documented status, code and Retry-After, never a
500; a writer posts items through the whole drill, and every write answered 201 is in the table
afterwards. The limits are set as a PgBouncer user would set them, on the database
(`ALTER DATABASE ... SET`), and as the service's own settings, which win at connect time. The
tests run in file order on one instance and one server: each leaves the database as it found it.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.bake import NAMED, Baked, combination_params, free_port
from tests.dev_tokens import dev_key_env, dev_token, has_auth
from tests.fault_drill import migrated_private_database
from tests.processes import stop, wait_until_answers
from tools.private_postgres import PrivatePostgres

pytestmark = pytest.mark.parametrize("baked", combination_params([NAMED["local"]]), indirect=True)

ROLE = "drill_app"
DATABASE = "drill"
# The bounds, small so that the tier stays short.
LOCK_TIMEOUT_SECONDS = 1
STATEMENT_TIMEOUT_SECONDS = 3
CONNECT_TIMEOUT_SECONDS = 1
REQUEST_DEADLINE_SECONDS = 6
# What the service itself may add to a bound on a shared, loaded machine.
MARGIN_SECONDS = 2.0
SETTINGS = {
    "ENVIRONMENT": "production",
    "LOG_FORMAT": "json",
    "HOST": "127.0.0.1",
    "DB_CONNECT_TIMEOUT_SECONDS": str(CONNECT_TIMEOUT_SECONDS),
    "DB_POOL_TIMEOUT_SECONDS": "2",
    "READINESS_TIMEOUT_SECONDS": "1",
    # The database bounds as the service's own settings (the drill also sets the lock and
    # statement timeouts on the database, as behind PgBouncer).
    "DB_LOCK_TIMEOUT_SECONDS": str(LOCK_TIMEOUT_SECONDS),
    "DB_STATEMENT_TIMEOUT_SECONDS": str(STATEMENT_TIMEOUT_SECONDS),
    "DB_COMMAND_TIMEOUT_SECONDS": str(STATEMENT_TIMEOUT_SECONDS + 1),
    "DB_REQUEST_DEADLINE_SECONDS": str(REQUEST_DEADLINE_SECONDS),
}
# A statement that takes as long as the test wants: an insert whose name starts with "slow".
SLOW_INSERTS = """
CREATE FUNCTION drill_slow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.name LIKE 'slow%' THEN PERFORM pg_sleep(60); END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER drill_slow BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION drill_slow();
"""
TERMINATE_THE_SERVICES_CONNECTIONS = (
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'drill_app'"
)
RETRY_AFTER = {
    "database_timeout": "2",
    "database_busy": "1",
    "database_read_only": "5",
    "database_unavailable": "5",
}


@dataclass(frozen=True)
class Answer:
    method: str
    path: str
    status: int  # 0: no HTTP answer at all
    body: dict
    retry_after: str | None
    seconds: float

    @property
    def code(self) -> str | None:
        return self.body.get("error", {}).get("code")


def call(
    base: str,
    method: str,
    path: str,
    body: dict | None = None,
    timeout: float = 30,
    headers: dict[str, str] | None = None,
) -> Answer:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 (loopback)
        base + path,
        data=data,
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status, raw, headers = response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        status, raw, headers = error.code, error.read(), error.headers
    except OSError:
        return Answer(method, path, 0, {}, None, time.monotonic() - started)
    seconds = time.monotonic() - started
    parsed = json.loads(raw) if raw else {}
    return Answer(method, path, status, parsed, headers.get("Retry-After"), seconds)


@dataclass
class Drill:
    base: str
    postgres: PrivatePostgres
    baked: Baked
    log: Path
    headers: dict[str, str] = field(default_factory=dict)  # a bearer token with auth=oidc
    answers: list[Answer] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def call(self, method: str, path: str, body: dict | None = None) -> Answer:
        answer = call(self.base, method, path, body, headers=self.headers)
        with self.lock:
            self.answers.append(answer)
        return answer

    def create(self, name: str) -> Answer:
        return self.call("POST", "/items", {"name": name})

    def sql(self, statement: str) -> str:
        return self.postgres.psql(statement, DATABASE)

    def until(
        self, make: Callable[[], Answer], done: Callable[[Answer], bool], seconds: float
    ) -> list[Answer]:
        """Call `make()` until `done(answer)`, at most `seconds`; every answer, in order."""
        answers = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            answers.append(make())
            if done(answers[-1]):
                return answers
            time.sleep(0.1)
        pytest.fail(f"not done within {seconds} s: {answers[-3:]}")


def assert_transient(answer: Answer, *codes: str, bound: float) -> None:
    """503 in the error shape with one of `codes` and its Retry-After, within `bound` s."""
    assert answer.status == 503, answer
    assert answer.code in codes, answer
    assert answer.retry_after == RETRY_AFTER[answer.code], answer
    assert answer.seconds < bound + MARGIN_SECONDS, answer


class Writer(threading.Thread):
    """Posts items one after another for the whole drill."""

    def __init__(self, drill: Drill) -> None:
        super().__init__(daemon=True)
        self.drill = drill
        self.stop = threading.Event()

    def run(self) -> None:
        count = 0
        while not self.stop.is_set():
            count += 1
            self.drill.create(f"drill-{count}")
            self.stop.wait(0.05)


def module_of(baked: Baked) -> str:
    return next(p.name for p in (baked.path / "src").iterdir() if p.is_dir())


def served(baked: Baked, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    python = baked.path / ".venv" / "bin" / "python"
    with log.open("wb") as sink:
        return subprocess.Popen(
            [str(python), "-m", f"{module_of(baked)}.serve"],
            cwd=baked.path,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


@pytest.fixture(scope="module")
def drill(baked: Baked, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drill]:
    port = free_port()
    settings = {
        **SETTINGS,
        "PORT": str(port),
        # With auth=oidc: development, where the service trusts development tokens (the
        # production guard refuses their key); the drill sets the log format itself.
        **dev_key_env(baked),
    }
    on_the_database = {  # as behind PgBouncer (SETTINGS)
        "lock_timeout": f"{LOCK_TIMEOUT_SECONDS}s",
        "statement_timeout": f"{STATEMENT_TIMEOUT_SECONDS}s",
    }
    private = migrated_private_database(baked, ROLE, DATABASE, settings, on_the_database)
    with private as (postgres, env):
        postgres.psql(SLOW_INSERTS, DATABASE)
        log = tmp_path_factory.mktemp("faults") / "server.log"
        server = served(baked, env, log)
        token = dev_token(baked, env, "items:read", "items:write") if has_auth(baked) else ""
        bearer = {"Authorization": f"Bearer {token}"} if token else {}
        drill = Drill(f"http://127.0.0.1:{port}", postgres, baked, log, bearer)
        writer = Writer(drill)
        try:
            wait_until_answers(f"{drill.base}/readyz", server, log, seconds=60)
            writer.start()
            yield drill
        finally:
            writer.stop.set()
            writer.join(timeout=60)
            stop(server)


def test_a_lock_held_past_lock_timeout_answers_database_busy(drill: Drill) -> None:
    created = drill.create("locked")
    assert created.status == 201, created
    holder = drill.postgres.session(DATABASE)
    assert holder.stdin
    assert holder.stdout
    try:
        holder.stdin.write(
            f"BEGIN;\nSELECT 'locked' FROM items WHERE id = {created.body['id']} FOR UPDATE;\n"
        )
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "locked"
        answer = drill.call("PATCH", f"/items/{created.body['id']}", {"name": "waited"})
        assert_transient(answer, "database_busy", bound=LOCK_TIMEOUT_SECONDS)
    finally:
        holder.stdin.write("ROLLBACK;\n")
        holder.stdin.close()
        holder.wait(timeout=30)
    assert drill.call("PATCH", f"/items/{created.body['id']}", {"name": "free"}).status == 200


def test_a_statement_past_statement_timeout_answers_database_timeout(drill: Drill) -> None:
    answer = drill.create("slow-timeout")
    assert_transient(answer, "database_timeout", bound=STATEMENT_TIMEOUT_SECONDS)


def test_a_cancelled_statement_answers_database_timeout(drill: Drill) -> None:
    answers: list[Answer] = []
    request = threading.Thread(target=lambda: answers.append(drill.create("slow-cancel")))
    request.start()
    sleeping = "SELECT pid FROM pg_stat_activity WHERE wait_event = 'PgSleep'"
    deadline = time.monotonic() + STATEMENT_TIMEOUT_SECONDS
    while not (pid := drill.sql(sleeping)) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert pid, "the slow insert never started"
    assert drill.sql(f"SELECT pg_cancel_backend({pid})") == "t"
    request.join(timeout=30)
    [answer] = answers
    assert_transient(answer, "database_timeout", bound=0)


def test_a_read_only_database_answers_database_read_only_and_the_pool_heals(
    drill: Drill,
) -> None:
    existing = drill.create("before-read-only")
    assert existing.status == 201, existing
    # From another database: once it is read-only, this one refuses the ALTER that undoes it.
    drill.postgres.psql(f"ALTER DATABASE {DATABASE} SET default_transaction_read_only = on")
    # New connections see the setting: end the service's (what a failover does to them).
    drill.sql(TERMINATE_THE_SERVICES_CONNECTIONS)
    try:
        refused = drill.until(
            lambda: drill.create("during-read-only"),
            lambda answer: answer.code == "database_read_only",
            seconds=15,
        )
        for answer in refused:
            assert_transient(
                answer, "database_read_only", "database_unavailable", bound=CONNECT_TIMEOUT_SECONDS
            )
        read = drill.call("GET", f"/items/{existing.body['id']}")
        assert read.status == 200, read  # reads go on
    finally:
        drill.postgres.psql(f"ALTER DATABASE {DATABASE} RESET default_transaction_read_only")
    # No restart of the service: the first connection that finds the database read-only takes
    # every older one out of the pool with it, so the next write reconnects and is taken. (A
    # pool that kept them took 9 writes here, healing only as the writer's load added
    # connections.)
    healed = drill.until(
        lambda: drill.create("after-read-only"), lambda answer: answer.status == 201, seconds=15
    )
    assert len(healed) <= 2, healed
    for answer in healed[:-1]:
        assert_transient(answer, "database_read_only", bound=CONNECT_TIMEOUT_SECONDS)


def test_a_frozen_database_answers_within_the_request_deadline(drill: Drill) -> None:
    existing = drill.create("before-freeze")
    assert existing.status == 201, existing
    drill.postgres.freeze()
    try:
        for answer in (drill.call("GET", f"/items/{existing.body['id']}"), drill.create("frozen")):
            assert_transient(
                answer,
                "database_timeout",
                "database_busy",
                "database_unavailable",
                bound=REQUEST_DEADLINE_SECONDS,
            )
    finally:
        drill.postgres.thaw()
    drill.until(
        lambda: drill.call("GET", f"/items/{existing.body['id']}"),
        lambda answer: answer.status == 200,
        seconds=REQUEST_DEADLINE_SECONDS + 10,
    )


def test_a_restart_answers_database_unavailable_then_serves_again(drill: Drill) -> None:
    drill.postgres.restart()
    answers = drill.until(
        lambda: drill.create("after-restart"), lambda answer: answer.status == 201, seconds=20
    )
    for answer in answers[:-1]:
        assert_transient(answer, "database_unavailable", bound=CONNECT_TIMEOUT_SECONDS)


def test_a_killed_postmaster_answers_database_unavailable_then_serves_again(
    drill: Drill,
) -> None:
    drill.postgres.kill_postmaster()
    try:
        answer = drill.create("while-down")
        assert_transient(answer, "database_unavailable", bound=CONNECT_TIMEOUT_SECONDS)
    finally:
        drill.postgres.start()  # crash recovery
    answers = drill.until(
        lambda: drill.create("after-kill"), lambda answer: answer.status == 201, seconds=30
    )
    for answer in answers[:-1]:
        assert_transient(answer, "database_unavailable", bound=CONNECT_TIMEOUT_SECONDS)


def test_every_acknowledged_write_is_stored_and_no_answer_was_a_500(drill: Drill) -> None:
    time.sleep(0.5)  # a few more writes on the recovered server
    with drill.lock:
        answers = list(drill.answers)
    acknowledged = {a.body["id"] for a in answers if a.method == "POST" and a.status == 201}
    stored = {int(row) for row in drill.sql("SELECT id FROM items").split()}
    assert acknowledged, "no write was acknowledged during the drill"
    assert acknowledged <= stored, f"acknowledged but lost: {sorted(acknowledged - stored)}"
    for answer in answers:
        assert answer.status in {200, 201, 503}, answer
        if answer.status == 503:
            assert answer.retry_after == RETRY_AFTER[answer.code], answer
        bound = REQUEST_DEADLINE_SECONDS + MARGIN_SECONDS
        assert answer.seconds < bound, answer
    lines = [
        json.loads(line) for line in drill.log.read_text().splitlines() if line.startswith("{")
    ]
    errors = [line for line in lines if line["level"] in {"ERROR", "CRITICAL"}]
    assert not errors, errors[:3]
    warnings = [line for line in lines if line.get("error_code") in RETRY_AFTER]
    assert warnings, "no warning line for the transient errors"
    assert all(line["request_id"] != "-" for line in warnings), warnings[:3]
