"""WORKERS > 1: worker processes on one listening socket, kept alive, stopped without a reset.

uvicorn's own supervisor keeps the listening socket open until its last worker has exited, so
during a drain the kernel goes on accepting connections that nobody serves, and resets them when
the process exits. Here the supervisor closes its copy of the socket as soon as it is told to
stop and forwards the signal; each worker serves its accept queue and closes its copy too
(server/draining.py), so a connection is either refused or answered. A worker that dies is
started again, and both events are log lines (JSON in production) from this process. A worker
whose supervisor is killed outright (SIGKILL, the OOM killer) drains and exits on its own.
"""

import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess

logger = logging.getLogger(__name__)

# uvicorn's exit status when the app's start-up fails: starting it again would fail again.
STARTUP_FAILURE = 3
# How long the supervisor waits for the workers beyond their own grace before killing them.
KILL_MARGIN_SECONDS = 5.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# A worker that dies sooner than this after its start is started again only after this long,
# so that a crash at start-up does not become a busy loop of new processes.
RESTART_DELAY_SECONDS = 1.0


def exit_text(code: int | None) -> str:
    if code is not None and code < 0:
        return signal.Signals(-code).name
    return f"exit status {code}"


class Supervisor:
    def __init__(
        self,
        count: int,
        worker: Callable[[socket.socket], None],
        listener: socket.socket,
        grace_seconds: float,
    ) -> None:
        self.count = count
        self.worker = worker
        self.listener = listener
        self.grace_seconds = grace_seconds
        self.context = multiprocessing.get_context("spawn")
        self.workers: dict[int, BaseProcess] = {}
        self.started_at: dict[int, float] = {}
        # Signals wake the supervisor's wait through this pair (signal.set_wakeup_fd).
        self.wake_reader, self.wake_writer = socket.socketpair()
        self.wake_writer.setblocking(False)
        self.stopping = False
        self.stop_signal: int | None = None
        self.status = 0

    def run(self) -> int:
        previous = {sig: signal.signal(sig, self.stop) for sig in STOP_SIGNALS}
        old_wakeup = signal.set_wakeup_fd(self.wake_writer.fileno())
        try:
            for slot in range(self.count):
                self.start(slot)
            while not self.stopping:
                sentinels = [process.sentinel for process in self.workers.values()]
                wait([*sentinels, self.wake_reader])  # a worker exited, or a signal arrived
                self.replace_dead_workers()
            self.stop_workers()
        finally:
            signal.set_wakeup_fd(old_wakeup)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.wake_reader.close()
            self.wake_writer.close()
        return self.status

    def start(self, slot: int, replaces: int | None = None) -> None:
        process = self.context.Process(
            target=self.worker, args=(self.listener,), name=f"worker-{slot}"
        )
        process.start()
        self.workers[slot] = process
        self.started_at[slot] = time.monotonic()
        if replaces is None:
            logger.info("worker %s started", process.pid, extra={"worker_pid": process.pid})
        else:
            logger.warning(
                "worker %s started in place of worker %s",
                process.pid,
                replaces,
                extra={"worker_pid": process.pid, "replaces": replaces},
            )

    def replace_dead_workers(self) -> None:
        for slot, process in list(self.workers.items()):
            if process.is_alive() or self.stopping:
                continue
            process.join()
            reason = exit_text(process.exitcode)
            logger.error(
                "worker %s died (%s)",
                process.pid,
                reason,
                extra={"worker_pid": process.pid, "exit": reason},
            )
            if process.exitcode == STARTUP_FAILURE:
                logger.error("the app failed to start: stopping every worker")
                self.status = STARTUP_FAILURE
                self.stopping = True
                return
            if time.monotonic() - self.started_at[slot] < RESTART_DELAY_SECONDS:
                wait([self.wake_reader], RESTART_DELAY_SECONDS)  # or until a stop signal
                if self.stopping:
                    return
            self.start(slot, replaces=process.pid)

    def stop(self, signum: int, _frame: object) -> None:
        """First thing on SIGTERM: no new connection reaches this socket through this process."""
        self.listener.close()
        self.stopping = True
        self.stop_signal = signum

    def stop_workers(self) -> None:
        self.listener.close()
        if self.stop_signal is not None:
            name = signal.Signals(self.stop_signal).name
            logger.info("%s: stopping the workers", name, extra={"signal": name})
        for process in self.workers.values():
            if process.is_alive():
                process.terminate()  # SIGTERM: each worker drains within its grace
        deadline = time.monotonic() + self.grace_seconds + KILL_MARGIN_SECONDS
        for process in self.workers.values():
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                logger.error(
                    "worker %s did not stop in time: killed",
                    process.pid,
                    extra={"worker_pid": process.pid},
                )
                process.kill()
                process.join()


def stop_when_the_supervisor_dies() -> None:
    """In a worker: SIGTERM to itself (the usual drain) once its supervisor has gone, so that no
    worker is left serving on, unsupervised, after `kill -9` of the supervisor."""
    supervisor = multiprocessing.parent_process()
    if supervisor is None:
        return

    def watch() -> None:
        wait([supervisor.sentinel])
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="supervisor-watch", daemon=True).start()
