"""Timeline pictures: one row per component lane, bars coloured by category, name or layer;
optionally with utilisation over time (one row per component) and bandwidth over time
(one line per link) on the same time axis.

The x axis unit follows the span shown (ns, us or ms); when the trace names its main
clock, a second axis on top shows that clock's cycles. Bars at least two pixels wide are
drawn exactly; narrower ones are summed per pixel column and drawn as one-pixel bars whose
opacity is the column's busy fraction (in quarters), so a run of tens of thousands of
intervals stays legible, truthful about how busy a row is, and quick to draw. matplotlib
is imported here only, with the non-interactive Agg backend, so plotting works on machines
without a display.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from desim.errors import DesimError
from desim.fileio import atomic_path
from desim.trace.recorder import Interval, Recorder, natural_key

#: the longest a row label may be before it is shortened from the left
_LABEL_CHARS = 28
#: the panels a figure can have, top to bottom
PANELS = ("timeline", "util", "bandwidth")
#: colour keys: interval category, interval name, or layer
BY = ("category", "name", "layer")
#: the most colour keys listed in the legend
_LEGEND_MAX = 24
_WIDTH_IN, _LEFT_IN, _RIGHT_IN, _DPI = 12.0, 2.1, 2.0, 110
_NO_LAYER = "(no layer)"

Layers = Sequence[tuple[str, int, int]]


def plot(rec: Recorder, path: str | os.PathLike[str], window: tuple[int, int] | None = None,
         title: str = "", clock_hz: float | None = None, by: str = "category",
         layers: Layers = (), panels: Sequence[str] = ("timeline",),
         bins: int = 300) -> Path:
    """Save a figure of ``rec`` as PNG, SVG or PDF (by extension), optionally in a window.

    ``window`` is (start_ps, end_ps). ``by`` colours bars by ``category``, ``name`` or
    ``layer``: an interval's ``layer`` argument, else the first of ``layers`` (name,
    start_ps, end_ps) whose window holds the interval's midpoint. ``panels`` picks from
    ``PANELS``; ``bins`` is the number of time bins of the utilisation and bandwidth
    panels.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    target = Path(path)
    if target.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise DesimError(f"timeline file {target}: use a .png, .svg or .pdf name")
    if by not in BY:
        raise DesimError(f"colour by '{by}': choose one of {', '.join(BY)}")
    unknown = [p for p in panels if p not in PANELS]
    if unknown or not panels:
        raise DesimError(f"panels {','.join(panels)}: choose from {', '.join(PANELS)}")
    end_ps = rec.end_ps()
    lo, hi = window if window else (0, max(end_ps, 1))
    if window and (lo >= hi or lo < 0 or lo > end_ps):
        raise DesimError(f"window {lo}:{hi} ps lies outside the run (0:{end_ps} ps); "
                         "give START:END within it")
    scale, unit = _time_unit(hi - lo)
    keys = colour_keys(rec, lo, hi, by, layers)
    legend_rows = min(len(keys), _LEGEND_MAX + 1) + 1
    has_bw = any(c.name == "bandwidth" for c in rec.counters)
    heights = {"timeline": max(1.2, 0.3 * len(rec.tracks()), 0.19 * legend_rows),
               "util": max(1.0, 0.2 * len({iv.path for iv in rec.intervals})),
               "bandwidth": 2.2 if has_bw else 0.8}
    top_in, gap_in, bottom_in = (1.0 if title else 0.75), 0.35, 0.6
    total_in = top_in + bottom_in + sum(heights[p] for p in panels) + gap_in * (len(panels) - 1)
    fig = plt.figure(figsize=(_WIDTH_IN, total_in))
    axes_w = (_WIDTH_IN - _LEFT_IN - _RIGHT_IN) / _WIDTH_IN
    y = total_in - top_in
    axes: list[Any] = []
    for name in panels:
        y -= heights[name]
        ax = fig.add_axes((_LEFT_IN / _WIDTH_IN, y / total_in, axes_w, heights[name] / total_in),
                          sharex=axes[0] if axes else None)
        axes.append(ax)
        y -= gap_in
        px_ps = (hi - lo) / (axes_w * _WIDTH_IN * _DPI)
        if name == "timeline":
            _draw_timeline(ax, plt, rec, lo, hi, scale, by, layers, keys, px_ps)
        elif name == "util":
            _draw_util(ax, fig, rec, lo, hi, scale, bins)
        else:
            _draw_bandwidth(ax, rec, lo, hi, scale, bins)
    for ax in axes[:-1]:
        ax.tick_params(labelbottom=False)
    axes[-1].set_xlabel(f"time ({unit})")
    axes[0].set_xlim(lo / scale, hi / scale)
    if clock_hz:
        cyc = clock_hz * scale / 1e12
        top = axes[0].secondary_xaxis("top", functions=(lambda t: t * cyc, lambda c: c / cyc))
        top.set_xlabel(f"cycles @ {clock_hz / 1e6:g} MHz", fontsize=9)
        top.xaxis.set_major_formatter(lambda c, _pos: f"{c:,.0f}")
    if title:
        fig.suptitle(title, fontsize=10, y=1 - 0.15 / total_in, va="top")
    with atomic_path(target) as tmp:
        fig.savefig(tmp, dpi=_DPI, format=target.suffix[1:].lower(),
                    metadata={"Software": None} if target.suffix.lower() == ".png" else None)
    plt.close(fig)
    return target


def _time_unit(span_ps: int) -> tuple[float, str]:
    if span_ps >= 10**10:
        return 1e9, "ms"
    if span_ps >= 10**7:
        return 1e6, "us"
    return 1e3, "ns"


def colour_key(iv: Interval, by: str, layers: Layers) -> str:
    """The legend entry of ``iv`` when colouring ``by`` category, name or layer."""
    if by == "category":
        return iv.cat
    if by == "name":
        return iv.name
    if iv.args and iv.args.get("layer"):
        return str(iv.args["layer"])
    mid = (iv.start + iv.end) // 2
    for name, start, end in layers:
        if start <= mid < end:
            return name
    return _NO_LAYER


def thin_bars(spans: list[tuple[int, int]], lo: int, hi: int, px: float
              ) -> tuple[list[tuple[float, float]], list[tuple[float, float, float]]]:
    """Split ``spans`` (clipped to [lo, hi)) into exact bars (at least two pixels wide)
    and pixel columns (start, width, busy fraction rounded up to a quarter) for the rest."""
    import numpy as np

    from desim.trace.stats import cumulative, merge

    wide = [(s, e - s) for s, e in spans if e - s >= 2 * px]
    narrow = merge((s, e) for s, e in spans if e - s < 2 * px)
    if not narrow:
        return wide, []  # type: ignore[return-value]
    n = max(1, int(np.ceil((hi - lo) / px)))
    edges = lo + px * np.arange(n + 1)
    level = np.ceil(np.diff(cumulative(narrow, edges)) / px * 4 - 1e-9) / 4
    cols = np.flatnonzero(level > 0)
    return wide, [(float(edges[c]), px, float(min(level[c], 1.0))) for c in cols]  # type: ignore[return-value]


def colour_keys(rec: Recorder, lo: int, hi: int, by: str, layers: Layers) -> list[str]:
    """The legend entries of the intervals within [lo, hi): layers in order of first
    appearance, categories and names in natural order."""
    first: dict[str, int] = {}
    for iv in rec.intervals:
        if iv.end > lo and iv.start < hi:
            key = colour_key(iv, by, layers)
            if iv.start < first.get(key, iv.start + 1):
                first[key] = iv.start
    if by == "layer":
        return sorted(first, key=lambda k: (k == _NO_LAYER, first[k], natural_key(k)))
    return sorted(first, key=natural_key)


def _draw_timeline(ax: Any, plt: Any, rec: Recorder, lo: int, hi: int, scale: float, by: str,
                   layers: Layers, keys: list[str], px: float) -> None:
    tracks = rec.tracks()
    row = {t: i for i, t in enumerate(tracks)}
    spans: dict[tuple[int, str], list[tuple[int, int]]] = {}
    for iv in rec.intervals:
        if iv.end <= lo or iv.start >= hi:
            continue
        spans.setdefault((row[(iv.path, iv.lane)], colour_key(iv, by, layers)), []).append(
            (max(iv.start, lo), min(iv.end, hi)))
    cmap = plt.get_cmap("tab20" if len(keys) > 10 else "tab10")
    colour = {k: cmap(i % cmap.N) for i, k in enumerate(keys)}
    colour[_NO_LAYER] = (0.6, 0.6, 0.6, 1.0)
    for (r, key), bars in sorted(spans.items()):
        wide, columns = thin_bars(bars, lo, hi, px)
        if wide:
            ax.broken_barh([(s / scale, w / scale) for s, w in wide], (r - 0.4, 0.8),
                           facecolors=colour[key], linewidth=0)
        if columns:
            rgba = [(*colour[key][:3], a) for _, _, a in columns]
            ax.broken_barh([(s / scale, w / scale) for s, w, _ in columns], (r - 0.4, 0.8),
                           facecolors=rgba, linewidth=0)
    ax.set_yticks(range(len(tracks)), [_label(p, lane) for p, lane in tracks], fontsize=8)
    ax.set_ylim(len(tracks) - 0.5, -0.5)
    ax.grid(axis="x", alpha=0.3)
    if keys:
        shown = keys[:_LEGEND_MAX]
        handles = [plt.Rectangle((0, 0), 1, 1, color=colour[k]) for k in shown]
        labels = list(shown)
        if len(keys) > len(shown):
            handles.append(plt.Rectangle((0, 0), 1, 1, color="white"))
            labels.append(f"+{len(keys) - len(shown)} more")
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8,
                  frameon=False, title=by)


def _draw_util(ax: Any, fig: Any, rec: Recorder, lo: int, hi: int, scale: float,
               bins: int) -> None:
    import numpy as np

    from desim.trace.stats import bin_edges, utilisation_over_time

    util = utilisation_over_time(rec, bin_edges(lo, hi, bins))
    names = list(util)
    grid = np.vstack([util[n] for n in names]) if names else np.zeros((1, bins))
    im = ax.imshow(grid, aspect="auto", interpolation="nearest", cmap="viridis", vmin=0, vmax=1,
                   extent=(lo / scale, hi / scale, len(grid) - 0.5, -0.5))
    ax.set_yticks(range(len(names)), [_label(n, "") for n in names], fontsize=8)
    cax = ax.inset_axes((1.01, 0.0, 0.015, 1.0))
    bar = fig.colorbar(im, cax=cax)
    bar.set_label("utilisation", fontsize=8)
    bar.ax.tick_params(labelsize=7)


def _draw_bandwidth(ax: Any, rec: Recorder, lo: int, hi: int, scale: float, bins: int) -> None:
    from desim.trace.stats import bin_edges, counter_series

    edges = bin_edges(lo, hi, bins)
    series = counter_series(rec, "bandwidth")
    for name, s in series.items():
        ax.stairs(s.mean(edges), edges / scale, label=_label(name, ""), linewidth=1.2)
    ax.set_ylabel("B/cycle", fontsize=8)
    ax.grid(alpha=0.3)
    if series:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False,
                  title="link bandwidth")
    else:
        ax.text(0.5, 0.5, "no bandwidth counters in the trace", transform=ax.transAxes,
                ha="center", va="center", fontsize=9)


def _label(path: str, lane: str) -> str:
    text = f"{path.split('.', 1)[-1]}/{lane}" if lane else path.split(".", 1)[-1]
    return text if len(text) <= _LABEL_CHARS else "…" + text[-_LABEL_CHARS + 1:]
