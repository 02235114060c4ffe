"""Graceful shutdown of the production server command: on SIGTERM a request already in flight
still completes with 200, new connections are refused, and the application shuts down cleanly;
a request still running at the grace limit answers 503 and has its access line."""

import json
import signal
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.server_process import running_server
from tests.slow_app import STARTED

SLOW_APP = "tests.slow_app:app"


def test_sigterm_lets_an_in_flight_request_finish(database_url: str) -> None:
    with (
        running_server(SLOW_APP, database_url, SHUTDOWN_GRACE_SECONDS="10") as server,
        ThreadPoolExecutor(max_workers=1) as pool,
    ):
        in_flight = pool.submit(httpx.get, f"{server.base}/slow", params={"seconds": 2}, timeout=15)
        server.wait_for_line(STARTED)
        server.process.send_signal(signal.SIGTERM)
        server.wait_until_refused()
        response = in_flight.result(timeout=15)
        assert response.status_code == 200
        assert response.json() == {"slept": 2.0}
        server.process.wait(timeout=15)
        # uvicorn re-raises the signal once it has shut down cleanly: exit 143 (-15 here) is normal.
        assert server.process.returncode in {0, -signal.SIGTERM}, server.output
        server.wait_for_line("Application shutdown complete")


def test_a_request_cut_at_the_grace_limit_answers_503_and_is_logged(database_url: str) -> None:
    with (
        running_server(
            SLOW_APP, database_url, SHUTDOWN_GRACE_SECONDS="1", LOG_FORMAT="json"
        ) as server,
        ThreadPoolExecutor(max_workers=1) as pool,
    ):
        in_flight = pool.submit(
            httpx.get, f"{server.base}/slow", params={"seconds": 60}, timeout=30
        )
        server.wait_for_line(STARTED)
        server.process.send_signal(signal.SIGTERM)
        response = in_flight.result(timeout=30)
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert response.json()["error"]["code"] == "shutting_down"
        server.process.wait(timeout=15)
        access = json.loads(server.wait_for_line('"path": "/slow"'))
        assert access["status"] == 503
        assert access["cancelled"] is True
        assert access["request_id"] == response.headers["x-request-id"]
