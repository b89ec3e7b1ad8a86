"""Transfers sharing links, advanced chunk by chunk without simulation events.

While a fixed group of transfers competes for some links (nobody arrives, nobody
leaves), the chunk-by-chunk timeline of :mod:`desim.hw.interconnect` is a function of
the group alone: each transfer asks for its next chunk when its previous one ends, and
books it on every link of its path at the latest of that moment and each link's end of
booking. :class:`Group` replays exactly that, in the order the event kernel would (time,
then the order the requests were made), up to the first transfer's end or a given
moment, and skips whole periods once the alternation repeats itself: the cost of a
shared stretch grows with its period, not with its chunks.

For the trace, a link's bookings in one run are one *stretch* (as a lone transfer's
bookings are one interval): (link, first start, last end, bytes, busy, transfers),
``transfers`` a bit mask.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: look for a period only while every transfer has at least this many chunks left
_WORTH = 8
#: after this many requests of the anchor without a repeat, stop looking
_PATIENCE = 32

Stretch = tuple[int, int, int, int, int, int]

#: the compiled loop (desim.hw.sharing_jit), imported at the first run
_replay: Any = None
#: the loop's stop when a run has none
_NO_STOP = (1 << 63) - 1


@dataclass
class State:
    """Where the group stands: per transfer the bytes left and its next request (time,
    order among requests of one time); per link the end of its latest booking; what each
    link carried and was busy for since the run began; ``finisher``, the transfer whose
    last chunk ended at its ``nxt`` (None: the run stopped at a moment instead); ``steps``,
    the requests the run stepped through (those of skipped periods not counted)."""

    rem: list[int]
    nxt: list[int]
    seq: list[int]
    free: list[int]
    nbytes: list[int]
    busy: list[int]
    finisher: int | None = None
    steps: int = field(default=0, compare=False)


class Group:
    """Transfers (by their paths over ``links``, as link indices, and chunk sizes) that
    share links; ``sharers[l]`` is how many of them use link ``l``, which sets its
    contention stretch. The loop runs compiled (:mod:`desim.hw.sharing_jit`)."""

    def __init__(self, links: Sequence[Any], paths: Sequence[tuple[int, ...]],
                 chunks: Sequence[int], sharers: Sequence[int]):
        self.links, self.paths, self.chunks, self.sharers = links, paths, chunks, sharers
        m, width = len(paths), max(len(p) for p in paths)
        #: ps of a full chunk of each transfer on every link of its path
        full = [[links[k].dur(c, sharers[k]) for k in path]
                for path, c in zip(paths, chunks, strict=True)]
        used = sorted({k for path in paths for k in path})
        #: periods are looked for at the requests of the transfer asking least often
        anchor = max(range(m), key=lambda i: max(full[i], default=0))
        pad = [-1] * width
        self._G = np.array(
            [m, len(links), width, anchor, *chunks, *map(len, paths),
             *(k for path in paths for k in (*path, *pad)[:width]),
             *(d for ds in full for d in (*ds, *pad)[:width]),
             *used, *[-1] * (len(links) - len(used))], np.int64)
        self._width = width
        #: the state vector's tail (short last chunks, then zeroed counts), by the bytes
        #: of every transfer's short last chunk
        self._last: dict[tuple[int, ...], list[int]] = {}

    def run(self, rem: list[int], nxt: list[int], seq: list[int], free: list[int],
            stop: int | None = None, stretches: list[Stretch] | None = None) -> State:
        """Advance from the given state to the first transfer's end, or through every
        request made at or before ``stop``; ``stretches`` (when given) receives the
        stretch of every link booked."""
        global _replay
        if _replay is None:
            from desim.hw.sharing_jit import replay  # imports numba: only once groups form

            _replay = replay
        m, n = len(rem), len(free)
        key = tuple(map(operator.mod, rem, self.chunks))
        last = self._last.get(key)
        if last is None:
            last = self._last[key] = self._last_chunks(key) + [0] * (2 * n) + [-1] * n
        V = np.array(rem + nxt + seq + free + last, np.int64)
        look = min(map(operator.floordiv, rem, self.chunks)) >= _WORTH
        finisher, steps = _replay(self._G, V, _NO_STOP if stop is None else stop, look,
                                  _PATIENCE, stretches is not None)
        out = V.tolist()
        at = 3 * m + n + m * self._width
        state = State(out[:m], out[m:2 * m], out[2 * m:3 * m], out[3 * m:3 * m + n],
                      out[at:at + n], out[at + n:at + 2 * n],
                      None if finisher < 0 else finisher, steps)
        if stretches is not None:
            for k, f in enumerate(out[at + 2 * n:]):
                if f >= 0:
                    mask = sum(1 << i for i, path in enumerate(self.paths)
                               if k in path and state.rem[i] < rem[i])
                    stretches.append((k, f, state.free[k], state.nbytes[k], state.busy[k],
                                      mask))
        return state

    def _last_chunks(self, short: tuple[int, ...]) -> list[int]:
        """ps of each transfer's short last chunk of ``short[j]`` bytes (0: it has none) on
        every link of its path, padded to the longest path."""
        out: list[int] = []
        for path, r in zip(self.paths, short, strict=True):
            ps = [self.links[k].dur(r, self.sharers[k]) for k in path] if r else []
            out += ps + [0] * (self._width - len(ps))
        return out
