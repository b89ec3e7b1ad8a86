"""Statistics of a trace: busy time, utilisation over time, and bandwidth per link.

Busy time of a set of intervals is the length of their union. Utilisation of a component
in a time bin is the fraction of the bin covered by the union of its lanes' intervals.
Bandwidth comes from the ``bandwidth`` counters that links and memory ports record (bytes
per cycle of the link's clock, a step function that holds each value until the next
sample); its mean over a bin is the integral of the step function over the bin divided
by the bin's length.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from desim.trace.recorder import Recorder, natural_key

Span = tuple[int, int]


def merge(spans: Iterable[Span]) -> list[Span]:
    """The union of ``spans`` as sorted, disjoint spans (touching spans join)."""
    out: list[Span] = []
    for s, e in sorted(spans):
        if e <= s:
            continue
        if out and s <= out[-1][1]:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def covered(merged: list[Span], lo: int, hi: int) -> int:
    """Length of ``merged`` (disjoint, sorted) inside [lo, hi)."""
    return sum(max(0, min(e, hi) - max(s, lo)) for s, e in merged if e > lo and s < hi)


def cumulative(merged: list[Span], t: np.ndarray) -> np.ndarray:
    """Busy time of ``merged`` in [0, t) for every t (vectorised)."""
    if not merged:
        return np.zeros(len(t))
    arr = np.asarray(merged, dtype=np.float64)
    starts, ends = arr[:, 0], arr[:, 1]
    prefix = np.concatenate(([0.0], np.cumsum(ends - starts)))
    k = np.searchsorted(starts, t, side="right")
    j = np.maximum(k - 1, 0)
    part = np.clip(np.minimum(t, ends[j]) - starts[j], 0, None)
    return np.where(k > 0, prefix[j] + part, 0.0)


def component_spans(rec: Recorder) -> dict[str, list[Span]]:
    """The busy union of each component's lanes, by component path (natural order)."""
    raw: dict[str, list[Span]] = {}
    for iv in rec.intervals:
        raw.setdefault(iv.path, []).append((iv.start, iv.end))
    return {p: merge(raw[p]) for p in sorted(raw, key=natural_key)}


def utilisation(rec: Recorder, total_ps: int) -> dict[str, float]:
    """Busy fraction of each component over [0, total_ps)."""
    return {p: covered(m, 0, total_ps) / total_ps if total_ps else 0.0
            for p, m in component_spans(rec).items()}


def bin_edges(lo: int, hi: int, bins: int) -> np.ndarray:
    """``bins + 1`` edges from ``lo`` to ``hi`` in picoseconds."""
    return np.linspace(lo, hi, max(1, bins) + 1)


def utilisation_over_time(rec: Recorder, edges: np.ndarray) -> dict[str, np.ndarray]:
    """Busy fraction of each component in each bin between consecutive ``edges``."""
    width = np.diff(edges)
    return {p: np.diff(cumulative(m, edges)) / width for p, m in component_spans(rec).items()}


@dataclass(frozen=True)
class Series:
    """A step function: ``values[k]`` holds from ``times[k]`` until ``times[k + 1]``."""

    times: np.ndarray
    values: np.ndarray

    def integral(self, t: np.ndarray) -> np.ndarray:
        """Integral from the first sample to each t (0 before the first sample)."""
        times, values = self.times, self.values
        if len(times) == 0:
            return np.zeros(len(t))
        prefix = np.concatenate(([0.0], np.cumsum(values[:-1] * np.diff(times))))
        k = np.searchsorted(times, t, side="right")
        j = np.maximum(k - 1, 0)
        return np.where(k > 0, prefix[j] + values[j] * (t - times[j]), 0.0)

    def mean(self, edges: np.ndarray) -> np.ndarray:
        """Mean value over each bin between consecutive ``edges``."""
        return np.diff(self.integral(edges)) / np.diff(edges)


def counter_series(rec: Recorder, name: str) -> dict[str, Series]:
    """Each component's counter ``name`` as a step function; of several samples at one
    time the last recorded holds."""
    raw: dict[str, dict[int, float]] = {}
    for c in rec.counters:
        if c.name == name:
            raw.setdefault(c.path, {})[c.t] = float(c.value)
    out: dict[str, Series] = {}
    for path in sorted(raw, key=natural_key):
        times = sorted(raw[path])
        out[path] = Series(np.asarray(times, dtype=np.float64),
                           np.asarray([raw[path][t] for t in times], dtype=np.float64))
    return out


@dataclass(frozen=True)
class LinkStats:
    """Traffic of one link or memory port over a run."""

    path: str
    bytes: int          # bytes carried (from its intervals' ``bytes`` arguments)
    peak: float         # highest bandwidth sample, B/cycle of the link's clock
    mean: float         # mean bandwidth over the run, B/cycle
    active: float       # fraction of the run with a non-zero bandwidth


def link_stats(rec: Recorder, total_ps: int) -> list[LinkStats]:
    """Bytes, peak and mean bandwidth and active fraction of every link in the trace.

    A link is a ``bandwidth`` counter at ``owner.lane``; its bytes are summed over the
    intervals of track (owner, lane).
    """
    nbytes: dict[str, int] = {}
    for iv in rec.intervals:
        if iv.args and "bytes" in iv.args:
            key = f"{iv.path}.{iv.lane}"
            nbytes[key] = nbytes.get(key, 0) + int(iv.args["bytes"])
    out = []
    edges = np.asarray([0.0, float(max(total_ps, 1))])
    for path, series in counter_series(rec, "bandwidth").items():
        active = Series(series.times, (series.values > 0).astype(np.float64))
        out.append(LinkStats(path, nbytes.get(path, 0), float(series.values.max(initial=0)),
                             float(series.mean(edges)[0]), float(active.mean(edges)[0])))
    return out
