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

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: look for a period only while every transfer has at least this many chunks left
_WORTH = 8
#: after this many requests of the anchor without a repeat, stop looking
_PATIENCE = 32

Stretch = tuple[int, int, int, int, int, int]


@dataclass
class State:
    """Where the group stands: per transfer the bytes left and its next request (time,
    order among requests of one time); per link the end of its latest booking; what each
    link carried and was busy for since the run began; ``finisher``, the transfer whose
    last chunk ended at its ``nxt`` (None: the run stopped at a moment instead)."""

    rem: list[int]
    nxt: list[int]
    seq: list[int]
    free: list[int]
    nbytes: list[int]
    busy: list[int]
    finisher: int | None = None


class Group:
    """Transfers (by their paths over ``links``, as link indices, and chunk sizes) that
    share links; ``sharers[l]`` is how many of them use link ``l``, which sets its
    contention stretch."""

    def __init__(self, links: Sequence[Any], paths: Sequence[tuple[int, ...]],
                 chunks: Sequence[int], sharers: Sequence[int]):
        self.links, self.paths, self.chunks, self.sharers = links, paths, chunks, sharers
        #: per transfer, (link, ps) of a full chunk on every link of its path
        self._full = [tuple((k, links[k].dur(c, sharers[k])) for k in path)
                      for path, c in zip(paths, chunks, strict=True)]
        self._used = sorted({k for path in paths for k in path})
        #: periods are looked for at the requests of the transfer asking least often
        self._anchor = max(range(len(paths)),
                           key=lambda i: max((d for _, d in self._full[i]), default=0))

    def run(self, rem: list[int], nxt: list[int], seq: list[int], free: list[int],
            stop: int | None = None, stretches: list[Stretch] | None = None) -> State:
        """Advance from the given state to the first transfer's end, or through every
        request made at or before ``stop``; ``stretches`` (when given) receives the
        stretch of every link booked."""
        paths, chunks, full = self.paths, self.chunks, self._full
        given, rem, free = rem, list(rem), list(free)
        nbytes, busy = [0] * len(free), [0] * len(free)
        fulls = [0] * len(rem)  # full chunks booked per transfer (summed into the links last)
        heap = [(t, s, i) for i, (t, s) in enumerate(zip(nxt, seq, strict=True))]
        heapq.heapify(heap)
        order = max(seq) + 1
        limit = math.inf if stop is None else stop
        first: list[int | None] | None = None if stretches is None else [None] * len(free)
        seen: dict[Any, Any] | None = (
            {} if all(r >= _WORTH * c for r, c in zip(rem, chunks, strict=True)) else None)
        finisher = None
        anchor = self._anchor
        while heap:
            t, _, i = heap[0]
            if t > limit:
                break
            if not rem[i]:  # its last chunk has ended: it leaves the group here
                finisher = i
                break
            if i == anchor and seen is not None:
                skipped = self._skip(heap, t, order, rem, free, fulls, seen, limit)
                if skipped is not None or len(seen) > _PATIENCE:
                    seen = None  # one skip leaves less than a period to go
                if skipped:
                    order += skipped
                    continue
            start = t
            for k in paths[i]:
                if free[k] > start:
                    start = free[k]
            c = chunks[i]
            if rem[i] >= c:
                rem[i] -= c
                fulls[i] += 1
                pairs = full[i]
            else:  # the last chunk, short
                c, rem[i] = rem[i], 0
                pairs = tuple((k, self.links[k].dur(c, self.sharers[k])) for k in paths[i])
                for k, d in pairs:
                    nbytes[k] += c
                    busy[k] += d
            end = start
            for k, d in pairs:
                e = free[k] = start + d
                if e > end:
                    end = e
            if first is not None:
                for k in paths[i]:
                    if first[k] is None:
                        first[k] = start
            heapq.heapreplace(heap, (end, order, i))
            order += 1
        for i, n in enumerate(fulls):
            for k, d in full[i]:
                nbytes[k] += n * chunks[i]
                busy[k] += n * d
        if first is not None:
            for k, f in enumerate(first):
                if f is not None:
                    mask = sum(1 << i for i, path in enumerate(paths)
                               if k in path and rem[i] < given[i])
                    stretches.append((k, f, free[k], nbytes[k], busy[k], mask))  # type: ignore[union-attr]
        out_nxt, out_seq = list(nxt), list(seq)
        for t, s, i in heap:
            out_nxt[i], out_seq[i] = t, s
        return State(rem, out_nxt, out_seq, free, nbytes, busy, finisher)

    def _skip(self, heap: list[tuple[int, int, int]], t: int, order: int, rem: list[int],
              free: list[int], fulls: list[int], seen: dict[Any, Any],
              limit: float) -> int | None:
        """At a request of the anchor: if the group stood exactly so (relative to now)
        before, the span since is a period; skip as many whole periods as every transfer
        has full chunks left for (and the run within ``limit``). Returns the
        requests skipped; None: no period yet; 0: a period that cannot be skipped."""
        sig = (tuple((i, u - t) for u, _, i in sorted(heap)),
               tuple(f - t if f > t else 0 for f in free))
        was = seen.get(sig)
        if was is None:
            seen[sig] = (t, order, list(rem), list(fulls))
            return None
        t0, order0, rem0, fulls0 = was
        period = t - t0
        if period <= 0:
            return 0
        periods = math.inf if limit == math.inf else (limit - t) // period
        for i, r in enumerate(rem):
            moved = rem0[i] - r
            if moved <= 0:
                return 0
            periods = min(periods, r // moved)
        periods = int(periods)
        if periods <= 0:
            return 0
        shift, skipped = periods * period, periods * (order - order0)
        heap[:] = [(u + shift, s + skipped, i) for u, s, i in heap]  # still a heap
        for i in range(len(rem)):
            rem[i] -= periods * (rem0[i] - rem[i])
            fulls[i] += periods * (fulls[i] - fulls0[i])
        for k in self._used:
            free[k] += shift
        return skipped
