"""Training on several devices: which devices a setting means, and the mirrored path proved on two
logical CPU devices in a process of their own (tests/two_devices.py)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from data.settings import Settings
from models.devices import DEFAULT_DEVICE, replica_devices, resolve_devices

REPO = Path(__file__).resolve().parents[2]
GPUS = [f"/device:GPU:{i}" for i in range(4)]
CPU = ["/device:CPU:0"]


@pytest.mark.parametrize(("setting", "gpus", "expected"), [
    ("auto", [], None), ("auto", GPUS[:1], None), ("auto", GPUS, tuple(GPUS)),
    ("1", GPUS, None), ("2", GPUS, tuple(GPUS[:2])), ("cpu", GPUS, tuple(CPU)), ("cpu", [], tuple(CPU)),
])
def test_a_setting_names_the_devices_it_trains_on(setting, gpus, expected):
    assert replica_devices(setting, gpus, CPU) == expected


def test_more_devices_than_the_machine_has_is_refused_by_name():
    with pytest.raises(ValueError, match=r"RETRAIN_DEVICES=3 but this machine has 2 GPUs"):
        replica_devices("3", GPUS[:2], CPU)
    with pytest.raises(ValueError, match=r"RETRAIN_DEVICES=2 but this machine has 1 GPUs, and no logical CPU"):
        replica_devices("2", [], CPU)
    with pytest.raises(ValidationError, match="devices"):
        Settings(devices="all")
    assert Settings(devices="4").devices == "4"


def test_one_device_trains_without_any_strategy():
    """The single-device path is today's: no strategy object, no scope, the plain tf.function step."""
    devices = resolve_devices("auto")  # this machine has no GPU
    assert devices == DEFAULT_DEVICE and not devices.mirrored and devices.strategy is None


@pytest.mark.system
def test_two_logical_devices_train_like_one_and_resume_each_others_checkpoints(tiny_base_model, tmp_path):
    done = subprocess.run([sys.executable, "-m", "tests.two_devices", tiny_base_model, str(tmp_path)], cwd=REPO,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads((tmp_path / "result.json").read_text())
    truth, runs = result["truth"], result["runs"]

    # The arithmetic: one step on 4 + 3 rows across two replicas is the step one device takes on 7,
    # to float rounding. A loss averaged per replica instead of over the global batch would double
    # this SGD update, a difference as large as the update itself.
    step = result["step"]
    assert math.isclose(step["loss_single"], step["loss_mirrored"], rel_tol=1e-5)
    assert step["max_weight_difference"] < 1e-4 * step["max_update"], step

    # The same checkpoint either way: same files, arrays, shapes and dtypes.
    assert result["checkpoints"]["one"] == result["checkpoints"]["two"]
    assert result["checkpoints"]["one"]["epoch"] == "epoch-2"

    # Each run resumed after epoch 2, from its own or the other device count's checkpoint, and kept
    # that checkpoint's first two epochs.
    for name, started in (("one", "one_half"), ("two", "two_half"), ("two_resumes_one", "one_half"),
                          ("one_resumes_two", "two_half")):
        assert runs[name]["resumed_from_epoch"] == 2 and runs[name]["epochs_run"] == 4, name
        assert runs[name]["train_losses"][:2] == runs[started]["train_losses"], name

    # Held-out accuracy, within noise. The runs differ only in their dropout masks (each replica draws
    # its own) and float summation order, so any difference is training noise. Both models are scored
    # on the same rows: with no real difference, the rows only one of them gets right split like fair
    # coin flips, and (wins - losses) / n has standard deviation sqrt(discordant) / n. Three of those
    # (a false alarm about 3 times in 1,000) is the tolerance; both must also have learned the task.
    def correct(name: str) -> list[bool]:
        return [p == t for p, t in zip(runs[name]["predictions"], truth, strict=True)]

    n = len(truth)
    for a, b in (("one", "two"), ("one", "two_resumes_one"), ("two", "one_resumes_two")):
        right_a, right_b = correct(a), correct(b)
        assert sum(right_a) / n >= 0.9 and sum(right_b) / n >= 0.9, (a, b, sum(right_a) / n, sum(right_b) / n)
        discordant = sum(x != y for x, y in zip(right_a, right_b, strict=True))
        difference = (sum(right_a) - sum(right_b)) / n
        assert abs(difference) <= 3 * math.sqrt(max(discordant, 1)) / n, (a, b, difference, discordant)
