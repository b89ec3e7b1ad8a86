"""Progress of a long run on a terminal: layers done, simulated time, events per second.

Shown on standard error only when it is a terminal and the run has lasted more than a
couple of seconds, at most a few times a second, on one line rewritten in place; piped
or redirected output stays quiet.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

from desim.report import _si_time

if TYPE_CHECKING:
    from desim.kernel import Sim

#: seconds before anything is shown, and between two updates
DELAY_S, INTERVAL_S = 2.0, 0.25


class Progress:
    """A ``progress(sim, done, total)`` callback for :func:`desim.simulate`."""

    def __init__(self, stream: TextIO | None = None, enabled: bool | None = None,
                 delay_s: float = DELAY_S, interval_s: float = INTERVAL_S):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.delay_s, self.interval_s = delay_s, interval_s
        self.t0 = time.perf_counter()
        self._last = -1.0
        self._width = 0

    def __call__(self, sim: Sim, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        elapsed = now - self.t0
        if elapsed < self.delay_s or (now - self._last < self.interval_s and done < total):
            return
        self._last = now
        rate = sim.events_so_far() / elapsed
        text = (f"desim: layer {done}/{total}  {_si_time(sim.now)} simulated  "
                f"{rate / 1e3:,.0f} k events/s  {elapsed:.1f} s")
        self.stream.write("\r" + text.ljust(self._width))
        self.stream.flush()
        self._width = len(text)

    def close(self) -> None:
        """Clear the progress line, if one was shown."""
        if self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
