"""The command line's layout: every command reaches its function, and ``--help`` loads none of the commands."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

from retrain.cli import COMMAND_MODULES, build_parser


def test_every_command_reaches_its_function():
    (commands,) = [action for action in build_parser()._actions if isinstance(action, argparse._SubParsersAction)]
    assert set(commands.choices) == set(COMMAND_MODULES)
    for command, module in COMMAND_MODULES.items():
        assert callable(getattr(importlib.import_module(module), f"cmd_{command}")), command


def test_help_loads_neither_the_database_layer_nor_prefect_nor_tensorflow():
    probe = ("import sys\nfrom retrain.cli import main\ntry:\n    main(['status', '--help'])\nexcept SystemExit:\n"
             "    pass\nloaded = ('pandas', 'sqlalchemy', 'prefect', 'tensorflow')\n"
             "print(sorted(name for name in loaded if name in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert "usage: retrain status" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "[]"
