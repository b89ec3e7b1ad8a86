"""Timeline pictures: one row per component lane, bars coloured by category, name or layer;
optionally with utilisation over time (one row per component) and bandwidth over time
(one line per link) on the same time axis.

Colours come from :mod:`desim.trace.palette`, so a category has one colour in every
picture. Rows come from :mod:`desim.trace.rows`: lanes of many identical components (the
crossbars of an AIMC) share rows, and idle ones collapse into one grey ``... idle`` row.
Layers are marked on the time axis: a strip above the timeline names the layer blocks
(:mod:`desim.trace.blocks`: at most a dozen, consecutive layers grouped) and a thin line
marks every layer's start. The figure is at most :data:`MAX_HEIGHT_IN` high: rows get
thinner (and labels sparser) rather than the page longer.

The x axis unit follows the span shown (ns, us or ms); when the trace names its main
clock, a second axis on top shows that clock's cycles. Bars at least two pixels wide are
drawn exactly; narrower ones are summed per pixel column and drawn as one-pixel bars whose
opacity is the column's busy fraction (in quarters), so a run of millions of intervals
stays legible, truthful about how busy a row is, and quick to draw: the intervals are
read as recorded (unnamed tuples) into numpy arrays, and every bar of the timeline is one
rectangle of a single collection (rasterized in SVG and PDF when there are many).
matplotlib is imported here only, with the non-interactive Agg backend, so plotting works
on machines without a display.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np

from desim.errors import DesimError
from desim.trace import figfile, palette
from desim.trace.blocks import Block, Layers, blocks
from desim.trace.recorder import Recorder, natural_key
from desim.trace.rows import Row, Track, rows

#: the panels a figure can have, top to bottom
PANELS = ("timeline", "util", "bandwidth")
#: colour keys: interval category, interval name, or layer
BY = ("category", "name", "layer")
#: the most colour keys listed in the legend
_LEGEND_MAX = 24
#: the tallest a figure gets, in inches
MAX_HEIGHT_IN = 15.0
#: busy lanes of one group drawn on rows of their own before they share one
GROUP_MAX = 8
_WIDTH_IN, _LEFT_IN, _RIGHT_IN = 12.0, 2.1, 2.3
_ROW_IN, _UTIL_ROW_IN, _STRIP_IN, _LINK_IN = 0.26, 0.2, 0.3, 0.5
_NO_LAYER = "(no layer)"
_IDLE = "idle"
#: bars drawn as vector rectangles in an SVG or PDF; a timeline with more is rasterized
_VECTOR_MAX = 20_000


def plot(rec: Recorder, path: str | os.PathLike[str], window: tuple[int, int] | None = None,
         title: str = "", clock_hz: float | None = None, by: str = "category",
         layers: Layers = (), panels: Sequence[str] = ("timeline",), bins: int = 300,
         known: Sequence[Track] = (), components: Sequence[str] = (),
         group_max: int | None = GROUP_MAX, peaks: Mapping[str, float] | None = None,
         counters_filtered: bool = False) -> Path:
    """Save a figure of ``rec`` as PNG, SVG or PDF (by extension); see :func:`figure`."""
    return figfile.save(lambda: figure(rec, window, title, clock_hz, by, layers, panels, bins,
                                       known, components, group_max, peaks,
                                       counters_filtered), path, "timeline")


@dataclass
class Layout:
    """What a figure shows, decided before drawing: the window, the timeline's rows and
    their bars (row, legend entry) -> (start, end) rows of an array, clipped to the
    window, the utilisation panel's rows, the layers and their blocks, and the legend
    (entry -> colour, in order)."""

    lo: int
    hi: int
    rows: list[Row]
    bars: dict[tuple[int, str], np.ndarray]
    util_rows: list[Row]
    layers: list[tuple[str, int, int]]
    blocks: list[Block]
    colours: dict[str, str]


def layout(rec: Recorder, window: tuple[int, int] | None = None, by: str = "category",
           layers: Layers = (), panels: Sequence[str] = ("timeline",),
           known: Sequence[Track] = (), components: Sequence[str] = (),
           group_max: int | None = GROUP_MAX) -> Layout:
    """The :class:`Layout` of a figure of ``rec`` (arguments as :func:`figure`); one pass
    over the intervals."""
    from desim.trace.panels import util_rows

    if by not in BY:
        raise DesimError(f"colour by '{by}': choose one of {', '.join(BY)}")
    unknown = [p for p in panels if p not in PANELS]
    if unknown or not panels:
        raise DesimError(f"panels {','.join(panels)}: choose from {', '.join(PANELS)}")
    raw = rec.raw_intervals()
    end_ps = max(_end_ps(rec, raw), int(rec.meta.get("total_ps") or 0))  # a selection: the run's
    lo, hi = window if window else (0, max(end_ps, 1))
    if window and (lo >= hi or lo < 0 or lo > end_ps):
        raise DesimError(f"window {lo}:{hi} ps lies outside the run (0:{end_ps} ps); "
                         "give START:END within it")
    if not layers and (by == "layer" or "timeline" in panels):
        layers = trace_layers(rec)
    shown = [(n, s, e) for n, s, e in layers if (e > lo and s < hi) or (s == e and lo <= s < hi)]
    parts = blocks(shown)
    every, spans = _spans(raw, lo, hi, _key_of(by, _LayerOf(layers), _block_of(parts)))
    lanes = rows(every | set(known), {t for t, _ in spans}, group_max, components)
    where = {t: r for r, row in enumerate(lanes) for t in row.tracks if not row.idle}
    bars: dict[tuple[int, str], np.ndarray] = {}
    for (track, key), found in spans.items():
        at = (where[track], key)
        bars[at] = np.concatenate((bars[at], found)) if at in bars else found
    keys = {key for _, key in spans}
    if by == "layer":
        order = [b.legend for b in parts if b.legend in keys] + (
            [_NO_LAYER] if _NO_LAYER in keys else [])
    else:
        order = sorted(keys, key=natural_key)
    comps = util_rows(rec, lo, hi, known, components, group_max) if "util" in panels else []
    return Layout(lo, hi, lanes, bars, comps, list(shown), parts, key_colours(order, by, parts))


def figure(rec: Recorder, window: tuple[int, int] | None = None, title: str = "",
           clock_hz: float | None = None, by: str = "category", layers: Layers = (),
           panels: Sequence[str] = ("timeline",), bins: int = 300, known: Sequence[Track] = (),
           components: Sequence[str] = (), group_max: int | None = GROUP_MAX,
           peaks: Mapping[str, float] | None = None, counters_filtered: bool = False) -> Any:
    """The matplotlib figure of ``rec``, optionally in a window.

    ``window`` is (start_ps, end_ps). ``by`` colours bars by ``category``, ``name`` or
    ``layer`` (block): an interval's ``layer`` argument, else the one of ``layers``
    (name, start_ps, end_ps) whose window holds the interval's midpoint; without
    ``layers`` they are derived from the trace (:func:`trace_layers`). ``panels`` picks
    from ``PANELS``; ``bins`` is the number of time bins of the utilisation and bandwidth
    panels.
    ``known`` adds tracks (path, lane) that exist but may have no interval in ``rec``,
    ``components`` component paths that exist (with or without a track: a crossbar that
    never ran shows in its group's idle row); ``group_max`` is how many busy lanes of
    identical components get rows of their own (None: all). ``peaks`` maps a link's
    bandwidth counter to its peak (B/cycle); ``counters_filtered`` says the bandwidth
    counters were removed by a component selection.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from desim.trace import panels as other

    lay = layout(rec, window, by, layers, panels, known, components, group_max)
    lo, hi = lay.lo, lay.hi
    scale, unit = _time_unit(hi - lo)
    strip = _STRIP_IN if lay.blocks and "timeline" in panels else 0.0
    links = other.bandwidth_series(rec) if "bandwidth" in panels else {}
    legend_in = 0.19 * (min(len(lay.colours), _LEGEND_MAX + 1) + 2)
    top_in, gap_in, bottom_in = (1.05 if title else 0.8), 0.35, 0.6
    room = MAX_HEIGHT_IN - top_in - bottom_in - strip - gap_in * (len(panels) - 1)
    want = {"timeline": len(lay.rows) * _ROW_IN, "util": len(lay.util_rows) * _UTIL_ROW_IN,
            "bandwidth": max(len(links) * _LINK_IN, 0.8)}
    shrink = min(1.0, room / max(sum(want[p] for p in panels), 1e-9))
    heights = {"timeline": max(1.0, want["timeline"] * shrink, min(legend_in, room)),
               "util": max(0.8, want["util"] * shrink),
               "bandwidth": max(0.8, want["bandwidth"] * shrink)}
    total_in = min(MAX_HEIGHT_IN, top_in + bottom_in + strip + sum(heights[p] for p in panels)
                   + gap_in * (len(panels) - 1))
    fig = plt.figure(figsize=(_WIDTH_IN, total_in))
    axes_w = (_WIDTH_IN - _LEFT_IN - _RIGHT_IN) / _WIDTH_IN
    px_ps = (hi - lo) / (axes_w * _WIDTH_IN * figfile.DPI)
    y = total_in - top_in
    axes: list[Any] = []
    for name in panels:
        if name == "timeline" and strip:
            y -= strip
            axes.append(fig.add_axes((_LEFT_IN / _WIDTH_IN, y / total_in, axes_w,
                                      strip * 0.8 / total_in), sharex=axes[0] if axes else None))
            _draw_strip(axes[-1], lay.blocks, by, lo, hi, scale, px_ps)
        h = min(heights[name], max(y - bottom_in, 0.3))
        if name == "bandwidth" and links:
            step = h / len(links)
            for k, (path, series) in enumerate(links.items()):
                ax = fig.add_axes((_LEFT_IN / _WIDTH_IN, (y - (k + 1) * step) / total_in,
                                   axes_w, step * 0.82 / total_in),
                                  sharex=axes[0] if axes else None)
                axes.append(ax)
                other.draw_link(ax, path, series, lo, hi, scale, bins, (peaks or {}).get(path),
                                first=k == 0)
            y -= h + gap_in
            continue
        y -= h
        ax = fig.add_axes((_LEFT_IN / _WIDTH_IN, y / total_in, axes_w, h / total_in),
                          sharex=axes[0] if axes else None)
        axes.append(ax)
        y -= gap_in
        if name == "timeline":
            _draw_timeline(ax, plt, lay, by, scale, px_ps, h / max(len(lay.rows), 1))
            _draw_boundaries(ax, lay.layers, lo, hi, scale)
        elif name == "util":
            other.draw_util(ax, fig, rec, lay.util_rows, lo, hi, scale, bins,
                            h / max(len(lay.util_rows), 1))
        else:
            other.draw_no_bandwidth(ax, counters_filtered)
    for ax in axes[:-1]:
        ax.tick_params(labelbottom=False)
    axes[-1].set_xlabel(f"time ({unit})")
    axes[0].set_xlim(lo / scale, hi / scale)
    if clock_hz:
        cyc = clock_hz * scale / 1e12
        top = axes[0].secondary_xaxis("top", functions=(lambda t: t * cyc, lambda c: c / cyc))
        top.set_xlabel(f"cycles @ {clock_hz / 1e6:g} MHz", fontsize=9)
        top.xaxis.set_major_formatter(lambda c, _pos: f"{c:,.0f}")
        top.tick_params(labelsize=8)
    if title:
        fig.suptitle(title, fontsize=10, y=1 - 0.12 / total_in, va="top")
    return fig


def trace_layers(rec: Recorder) -> list[tuple[str, int, int]]:
    """Layers as the trace shows them: per ``layer`` argument, the first start to the last
    end of its compute intervals (crossbar programming, done ahead for later layers, and
    data movement left out), in order of start."""
    from desim.trace.roles import role

    spans: dict[str, tuple[int, int]] = {}
    for _path, _lane, _name, cat, start, end, args, *_ in rec.raw_intervals():
        name = args.get("layer") if args else None
        if name and role(cat) == "compute":
            s, e = spans.get(name, (start, end))
            spans[name] = (min(s, start), max(e, end))
    return sorted(((n, s, e) for n, (s, e) in spans.items()), key=lambda lay: (lay[1], lay[2]))


def _end_ps(rec: Recorder, raw: list[tuple[Any, ...]]) -> int:
    """Time of the last record (what ``rec.end_ps()`` gives, read from the raw records)."""
    return max(max(map(itemgetter(5), raw), default=0),
               max(map(itemgetter(2), rec.raw_counters()), default=0),
               max((i.t for i in rec.instants), default=0))


class _Codes(dict):  # type: ignore[type-arg]
    """Numbers the keys it is asked for, in order of first request."""

    def __missing__(self, key: Any) -> int:
        self[key] = code = len(self)
        return code


def _spans(raw: list[tuple[Any, ...]], lo: int, hi: int,
           key: Callable[[tuple[Any, ...]], tuple[str, str, str]]
           ) -> tuple[set[Track], dict[tuple[Track, str], np.ndarray]]:
    """Every track of ``raw``, and per (track, colour key) the (start, end) rows of its
    intervals that reach into [lo, hi), clipped to it, in record order."""
    n = len(raw)
    codes = _Codes()
    code = np.fromiter(map(codes.__getitem__, map(key, raw)), np.int64, n)
    start = np.fromiter(map(itemgetter(4), raw), np.int64, n)
    end = np.fromiter(map(itemgetter(5), raw), np.int64, n)
    inside = np.flatnonzero((end > lo) & (start < hi))
    order = inside[np.argsort(code[inside], kind="stable")]
    cut = np.searchsorted(code[order], np.arange(len(codes) + 1))
    clipped = np.stack((np.maximum(start[order], lo), np.minimum(end[order], hi)), axis=1)
    spans = {((path, lane), k): clipped[cut[c]:cut[c + 1]]
             for (path, lane, k), c in codes.items() if cut[c + 1] > cut[c]}
    return {(path, lane) for path, lane, _ in codes}, spans


def _key_of(by: str, find: _LayerOf, block: Mapping[str, str]
            ) -> Callable[[tuple[Any, ...]], tuple[str, str, str]]:
    """(path, lane, colour key) of a recorded interval: its category, its name, or the
    legend entry of its layer's block (its ``layer`` argument, else the layer whose
    window holds its midpoint, else ``(no layer)``)."""
    if by != "layer":
        return itemgetter(0, 1, 3 if by == "category" else 2)

    def key(t: tuple[Any, ...]) -> tuple[str, str, str]:
        args = t[6]
        layer = str(args["layer"]) if args and args.get("layer") else find((t[4] + t[5]) // 2)
        return t[0], t[1], block.get(layer, _NO_LAYER)

    return key


def _time_unit(span_ps: int) -> tuple[float, str]:
    if span_ps >= 10**10:
        return 1e9, "ms"
    if span_ps >= 10**7:
        return 1e6, "us"
    return 1e3, "ns"


class _LayerOf:
    """The layer holding a time: the one of ``layers`` (which do not overlap) whose window
    holds it, else ``(no layer)``; a binary search."""

    def __init__(self, layers: Layers):
        self._layers = sorted(layers, key=lambda lay: lay[1])
        self._starts = [s for _, s, _ in self._layers]

    def __call__(self, t: int) -> str:
        k = bisect.bisect_right(self._starts, t) - 1
        if k >= 0 and t < self._layers[k][2]:
            return self._layers[k][0]
        return _NO_LAYER


def thin_bars(spans: np.ndarray, lo: int, hi: int, px: float) -> tuple[np.ndarray, np.ndarray]:
    """Split ``spans`` ((start, end) rows clipped to [lo, hi)) into exact bars at least two
    pixels wide, as (start, width) rows, and pixel columns (start, width, busy fraction
    rounded up to a quarter) for the rest."""
    start, end = spans[:, 0], spans[:, 1]
    wide = end - start >= 2 * px
    exact = np.stack((start[wide], end[wide] - start[wide]), axis=1)
    narrow = _union(start[~wide], end[~wide])
    if not len(narrow):
        return exact, np.empty((0, 3))
    n = max(1, int(np.ceil((hi - lo) / px)))
    edges = lo + px * np.arange(n + 1)
    level = np.ceil(np.diff(_busy_before(narrow, edges)) / px * 4 - 1e-9) / 4
    cols = np.flatnonzero(level > 0)
    return exact, np.stack((edges[cols], np.full(len(cols), px), np.minimum(level[cols], 1.0)),
                           axis=1)


def _busy_before(union: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Busy time of ``union`` (sorted, disjoint (start, end) rows) in [0, t) for every t:
    :func:`desim.trace.stats.cumulative` on an array."""
    starts, ends = union[:, 0].astype(np.float64), union[:, 1].astype(np.float64)
    prefix = np.concatenate(([0.0], np.cumsum(ends - starts)))
    k = np.searchsorted(starts, t, side="right")
    j = np.maximum(k - 1, 0)
    part = np.clip(np.minimum(t, ends[j]) - starts[j], 0, None)
    return np.where(k > 0, prefix[j] + part, 0.0)


def _union(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """The union of the spans [start, end) as sorted, disjoint (start, end) rows (touching
    spans join, empty ones drop): :func:`desim.trace.stats.merge` on arrays."""
    keep = end > start
    start, end = start[keep], end[keep]
    if not len(start):
        return np.empty((0, 2), np.int64)
    order = np.lexsort((end, start))
    start, end = start[order], end[order]
    reach = np.maximum.accumulate(end)
    first = np.flatnonzero(np.r_[True, start[1:] > reach[:-1]])
    last = np.r_[first[1:] - 1, len(start) - 1]
    return np.stack((start[first], reach[last]), axis=1)


def _block_of(parts: Sequence[Block]) -> dict[str, str]:
    """Layer name -> the legend entry of its block."""
    return {name: b.legend for b in parts for name in b.layers}


def key_colours(keys: Sequence[str], by: str, parts: Sequence[Block] = ()) -> dict[str, str]:
    """The colour of every legend entry, in order: the palette's for categories and names,
    the block's for layers."""
    if by == "layer":
        index = {b.legend: k for k, b in enumerate(parts)}
        return {k: palette.layer_colour(index[k]) if k in index else palette.NO_LAYER
                for k in keys}
    return {k: palette.colour(k) for k in keys}


def _draw_timeline(ax: Any, plt: Any, lay: Layout, by: str, scale: float, px: float,
                   row_in: float) -> None:
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import to_rgb

    lo, hi, lanes, colour = lay.lo, lay.hi, lay.rows, lay.colours
    boxes, fills = [], []
    for (r, key), bars in sorted(lay.bars.items()):
        exact, columns = thin_bars(bars, lo, hi, px)
        rgb = to_rgb(colour[key])
        for x, alpha in ((exact, np.ones(len(exact))), (columns[:, :2], columns[:, 2])):
            if len(x):
                boxes.append(_boxes(x[:, 0] / scale, x[:, 1] / scale, r - 0.4, 0.8))
                fills.append(np.column_stack((np.tile(rgb, (len(x), 1)), alpha)))
    if boxes:
        verts = np.concatenate(boxes)
        ax.add_collection(PolyCollection(
            verts,  # type: ignore[arg-type]  # a 3-D array: matplotlib's fast path
            facecolors=np.concatenate(fills), linewidth=0, rasterized=len(verts) > _VECTOR_MAX))
    idle = [r for r, row in enumerate(lanes) if row.idle]
    for r in idle:
        ax.broken_barh([(lo / scale, (hi - lo) / scale)], (r - 0.25, 0.5),
                       facecolors=palette.colour(_IDLE), linewidth=0)
    row_labels(ax, [row.label for row in lanes], [row.idle for row in lanes], row_in)
    ax.grid(axis="x", alpha=0.3)
    entries = list(colour.items())[:_LEGEND_MAX]
    more = len(colour) - len(entries)
    if idle:
        entries.append((_IDLE, palette.colour(_IDLE)))
    if entries:
        handles = [plt.Rectangle((0, 0), 1, 1, color=c) for _, c in entries]
        labels = [k for k, _ in entries]
        if more > 0:
            handles.append(plt.Rectangle((0, 0), 1, 1, color="white"))
            labels.append(f"+{more} more")
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8,
                  frameon=False, title="layer block" if by == "layer" else by,
                  title_fontsize=8)


def _boxes(x: np.ndarray, width: np.ndarray, y: float, height: float) -> np.ndarray:
    """The corners of rectangles [x, x + width] x [y, y + height], as ``broken_barh``
    orders them."""
    x1 = x + width
    y0, y1 = np.full(len(x), y), np.full(len(x), y + height)
    return np.stack((np.stack((x, y0), 1), np.stack((x, y1), 1), np.stack((x1, y1), 1),
                     np.stack((x1, y0), 1)), axis=1)


def row_labels(ax: Any, labels: list[str], idle: list[bool], row_in: float) -> None:
    """Y tick labels sized to the rows; every k-th one when rows are too thin for all."""
    size = max(5.0, min(8.0, row_in * 72 * 0.7))
    step = max(1, round(size / max(row_in * 72, 1e-9) + 0.49))
    ticks = list(range(0, len(labels), step))
    ax.set_yticks(ticks, [labels[k] for k in ticks], fontsize=size)
    for tick, k in zip(ax.get_yticklabels(), ticks, strict=True):
        if idle[k]:
            tick.set_color("#808080")
    ax.set_ylim(max(len(labels), 1) - 0.5, -0.5)


def _draw_boundaries(ax: Any, layers: Layers, lo: int, hi: int, scale: float) -> None:
    """A thin line at every layer's start inside the window."""
    starts = sorted({s for _, s, _ in layers if lo < s < hi})
    if starts:
        ax.vlines([s / scale for s in starts], 0, 1, transform=ax.get_xaxis_transform(),
                  colors="#404040", linewidth=0.5, alpha=0.35, zorder=3)


def _draw_strip(ax: Any, parts: Sequence[Block], by: str, lo: int, hi: int, scale: float,
                px: float) -> None:
    """The layer blocks as labelled spans: in their colours when bars are coloured by
    layer, in alternating greys otherwise."""
    from matplotlib.colors import to_rgb

    for k, b in enumerate(parts):
        s, e = max(b.start_ps, lo), min(b.end_ps, hi)
        fill = palette.layer_colour(k) if by == "layer" else ("#d9d9d9", "#f0f0f0")[k % 2]
        ax.axvspan(s / scale, max(e, s + px) / scale, color=fill, linewidth=0)
        ax.axvline(s / scale, color="#404040", linewidth=0.6)
        r, g, bl = to_rgb(fill)
        ink = "white" if 0.299 * r + 0.587 * g + 0.114 * bl < 0.55 else "black"
        for text in (b.label, f"#{b.first}" if b.first == b.last else f"#{b.first}-{b.last}"):
            if (e - s) / px >= 6.2 * len(text) + 6:
                ax.text((s + e) / 2 / scale, 0.5, text, ha="center", va="center", fontsize=7.5,
                        color=ink, clip_on=True)
                break
    ax.set_yticks([])
    ax.set_ylim(0, 1)
    ax.set_ylabel("layers", fontsize=8, rotation=0, ha="right", va="center")
    ax.tick_params(bottom=False, labelbottom=False)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
