"""kill -9 a real retraining run at each stage; nothing may be half-done or lost, and the next run succeeds.
And a killed `retrain run`, by SIGTERM or SIGKILL, leaves no process behind (its temporary Prefect server)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from data.pull import waiting_counts
from data.settings import Settings
from data.store import connect, count_rows
from flows.retrain import retrain
from models import registry
from tests.helpers import add_rows, sentiment_rows

pytestmark = pytest.mark.usefixtures("prefect_server")

# The log line after which the run is killed: each one is written just as the named stage starts.
STAGES = {
    "pull": "champion is version",
    "validate": "pulled ",
    "fine-tune": "epoch 2/",  # after epoch 1's and 2's checkpoints: the rerun must resume, not restart
    "evaluate": "fine-tuned in",
    "promote": "registered version",
}
_template: dict[str, Path] = {}


def _database(settings: Settings) -> Path:
    return Path(settings.resolved_database_url().removeprefix("sqlite:///"))


@pytest.fixture
def waiting_rows(flow_settings: Settings) -> Settings:
    """A champion trained on 240 rows, with 60 new rows waiting (built once, copied per test)."""
    settings = Settings()  # flow_settings' 8 epochs: enough for the tiny model under warm-up and decay
    if "db" not in _template:
        add_rows(settings, sentiment_rows(240, seed=1))
        assert retrain(triggered_by="test").promoted
        add_rows(settings, sentiment_rows(60, seed=2, prefix="new "))
        _template["db"] = _database(settings).with_suffix(".template")
        shutil.copy(_database(settings), _template["db"])
    else:
        _database(settings).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(_template["db"], _database(settings))
    return settings


def _run_and_kill(marker: str, timeout: float = 240) -> str:
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "PYTHONUNBUFFERED": "1",
           "PREFECT_LOGGING_LEVEL": "INFO"}
    process = subprocess.Popen(
        [sys.executable, "-c", "from flows.retrain import retrain; retrain(triggered_by='drill')"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True,
    )
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        for line in process.stdout:
            seen.append(line)
            if marker in line:
                process.send_signal(signal.SIGKILL)
                break
            if time.monotonic() > deadline:
                break
    finally:
        process.kill()
        process.wait(timeout=30)
    output = "".join(seen)
    assert marker in output, f"the run never reached {marker!r}:\n{output[-3000:]}"
    assert process.returncode == -signal.SIGKILL
    return output


@pytest.mark.parametrize("stage", list(STAGES))
def test_kill_9_at_each_stage_leaves_everything_consistent(stage, waiting_rows):
    settings = waiting_rows
    engine = connect(settings)
    champion_before = registry.champion(engine)
    rows_before = count_rows(engine, settings)

    _run_and_kill(STAGES[stage])

    champion_after = registry.champion(engine)
    history = registry.promotion_history(engine)
    assert champion_after.version in (champion_before.version, max(v.version for v in registry.list_versions(engine)))
    assert history[-1].to_version == champion_after.version  # the alias and its history never disagree
    if champion_after.version != champion_before.version:
        assert champion_after.decision == registry.PROMOTED
        assert champion_after.watermark > champion_before.watermark
    assert count_rows(engine, settings) == rows_before  # no labeled row lost
    # "promoted" is written with the switch: a version killed before it is pending, never promoted.
    assert all(v.decision != registry.PROMOTED for v in registry.list_versions(engine)
               if v.version not in {p.to_version for p in history})
    waiting = waiting_counts(engine, settings, registry.lineage_of(engine)).total
    assert waiting == (60 if champion_after.version == champion_before.version else 0)

    if waiting == 0:
        add_rows(settings, sentiment_rows(30, seed=9, prefix="later "))
    report = retrain(triggered_by="test")
    assert report.rows_pulled == max(waiting, 30)
    resumed = registry.get_version(engine, report.challenger_version).metrics["training"]["resumed_from_epoch"]
    # Killed mid-training: resume after epoch 2. Killed after training but before registering:
    # the finished job's last checkpoint (epoch 8) is reused instead of training again.
    assert resumed == {"fine-tune": 2, "evaluate": 8}.get(stage, 0)


def _session_processes(session: int) -> list[str]:
    """Command lines of the live processes in a session (a killed parent's children keep its session id)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # the process ended while we looked
            continue
        if int(fields[3]) == session and fields[0] != "Z":
            found.append(cmdline)
    return found


@pytest.mark.parametrize("kill", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_killed_retrain_run_leaves_no_process_behind(kill, flow_settings, tmp_path):
    from prefect.settings import PREFECT_API_URL

    add_rows(flow_settings, sentiment_rows(240, seed=1))
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_API")}
    env.update({"PYTHONUNBUFFERED": "1", "PREFECT_LOGGING_LEVEL": "INFO", "PREFECT_HOME": str(tmp_path / "prefect")})
    assert PREFECT_API_URL.value()  # the harness's server, which the child must not see
    process = subprocess.Popen([sys.executable, "-m", "retrain.cli", "run"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, env=env, text=True, start_new_session=True)
    seen: list[str] = []
    try:
        for line in process.stdout:  # killed once the run works against its temporary server
            seen.append(line)
            if "epoch 1/" in line:
                break
        assert any("epoch 1/" in line for line in seen), "".join(seen)[-3000:]
        assert any("uvicorn" in cmd for cmd in _session_processes(process.pid)), _session_processes(process.pid)
        # Keep reading: a child blocked on a full pipe would never get to exit.
        threading.Thread(target=lambda: seen.extend(process.stdout), daemon=True).start()
        os.kill(process.pid, kill)
        process.wait(timeout=90)
        deadline = time.monotonic() + 30
        while _session_processes(process.pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _session_processes(process.pid) == []
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        for leftover in _session_processes(process.pid):
            print("left behind:", leftover)
