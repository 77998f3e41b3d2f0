"""kill -9 a real retraining run at each stage; nothing may be half-done or lost, and the next run succeeds."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows.retrain import retrain
from models import registry
from retrain.settings import Settings
from retrain.store import connect, count_rows_after
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
def waiting_rows(flow_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A champion trained on 240 rows, with 60 new rows waiting (built once, copied per test)."""
    monkeypatch.setenv("RETRAIN_EPOCHS", "6")
    settings = Settings()
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
    rows_before = count_rows_after(engine, settings, None)

    _run_and_kill(STAGES[stage])

    champion_after = registry.champion(engine)
    history = registry.promotion_history(engine)
    assert champion_after.version in (champion_before.version, max(v.version for v in registry.list_versions(engine)))
    assert history[-1].to_version == champion_after.version  # the alias and its history never disagree
    if champion_after.version != champion_before.version:
        assert champion_after.decision == registry.PROMOTED
        assert champion_after.watermark > champion_before.watermark
    assert count_rows_after(engine, settings, None) == rows_before  # no labeled row lost
    waiting = count_rows_after(engine, settings, champion_after.watermark)
    assert waiting == (60 if champion_after.version == champion_before.version else 0)

    if waiting == 0:
        add_rows(settings, sentiment_rows(30, seed=9, prefix="later "))
    report = retrain(triggered_by="test")
    assert report.rows_pulled == max(waiting, 30)
    resumed = registry.get_version(engine, report.challenger_version).metrics["training"]["resumed_from_epoch"]
    # Killed mid-training: resume after epoch 2. Killed after training but before registering:
    # the finished job's last checkpoint (epoch 6) is reused instead of training again.
    assert resumed == {"fine-tune": 2, "evaluate": 6}.get(stage, 0)
