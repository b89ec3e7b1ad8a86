"""The critical path: the chain of intervals that decided when the run ended.

Method. Steps of the path are the intervals of the trace except the parts of a transfer
(``transfer``, ``mem`` and ``dram`` categories: the DMA descriptor that contains them is
the step) and zero-length intervals. The walk starts at the step that ends last and goes
back, at each step X choosing as its predecessor the candidate that finished latest at
or before X's start, among

1. flows into X's track that arrive within X (``X.start <= t_dst <= X.end``): the step on
   the flow's source track that ended last at or before ``t_src`` (a producer);
2. the step on X's own track that ended last at or before X's start (the resource was
   busy with it);
3. the step on any track that ended last at or before X's start (a hand-off: a DMA-out
   issued when a computation ends, a job started when the buffer it needs was freed);

ties going to flows, then the same track, then other tracks. A discrete-event model
starts work when something it waits on completes, so the last completion before a
step's start is its likeliest trigger; a flow or the step's own track wins a tie because
they are known dependencies. The walk stops at a step with no candidate. Time between a
predecessor's end and the step's start is ``wait``: the step was ready but waited on
something the trace does not show (a clock edge, a latency without an interval).
Every step starts strictly before the one after it, so the walk ends.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass

from desim.trace.recorder import Interval, Recorder
from desim.trace.roles import PART_CATEGORIES, role

Track = tuple[str, str]


@dataclass(frozen=True)
class Step:
    """One interval on the path and how it was reached."""

    interval: Interval
    via: str    # how it follows its predecessor: "flow", "track", "handoff"; first: "start"
    wait: int   # ps between the predecessor's end and this step's start


@dataclass(frozen=True)
class CriticalPath:
    """Steps in time order; ``end - start`` equals busy time on the path plus waits."""

    steps: list[Step]

    @property
    def start(self) -> int:
        return self.steps[0].interval.start if self.steps else 0

    @property
    def end(self) -> int:
        return self.steps[-1].interval.end if self.steps else 0

    def by_role(self) -> dict[str, int]:
        """Picoseconds on the path per role (compute, dma, ...) and ``wait``."""
        out: dict[str, int] = {}
        for st in self.steps:
            r = role(st.interval.cat)
            out[r] = out.get(r, 0) + st.interval.end - st.interval.start
        out["wait"] = sum(st.wait for st in self.steps)
        return out

    def runs(self) -> list[list[Step]]:
        """Consecutive steps grouped by track, for a compact listing."""
        out: list[list[Step]] = []
        for st in self.steps:
            iv = st.interval
            if out and (out[-1][-1].interval.path, out[-1][-1].interval.lane) == (iv.path,
                                                                                    iv.lane):
                out[-1].append(st)
            else:
                out.append([st])
        return out


Window = tuple[str, int, int]


def by_window(cp: CriticalPath, windows: list[Window]) -> list[tuple[str, dict[str, int]]]:
    """Time on the path per window (e.g. a layer's [start, end)), in the windows' order:
    each step's busy time (by role) and the wait before it, cut at the windows' edges, so
    no window gets more than its length. Time outside every window is listed as ``-``."""
    order = sorted(range(len(windows)), key=lambda k: windows[k][1])
    starts = [windows[k][1] for k in order]
    out: dict[str, dict[str, int]] = {name: {} for name, _, _ in windows}
    outside: dict[str, int] = {}

    def add(lo: int, hi: int, what: str) -> None:
        k = max(bisect.bisect_right(starts, lo) - 1, 0)
        while lo < hi:
            name, w0, w1 = windows[order[k]] if k < len(order) else ("", hi, hi)
            if lo < w0 or k >= len(order):  # before this window (or after the last)
                cut = min(hi, w0) if k < len(order) else hi
                outside[what] = outside.get(what, 0) + cut - lo
            else:
                cut = min(hi, w1)
                if cut > lo:
                    acc = out[name]
                    acc[what] = acc.get(what, 0) + cut - lo
                k += 1
            lo = max(lo, cut)

    prev_end = None
    for st in cp.steps:
        iv = st.interval
        if prev_end is not None and st.wait:
            add(prev_end, iv.start, "wait")
        add(iv.start, iv.end, role(iv.cat))
        prev_end = iv.end
    rows = [(name, out[name]) for name, _, _ in windows if out[name]]
    return rows + ([("-", outside)] if outside else [])


class _Index:
    """Steps of one track sorted by end, for 'the last to end at or before t'."""

    def __init__(self, steps: Iterable[Interval]):
        self.steps = sorted(steps, key=lambda iv: (iv.end, iv.start))
        self.ends = [iv.end for iv in self.steps]

    def last_before(self, t: int) -> Interval | None:
        k = bisect.bisect_right(self.ends, t) - 1
        return self.steps[k] if k >= 0 else None


def critical_path(rec: Recorder, exclude: frozenset[str] = PART_CATEGORIES) -> CriticalPath:
    """Walk back from the last-ending step of ``rec`` (method in the module docstring)."""
    steps = [iv for iv in rec.intervals if iv.end > iv.start and iv.cat not in exclude]
    if not steps:
        return CriticalPath([])
    tracks: dict[Track, list[Interval]] = {}
    for iv in steps:
        tracks.setdefault((iv.path, iv.lane), []).append(iv)
    index = {t: _Index(ivs) for t, ivs in tracks.items()}
    anywhere = _Index(steps)
    flows_in: dict[Track, list[tuple[int, int, Track]]] = {}
    for f in rec.flows:
        flows_in.setdefault(f.dst, []).append((f.t_dst, f.t_src, f.src))
    for lst in flows_in.values():
        lst.sort()

    cur = max(steps, key=lambda iv: (iv.end, iv.start, iv.path, iv.lane))
    path = []
    while True:
        track = (cur.path, cur.lane)
        cands: list[tuple[int, int, Interval, str]] = []  # (end, priority, step, via)
        lst = flows_in.get(track, [])
        k = bisect.bisect_left(lst, (cur.start, -1, ("", "")))
        while k < len(lst) and lst[k][0] <= cur.end:
            _, t_src, src = lst[k]
            k += 1
            prod = index[src].last_before(min(t_src, cur.start)) if src in index else None
            if prod is not None and prod is not cur:
                cands.append((prod.end, 2, prod, "flow"))
        same = index[track].last_before(cur.start)
        if same is not None:
            cands.append((same.end, 1, same, "track"))
        other = anywhere.last_before(cur.start)
        if other is not None and (other.path, other.lane) != track:
            cands.append((other.end, 0, other, "handoff"))
        if not cands:
            path.append(Step(cur, "start", 0))
            break
        end, _, pred, via = max(cands, key=lambda c: (c[0], c[1], -c[2].start, c[2].path,
                                                         c[2].lane))
        path.append(Step(cur, via, cur.start - end))
        cur = pred
    path.reverse()
    return CriticalPath(path)
