"""One progress bar for long runs (rich), on stderr; by default silent when stderr is not a terminal."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def bar(label: str, total: int | None, unit: str = "", show: bool | None = None,
        size: bool = False) -> Iterator[Callable[[int], None]]:
    """Yields ``advance(n)``; shows a rich progress bar while the block runs (``show``: default
    when stderr is a terminal). ``unit`` follows the count ("documents"); with ``size`` the count
    is of characters, shown as MB done, of the total and per second."""
    if not (sys.stderr.isatty() if show is None else show):
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    counted = [DownloadColumn(), TransferSpeedColumn()] if size else [MofNCompleteColumn(), TextColumn(unit)]
    columns = [TextColumn("{task.description}"), BarColumn(), *counted, TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)
