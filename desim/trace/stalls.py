"""Where the engines waited: per-layer stall tables and the longest compute gaps.

Two sources, shown side by side:

- the summary's ``layers`` entries say, per layer, how many cycles its engine computed
  (``compute_cycles``) and sat waiting on tiles from the DMA or on DRAM
  (``stall_cycles``); the rest of the layer's cycles is ``other``;
- a trace attributes every picosecond of a time window to the first of these that is
  busy: ``compute`` (any compute track), ``setup`` (an engine setting up, e.g. crossbar
  programming), then ``dram``, ``interconnect`` (a link),
  ``memory`` (a memory port), ``dma`` (a DMA channel, e.g. descriptor setup), else
  ``idle``. While no engine computes, the innermost busy resource is the likeliest one
  the engines wait on.

A compute gap is a stretch of the run during which no compute track is busy (including
the stretch before the first computation and after the last); the longest are the run's
top stalls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from desim.trace.layers import LayerRow
from desim.trace.recorder import Interval, Recorder
from desim.trace.roles import WAIT_ROLES, role
from desim.trace.stats import Span, merge

#: attribution order: compute first, then engine set-up, then the waits, innermost first
ATTRIBUTION = ("compute", "setup", *WAIT_ROLES)


def role_spans(rec: Recorder) -> dict[str, list[Span]]:
    """The busy union of each role's intervals (compute, dram, interconnect, ...)."""
    raw: dict[str, list[Span]] = {r: [] for r in ATTRIBUTION}
    by_cat = {cat: raw[role(cat)] for cat in {iv.cat for iv in rec.intervals}}
    for iv in rec.intervals:
        by_cat[iv.cat].append((iv.start, iv.end))
    return {r: merge(s) for r, s in raw.items()}


def attribute(spans: dict[str, list[Span]], lo: int, hi: int) -> dict[str, int]:
    """Picoseconds of [lo, hi) attributed to each role in ``ATTRIBUTION`` order, plus
    ``idle``; the values add up to ``hi - lo``."""
    cuts = [np.asarray([lo, hi], dtype=np.int64)]
    arrays = {}
    for r in ATTRIBUTION:
        arr = np.asarray(spans.get(r) or np.empty((0, 2)), dtype=np.int64).reshape(-1, 2)
        arrays[r] = arr
        inside = arr[(arr[:, 1] > lo) & (arr[:, 0] < hi)]
        cuts.append(np.clip(inside.ravel(), lo, hi))
    bounds = np.unique(np.concatenate(cuts))
    left, width = bounds[:-1], np.diff(bounds)
    free = np.ones(len(left), dtype=bool)
    out: dict[str, int] = {}
    for r in ATTRIBUTION:
        arr = arrays[r]
        if len(arr):
            k = np.searchsorted(arr[:, 0], left, side="right") - 1
            busy = (k >= 0) & (arr[np.maximum(k, 0), 1] > left)
        else:
            busy = np.zeros(len(left), dtype=bool)
        hit = busy & free
        out[r] = int(width[hit].sum())
        free &= ~hit
    out["idle"] = int(width[free].sum())
    return out


@dataclass(frozen=True)
class Gap:
    """A stretch with no engine computing, and what was busy meanwhile."""

    start: int
    end: int
    before: Interval | None   # the computation that ended at ``start``
    after: Interval | None    # the computation that started at ``end``
    waits: dict[str, int]     # ps per wait role and idle

    @property
    def duration(self) -> int:
        return self.end - self.start

    @property
    def cause(self) -> str:
        """The wait role (or idle) that covers most of the gap."""
        return max(self.waits, key=lambda r: (self.waits[r], r == "idle"))


def compute_gaps(rec: Recorder, end_ps: int, top: int = 5) -> list[Gap]:
    """The ``top`` longest gaps in computation over [0, end_ps), longest first."""
    spans = role_spans(rec)
    busy = spans["compute"]
    edges = [0] + [p for s in busy for p in s] + [end_ps]
    gaps = [(edges[k], edges[k + 1]) for k in range(0, len(edges) - 1, 2)
            if edges[k + 1] > edges[k]]
    gaps.sort(key=lambda g: (g[0] - g[1], g[0]))
    computing = {cat for cat in {iv.cat for iv in rec.intervals} if role(cat) == "compute"}
    compute = sorted((iv for iv in rec.intervals if iv.cat in computing),
                     key=lambda iv: (iv.end, iv.start))
    by_start = sorted(compute, key=lambda iv: (iv.start, iv.end))
    ends = [iv.end for iv in compute]
    starts = [iv.start for iv in by_start]
    out = []
    for s, e in gaps[:top]:
        k = int(np.searchsorted(ends, s, side="right")) - 1
        j = int(np.searchsorted(starts, e, side="left"))
        before = compute[k] if k >= 0 and compute[k].end == s else None
        after = by_start[j] if j < len(by_start) and by_start[j].start == e else None
        waits = attribute(spans, s, e)
        waits.pop("compute")
        out.append(Gap(s, e, before, after, waits))
    return out


@dataclass(frozen=True)
class LayerStall:
    """One layer's cycles split into computing and waiting."""

    layer: LayerRow
    compute: float                 # cycles computing (summary; 0 when not given)
    setup: float                   # cycles the layer waited for its engine's set-up
    dma: float                     # cycles waiting on tiles from the DMA (summary)
    dram: float                    # cycles waiting on DRAM (summary)
    traced: dict[str, int] | None  # trace attribution of the layer's window, ps


def layer_stalls(layers: list[LayerRow], rec: Recorder | None) -> list[LayerStall]:
    """Each layer's summary split and, with a trace, its window's attribution."""
    spans = role_spans(rec) if rec is not None else None
    out = []
    for row in layers:
        stall = row.stall_cycles
        traced = attribute(spans, row.start_ps, row.end_ps) if spans is not None else None
        out.append(LayerStall(row, float(row.compute_cycles or 0.0), float(row.setup_cycles),
                              float(stall.get("dma", 0.0)), float(stall.get("dram", 0.0)),
                              traced))
    return out
