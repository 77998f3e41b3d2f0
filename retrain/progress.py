"""Progress bars for long command-line work (scoring a file, importing one, fine-tuning epochs).

Drawn by ``rich`` on stderr, and only when stderr is a terminal: a pipe, a log file, CI or a
Prefect worker gets the plain output and no control characters.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def progress_bar(description: str, total: int | None, unit: str = "rows") -> Iterator[Callable[[int], None]]:
    """A bar for ``total`` steps; yields ``advance(n)``. Off (``advance`` does nothing) when not a terminal."""
    if not sys.stderr.isatty():
        yield lambda steps: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
               TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task(description, total=total)
        yield lambda steps: bar.advance(task, steps)
