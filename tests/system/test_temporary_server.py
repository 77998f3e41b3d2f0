"""The temporary Prefect server `retrain run` starts when none is configured: it stays up until the
run's logs have reached it, so a finished run ends without "Error logging to API", and what the run
does meanwhile (importing TensorFlow) happens while the server process starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

A_RUN = """
import os
from prefect import flow, get_run_logger
from deploy.temporary_server import temporary_prefect_server

def server_processes() -> int:
    children = open(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read().split()
    return sum(b"uvicorn" in open(f"/proc/{child}/cmdline", "rb").read() for child in children)

seen_meanwhile = []

@flow(name="chatty")
def chatty() -> int:
    for line in range(200):
        get_run_logger().info("line %d of the run's log", line)
    return 200

with temporary_prefect_server(meanwhile=lambda: seen_meanwhile.append(server_processes())) as url:
    assert url is not None, "a server was configured; this test needs the temporary one"
    print("server processes while meanwhile ran:", seen_meanwhile)
    print("flow returned", chatty())
"""


def test_a_run_on_the_temporary_server_sends_all_its_logs_before_the_server_stops(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_API")}
    env.update({"PREFECT_HOME": str(tmp_path / "prefect"), "PYTHONPATH": str(REPO), "PREFECT_LOGGING_LEVEL": "INFO"})
    done = subprocess.run([sys.executable, "-c", A_RUN], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "flow returned 200" in done.stdout
    assert "server processes while meanwhile ran: [1]" in done.stdout  # once, with the server started
    assert "line 199 of the run's log" in done.stderr + done.stdout  # the console handler saw the run
    assert "Error logging to API" not in done.stderr + done.stdout, done.stderr[-3000:]
