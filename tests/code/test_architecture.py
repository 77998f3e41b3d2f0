"""The floors of ARCHITECTURE.md hold: imports point down, no module cycles, no module too big to read.

The contracts live in pyproject.toml (``[tool.importlinter]``) and ``make lint`` runs them; these
tests show that they pass here and that they fail when someone adds an upward import or a cycle.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONFIG = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
PACKAGES = CONFIG["root_packages"]
MAX_MODULE_LINES = 350


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, env={"PYTHONPATH": str(root), "PATH": ""},
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def copy_of_the_code(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_every_floor_is_a_root_package_of_the_contract():
    (layers,) = [contract["layers"] for contract in CONFIG["contracts"] if contract["type"] == "layers"]
    floors = [name.strip() for layer in layers for name in layer.split("|")]
    assert sorted(floors) == sorted(PACKAGES)
    assert layers[0] == "retrain" and layers[-1] == "data"  # the CLI on top, settings and store at the bottom


def test_the_import_contracts_are_kept():
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.lower().replace("0 broken", "")


def test_an_upward_import_breaks_the_floors_contract(copy_of_the_code: Path):
    settings = copy_of_the_code / "data" / "settings.py"
    settings.write_text(settings.read_text() + "\nimport flows.retrain  # upward: data must not know the flow\n")
    result = lint_imports(copy_of_the_code)
    assert result.returncode != 0
    assert "Floors: imports point down only BROKEN" in result.stdout
    assert "data.settings -> flows.retrain" in result.stdout


def test_a_cycle_between_two_modules_of_a_floor_breaks_the_cycle_contract(copy_of_the_code: Path):
    ledger = copy_of_the_code / "data" / "ledger.py"
    assert "data.store" not in ledger.read_text()
    ledger.write_text(ledger.read_text() + "\nimport data.store  # the store imports the ledger: a cycle\n")
    result = lint_imports(copy_of_the_code)
    assert result.returncode != 0
    assert "No import cycle between the modules of a floor BROKEN" in result.stdout


def test_no_module_is_longer_than_a_reader_can_hold():
    lengths = {str(path.relative_to(REPO)): len(path.read_text().splitlines())
               for package in PACKAGES for path in (REPO / package).rglob("*.py")}
    too_long = {path: lines for path, lines in lengths.items() if lines > MAX_MODULE_LINES}
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines (split them by concept): {too_long}"
