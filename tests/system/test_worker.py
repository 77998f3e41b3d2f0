"""A run on a real Prefect worker: `prefect deploy` of prefect.yaml to a process pool, `prefect worker start`,
`prefect deployment run`, the run completing against PostgreSQL with its own artifact folder.

Exactly the README's "Work pools" commands, against a real `prefect server` on loopback. Nothing it
starts outlives it: the worker's process group is stopped and no process carrying the test's marker
(a RETRAIN_HOME of its own, inherited by the flow-run process the worker starts) may be left.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from data.settings import Settings
from data.store import connect, create_schema
from models import registry
from tests.helpers import add_rows, sentiment_rows
from tests.prefect_server import VENV_BIN, Process, processes_with_env

REPO = Path(__file__).resolve().parents[2]
POOL, DEPLOYMENT = "retrain-local", "retrain/weekly"  # as in prefect.yaml
CLI_TIMEOUT = 180  # each `prefect ...` command imports Prefect (and `deploy` the flow) on a busy 2-core machine

pytestmark = [pytest.mark.system, pytest.mark.postgres]


def _prefect(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([str(VENV_BIN / "prefect"), *args], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=CLI_TIMEOUT)
    assert done.returncode == 0, f"prefect {' '.join(args)} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _stragglers(name: str, value: str, grace: float = 30) -> list[int]:
    """Processes still carrying the marker after ``grace`` seconds, killed: none when all went well."""
    deadline = time.monotonic() + grace
    while (left := processes_with_env(name, value)) and time.monotonic() < deadline:
        time.sleep(0.5)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return left


def test_a_deployment_run_completes_on_a_process_worker(live_prefect_server, tiny_run_env, postgres_url, tmp_path):
    home, artifacts = tmp_path / "worker-home", tmp_path / "artifact-store"
    retrain_env = {**tiny_run_env, "RETRAIN_HOME": str(home), "RETRAIN_DATABASE_URL": postgres_url,
                   "RETRAIN_ARTIFACT_STORE": str(artifacts)}
    settings = Settings(**{key.removeprefix("RETRAIN_").lower(): value for key, value in retrain_env.items()})
    create_schema(connect(settings), settings)
    add_rows(settings, sentiment_rows(240, seed=21))
    env = live_prefect_server.client_env(PREFECT_WORKER_QUERY_SECONDS="1", PREFECT_WORKER_PREFETCH_SECONDS="5",
                                         **retrain_env)

    prefect_yaml = (REPO / "prefect.yaml").read_bytes()  # `prefect deploy` must leave it as it is
    _prefect(env, "work-pool", "create", POOL, "--type", "process", "--overwrite")
    deployed = _prefect(env, "deploy", "--name", "weekly", "--no-prompt")
    assert DEPLOYMENT in deployed, deployed
    worker = Process.start([str(VENV_BIN / "prefect"), "worker", "start", "--pool", POOL, "--name", "test-worker"],
                           env, tmp_path / "worker.log", cwd=tmp_path)
    try:
        started = _prefect(env, "deployment", "run", DEPLOYMENT)
        flow_run_id = re.search(r"UUID:\s*([0-9a-f-]{36})", started)
        assert flow_run_id, started
        run = live_prefect_server.wait_final(flow_run_id.group(1), timeout=420, describe=worker.tail)
        assert run.state.is_completed(), f"{run.state}\n{worker.tail()}"
        assert run.work_pool_name == POOL and run.deployment_id is not None
        assert str(run.id) in worker.log.read_text(errors="replace"), "the worker did not run it"
    finally:
        worker.stop()
        left = _stragglers("RETRAIN_HOME", str(home))
    assert not left, f"processes left running after the worker stopped (killed now): {left}"
    assert (REPO / "prefect.yaml").read_bytes() == prefect_yaml and not (REPO / ".prefect").exists()

    # The run wrote to PostgreSQL and to the artifact folder, nothing to the worker's home.
    (version,) = registry.list_versions(connect(settings))
    assert registry.champion_version(connect(settings)) == version.version
    assert version.triggered_by == "manual" and version.new_rows >= 240
    assert Path(version.artifact_uri.removeprefix("file://")).is_relative_to(artifacts), version.artifact_uri
    assert any(artifacts.rglob("retrain_labels.json"))
    assert not (home / "models").exists() and not (home / "retrain.db").exists()

