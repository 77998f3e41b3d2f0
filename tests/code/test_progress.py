"""Progress on long CLI work: drawn on a terminal, off (no output at all) when stderr is a pipe or a file."""

from __future__ import annotations

import io
import sys

import pandas as pd
import pytest

from data.importing import import_frame
from data.progress import tracked
from data.settings import Settings
from data.store import connect, create_schema


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_tracked_yields_every_item_and_draws_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    pipe = io.StringIO()
    monkeypatch.setattr(sys, "stderr", pipe)
    assert list(tracked(range(2500), 2500, "counting")) == list(range(2500))
    assert pipe.getvalue() == ""

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert list(tracked(range(2500), 2500, "counting")) == list(range(2500))
    assert "counting" in terminal.getvalue() and "2500/2500" in terminal.getvalue()


def test_a_large_import_shows_its_progress_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(labels=["negative", "positive"])
    create_schema(connect(settings), settings)
    rows = pd.DataFrame({"text": [f"row number {i}" for i in range(3000)],
                         "label": ["negative", "positive"] * 1500})
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)

    assert import_frame(connect(settings), settings, rows).imported == 3000
    assert "checking 3000 rows" in terminal.getvalue() and "3000/3000" in terminal.getvalue()
