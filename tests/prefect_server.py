"""Real Prefect processes for tests: a `prefect server` and a `retrain serve` on free loopback ports.

Every wait is bounded; each process runs in its own session so stopping it stops its children
(uvicorn, flow-run processes) and nothing else. Logs go to files the failure messages quote.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

VENV_BIN = Path(sys.executable).parent
SERVER_START_TIMEOUT = 240  # a cold start migrates a fresh database; slow on a busy 2-core machine
SERVE_START_TIMEOUT = 240  # `retrain serve` imports TensorFlow before it registers the deployment


def free_port() -> int:
    """A TCP port nothing listens on at the moment, on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(check: Callable[[], T | None], timeout: float, what: str, interval: float = 1.0,
             describe: Callable[[], str] = lambda: "") -> T:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{describe()}")
        time.sleep(interval)


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any PREFECT_ or RETRAIN_ variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "RETRAIN_"))}
    env.update({"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "3"})
    env.update(extra)
    return env


@dataclass
class Process:
    """A child process in its own session, logging to a file."""

    popen: subprocess.Popen
    log: Path

    @classmethod
    def start(cls, args: list[str], env: dict[str, str], log: Path, cwd: Path | None = None) -> Process:
        handle = log.open("wb")
        popen = subprocess.Popen(args, env=env, stdout=handle, stderr=subprocess.STDOUT, cwd=cwd,
                                 start_new_session=True)
        handle.close()
        return cls(popen, log)

    def tail(self, lines: int = 60) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        kept = [line for line in text.splitlines() if "absl::" not in line and not line.startswith("I0000")]
        return f"--- last lines of {self.log} ---\n" + "\n".join(kept[-lines:])

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM the process group it leads (its children too), then SIGKILL what is left."""
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)


@dataclass
class PrefectServer:
    """`prefect server start` on a free loopback port, PREFECT_HOME in a temporary folder."""

    process: Process
    port: int
    home: Path

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @classmethod
    def start(cls, folder: Path) -> PrefectServer:
        import httpx

        home = folder / "prefect-home"
        home.mkdir(parents=True, exist_ok=True)
        port = free_port()
        process = Process.start(  # with its UI: tests/system/test_browser.py opens it
            [str(VENV_BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            # The UI's pages call the API at this URL (its default is port 4200).
            clean_env(PREFECT_HOME=str(home), PREFECT_UI_API_URL=f"http://127.0.0.1:{port}/api"),
            folder / "prefect-server.log",
        )
        server = cls(process, port, home)

        def healthy() -> bool:
            if not process.alive():
                raise AssertionError(f"prefect server exited with {process.popen.returncode}\n{process.tail()}")
            try:
                return httpx.get(f"{server.api_url}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            wait_for(healthy, SERVER_START_TIMEOUT, "the Prefect server to answer /api/health", describe=process.tail)
        except BaseException:
            process.stop()
            raise
        return server

    def client_env(self, **extra: str) -> dict[str, str]:
        """Environment for a process that talks to this server (its own PREFECT_HOME, not the user's)."""
        return clean_env(PREFECT_API_URL=self.api_url, PREFECT_HOME=str(self.home / "client"), **extra)

    @contextlib.contextmanager
    def settings(self) -> Iterator[None]:
        """Point this process's Prefect client at the server, for the block."""
        from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: self.api_url,
                                         PREFECT_UI_URL: f"http://127.0.0.1:{self.port}"}):
            yield

    def client(self):
        """A synchronous Prefect client on this server (use inside ``settings()``)."""
        from prefect.client.orchestration import get_client

        return get_client(sync_client=True)

    def wait_final(self, flow_run_id, timeout: float = 300, describe: Callable[[], str] = lambda: ""):
        """The flow run once it is in a final state (Completed, Failed, Crashed, Cancelled)."""
        def final():
            with self.settings(), self.client() as client:
                run = client.read_flow_run(flow_run_id)
            return run if run.state is not None and run.state.is_final() else None

        return wait_for(final, timeout, f"flow run {flow_run_id} to finish", interval=2, describe=describe)

    def stop(self) -> None:
        self.process.stop()


def processes_with_env(name: str, value: str) -> list[int]:
    """Ids of this user's live processes whose environment has ``name=value``: what a test started and
    what those started in turn, whichever session they moved to (a worker's flow runs get their own)."""
    wanted = f"{name}={value}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environment = (entry / "environ").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:  # gone meanwhile, or another user's
            continue
        if wanted in environment and state != "Z":
            found.append(int(entry.name))
    return found


@dataclass
class Served:
    """A `retrain serve` process serving deployment retrain/NAME against a server."""

    process: Process
    server: PrefectServer
    name: str
    settings: Any  # data.settings.Settings of the served runs: the test writes rows with it
    deployment_id: Any = None

    @classmethod
    def start(cls, server: PrefectServer, folder: Path, retrain_env: dict[str, str], settings: Any) -> Served:
        name = retrain_env["RETRAIN_DEPLOYMENT_NAME"]
        env = server.client_env(PREFECT_RUNNER_POLL_FREQUENCY="1", **retrain_env)
        process = Process.start([str(VENV_BIN / "retrain"), "serve"], env, folder / f"serve-{name}.log", cwd=folder)
        served = cls(process, server, name, settings)

        def registered() -> Any:
            from prefect.exceptions import ObjectNotFound

            if not process.alive():
                raise AssertionError(f"retrain serve exited with {process.popen.returncode}\n{process.tail()}")
            with server.settings(), server.client() as client:
                try:
                    deployment = client.read_deployment_by_name(f"retrain/{name}")
                except ObjectNotFound:
                    return None
            # Registered first, then polled: the banner says the runner is up.
            return deployment if "being served" in process.log.read_text(errors="replace") else None

        try:
            served.deployment_id = wait_for(registered, SERVE_START_TIMEOUT, f"deployment retrain/{name}",
                                            interval=2, describe=process.tail).id
        except BaseException:
            process.stop()
            raise
        return served

    def trigger(self, options: dict | None = None):
        """Create a flow run of the deployment now; returns it (not waiting for it)."""
        with self.server.settings(), self.server.client() as client:
            return client.create_flow_run_from_deployment(
                self.deployment_id, parameters={"options": options} if options is not None else None)

    def wait_final(self, flow_run_id, timeout: float = 300):
        """The flow run once it is in a final state (Completed, Failed, Crashed, Cancelled)."""
        return self.server.wait_final(flow_run_id, timeout, describe=self.process.tail)

    def stop(self) -> None:
        self.process.stop()


@dataclass
class WebhookReceiver:
    """A local HTTP endpoint standing in for Slack: records every POST body."""

    port: int = 0
    bodies: list[str] = field(default_factory=list)
    _server: http.server.ThreadingHTTPServer | None = None

    def __enter__(self) -> WebhookReceiver:
        received = self.bodies

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                length = int(self.headers.get("content-length") or 0)
                received.append(self.rfile.read(length).decode("utf-8", errors="replace"))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/retrain"

    def texts(self) -> list[str]:
        """The alerts' text fields, in arrival order."""
        import json

        return [json.loads(body)["text"] for body in list(self.bodies)]
