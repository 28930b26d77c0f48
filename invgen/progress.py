"""Progress that suits where the output goes: a tqdm bar on a terminal (or in a notebook), a
plain log line every few seconds otherwise, so a log file or CI output is not flooded with
carriage-return redraws."""
from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import IO, Any

import tqdm.auto  # first: it imports tqdm.autonotebook with its notebook-mode warning silenced
import tqdm.autonotebook
import tqdm.std

# Seconds between two log lines when the output is not a terminal.
LOG_EVERY = 10.0


class LogLines:
    """Iterates over ``iterable`` like a tqdm bar (``set_postfix``, ``close``) but writes one
    line, ``desc: step/total (elapsed, rate) key=value …``, to ``file`` whenever ``every``
    seconds have passed since the start or the last line; a run shorter than ``every``
    writes nothing."""

    def __init__(self, iterable: Iterable, desc: str, total: int | None, every: float, file: IO[str]) -> None:
        self.iterable, self.desc, self.total, self.every, self.file = iterable, desc, total, every, file
        self.postfix: dict[str, Any] = {}
        self.start = self.last = time.monotonic()

    def __iter__(self) -> Iterator:
        for n, item in enumerate(self.iterable):
            now = time.monotonic()
            if now - self.last >= self.every:
                self.last = now
                self._line(n, now - self.start)
            yield item

    def _line(self, n: int, elapsed: float) -> None:
        total = f"/{self.total}" if self.total is not None else ""
        rate = f", {n / elapsed:.3g} it/s" if elapsed > 0 else ""
        extra = "".join(f" {k}={v}" for k, v in self.postfix.items())
        print(f"{self.desc}: {n}{total} ({elapsed:.0f} s{rate}){extra}", file=self.file, flush=True)

    def set_postfix(self, **values: Any) -> None:
        self.postfix = values

    def close(self) -> None:
        pass


def progress_bar(iterable: Iterable, desc: str, enabled: bool = True, file: IO[str] | None = None):
    """A progress display for a loop over ``iterable``: nothing when not ``enabled``; a
    transient tqdm bar when ``file`` (default ``sys.stderr``) is a terminal or the code runs
    in a notebook; otherwise :class:`LogLines` every :data:`LOG_EVERY` seconds."""
    file = file if file is not None else sys.stderr
    total = len(iterable) if hasattr(iterable, "__len__") else None
    in_notebook = tqdm.autonotebook.tqdm is not tqdm.std.tqdm
    if not enabled or in_notebook or file.isatty():
        return tqdm.auto.tqdm(iterable, desc=desc, total=total, disable=not enabled, leave=False, file=file)
    return LogLines(iterable, desc, total, LOG_EVERY, file)
