"""A temporary Prefect server for one `retrain run` (or `retrain demo`) when no server is configured.

Prefect starts such a server by itself when ``PREFECT_API_URL`` is unset, but only an orderly exit
stops it: a `retrain run` killed with SIGTERM or SIGKILL left its ``uvicorn`` process running and
holding its port. The server started here asks the kernel to stop it when its parent dies
(``PR_SET_PDEATHSIG``), so no way of ending the run leaves it behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in the server process between fork and exec (Linux): SIGTERM when the parent dies."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_healthy(process: subprocess.Popen, url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the temporary Prefect server exited with code {process.returncode} before it answered")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"the temporary Prefect server at {url} did not answer within {timeout:.0f} s")


@contextmanager
def temporary_prefect_server(timeout: float = 120.0,
                             meanwhile: Callable[[], object] | None = None) -> Iterator[str | None]:
    """Run the block against a Prefect server: the configured one, or a temporary one on a free
    loopback port that stops when the block ends or this process dies. Yields the temporary
    server's API URL, or None when a server is configured.

    ``meanwhile`` runs while the server starts up, before the block: a run imports TensorFlow
    there, and the two overlap on two cores (each took about 5 s of a weekly run's start-up).
    """
    import prefect
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    if PREFECT_API_URL.value():
        if meanwhile is not None:
            meanwhile()
        yield None
        return
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, **get_current_settings().to_environment_variables(exclude_unset=True),
           # The same switches Prefect's own temporary server runs with: API only, no UI.
           "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--app-dir", str(prefect.__module_path__.parent), "--factory",
         "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "error", "--lifespan", "on"],
        env=env, preexec_fn=_die_with_parent if sys.platform == "linux" else None,
    )
    try:
        if meanwhile is not None:
            meanwhile()
        _wait_until_healthy(process, url, timeout)
        with temporary_settings(updates={PREFECT_API_URL: url}):
            try:
                yield url
            finally:
                _send_what_is_queued()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _send_what_is_queued(timeout: float = 10.0) -> None:
    """Send the run's queued logs and events while the server is still up: stopping it first printed
    "Error logging to API" at the end of every ``retrain run``."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        with contextlib.suppress(Exception):  # never let a log shipment hide the run's own outcome
            worker.drain_all(timeout=timeout)


def exit_on_sigterm() -> None:
    """Turn SIGTERM into an orderly exit (``SystemExit``), so ``finally`` blocks stop what the run started."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
