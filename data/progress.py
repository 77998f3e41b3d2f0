"""Progress bars for long command-line work (scoring a file, importing one, fine-tuning epochs).

Drawn by ``rich`` on stderr, and only when stderr is a terminal: a pipe, a log file, CI or a
Prefect worker gets the plain output and no control characters.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


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


def tracked(items: Iterable[T], total: int, description: str, unit: str = "rows", every: int = 1000) -> Iterator[T]:
    """``items`` unchanged, moving a bar every ``every`` items (see ``progress_bar``)."""
    with progress_bar(description, total, unit) as advance:
        done = 0
        for done, item in enumerate(items, start=1):
            yield item
            if done % every == 0:
                advance(every)
        advance(done % every)
