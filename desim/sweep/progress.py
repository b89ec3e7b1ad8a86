"""A sweep's progress: points done, failed and the time left.

A tqdm bar on a terminal when tqdm is installed; otherwise one plain line per point, so
a log file or CI output shows each point as it finishes.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


class SweepProgress:
    """Counts finished points and reports each one."""

    def __init__(self, total: int, done_before: int, stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self.total, self.done, self.failed = total, done_before, 0
        self.todo = total - done_before
        self.t0 = time.perf_counter()
        self.bar: Any = None
        if self.stream.isatty():
            try:
                from tqdm import tqdm
            except ModuleNotFoundError:
                pass
            else:
                self.bar = tqdm(total=total, initial=done_before, file=self.stream,
                                unit="point", desc="desim sweep")
        if self.bar is None:
            self.line(f"{total} points, {done_before} done before, {self.todo} to run")

    def line(self, text: str) -> None:
        """Write one plain line."""
        print(f"desim sweep: {text}", file=self.stream, flush=True)

    def point(self, ok: bool, label: str) -> None:
        """Report one finished point (``label`` names it)."""
        self.done += 1
        self.failed += not ok
        if self.bar is not None:
            self.bar.set_postfix(failed=self.failed)
            self.bar.update()
            return
        ran = self.done - (self.total - self.todo)
        left = (time.perf_counter() - self.t0) / ran * (self.total - self.done)
        self.line(f"[{self.done}/{self.total}] {'ok' if ok else 'FAILED'} {label}  "
                  f"({self.failed} failed, ETA {left:.0f} s)")

    def close(self) -> None:
        """Close the bar, if one is shown."""
        if self.bar is not None:
            self.bar.close()
