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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: look for a period only while every transfer has at least this many chunks left
_WORTH = 8
#: after this many requests of the first transfer without a repeat, stop looking
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
        self._full = [[links[k].dur(c, sharers[k]) for k in path]
                      for path, c in zip(paths, chunks, strict=True)]

    def run(self, rem: list[int], nxt: list[int], seq: list[int], free: list[int],
            stop: int | None = None, stretches: list[Stretch] | None = None) -> State:
        """Advance from the given state to the first transfer's end, or through every
        request made at or before ``stop``; ``stretches`` (when given) receives the
        stretch of every link booked."""
        paths, chunks, full = self.paths, self.chunks, self._full
        rem, free = list(rem), list(free)
        nbytes, busy = [0] * len(free), [0] * len(free)
        heap = [(t, s, i) for i, (t, s) in enumerate(zip(nxt, seq, strict=True))]
        heapq.heapify(heap)
        order = max(seq) + 1
        cur: list[list[int] | None] | None = None if stretches is None else [None] * len(free)
        seen: dict[Any, Any] | None = (
            {} if all(r >= _WORTH * c for r, c in zip(rem, chunks, strict=True)) else None)
        finisher = None
        while heap:
            t, _, i = heap[0]
            if stop is not None and t > stop:
                break
            if not rem[i]:  # its last chunk has ended: it leaves the group here
                finisher = i
                break
            if i == 0 and seen is not None:
                skipped = self._skip(heap, t, order, rem, free, nbytes, busy, cur, seen, stop)
                if skipped is not None or len(seen) > _PATIENCE:
                    seen = None  # one skip leaves less than a period to go
                if skipped:
                    order += skipped
                    continue
            heapq.heappop(heap)
            path = paths[i]
            start = t
            for k in path:
                if free[k] > start:
                    start = free[k]
            c = chunks[i]
            if rem[i] >= c:
                n, durs = c, full[i]
            else:
                n = rem[i]
                durs = [self.links[k].dur(n, self.sharers[k]) for k in path]
            rem[i] -= n
            end = start
            for k, d in zip(path, durs, strict=True):
                e = start + d
                free[k] = e
                nbytes[k] += n
                busy[k] += d
                if cur is not None:
                    o = cur[k]
                    if o is None:
                        cur[k] = [start, e, n, d, 1 << i]
                    else:
                        o[1] = e
                        o[2] += n
                        o[3] += d
                        o[4] |= 1 << i
                if e > end:
                    end = e
            heapq.heappush(heap, (end, order, i))
            order += 1
        if cur is not None:
            stretches.extend((k, *s) for k, s in enumerate(cur)  # type: ignore[union-attr]
                             if s is not None)
        out_nxt, out_seq = list(nxt), list(seq)
        for t, s, i in heap:
            out_nxt[i], out_seq[i] = t, s
        return State(rem, out_nxt, out_seq, free, nbytes, busy, finisher)

    def _skip(self, heap: list[tuple[int, int, int]], t: int, order: int, rem: list[int],
              free: list[int], nbytes: list[int], busy: list[int],
              cur: list[list[int] | None] | None, seen: dict[Any, Any],
              stop: int | None) -> int | None:
        """At a request of transfer 0: if the group stood exactly so (relative to now)
        before, the span since is a period; skip as many whole periods as keep every
        transfer a full chunk from its end (and the run before ``stop``). Returns the
        requests skipped; None: no period yet; 0: a period that cannot be skipped."""
        sig = (tuple((i, u - t) for u, _, i in sorted(heap)),
               tuple(f - t if f > t else 0 for f in free))
        was = seen.get(sig)
        if was is None:
            seen[sig] = (t, order, list(rem), list(nbytes), list(busy))
            return None
        t0, order0, rem0, nbytes0, busy0 = was
        period = t - t0
        if period <= 0:
            return 0
        periods = (stop - t) // period if stop is not None else None
        for i, r in enumerate(rem):
            moved = rem0[i] - r
            if moved <= 0:
                return 0
            k = (r - self.chunks[i]) // moved
            periods = k if periods is None else min(periods, k)
        if not periods or periods <= 0:
            return 0
        shift, skipped = periods * period, periods * (order - order0)
        heap[:] = [(u + shift, s + skipped, i) for u, s, i in heap]  # still a heap
        for i in range(len(rem)):
            rem[i] -= periods * (rem0[i] - rem[i])
        for k in range(len(free)):
            db, dn = busy[k] - busy0[k], nbytes[k] - nbytes0[k]
            if not dn:
                continue  # not booked in the period: an idle link
            free[k] += shift
            nbytes[k] += periods * dn
            busy[k] += periods * db
            o = None if cur is None else cur[k]
            if o is not None:
                o[1] += shift
                o[2] += periods * dn
                o[3] += periods * db
        return skipped
