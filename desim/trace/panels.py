"""The panels below a timeline: utilisation over time and bandwidth over time.

Utilisation is a heat map, one row per component (rows as :mod:`desim.trace.rows` groups
them: many identical busy components share a row showing their mean). Bandwidth is one
line per link (the ``bandwidth`` counters), with the link's peak as a dashed line of the
same colour when it is known; both stay at or above zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from desim.trace.recorder import Recorder
from desim.trace.rows import Row, Track, label, rows
from desim.trace.stats import Series


def util_rows(rec: Recorder, lo: int, hi: int, known: Sequence[Track] = (),
              components: Sequence[str] = (), group_max: int | None = 8) -> list[Row]:
    """One row per component with a lane (in ``rec`` or ``known``), grouped as the
    timeline's lanes are; ``components`` without a lane show in their group's idle row."""
    paths = {(iv.path, "") for iv in rec.intervals} | {(p, "") for p, _ in known}
    busy = {(iv.path, "") for iv in rec.intervals if iv.end > lo and iv.start < hi}
    return rows(paths, busy, group_max, components)


def draw_util(ax: Any, fig: Any, rec: Recorder, comps: list[Row], lo: int, hi: int,
              scale: float, bins: int, row_in: float) -> None:
    """The utilisation heat map; a shared row shows its members' mean."""
    import numpy as np

    from desim.trace.stats import bin_edges, utilisation_over_time
    from desim.trace.timeline import row_labels

    util = utilisation_over_time(rec, bin_edges(lo, hi, bins))
    zero = np.zeros(bins)
    grid = np.vstack([np.mean([util.get(p, zero) for p, _ in row.tracks], axis=0)
                      for row in comps]) if comps else np.zeros((1, bins))
    im = ax.imshow(grid, aspect="auto", interpolation="nearest", cmap="viridis", vmin=0, vmax=1,
                   extent=(lo / scale, hi / scale, len(grid) - 0.5, -0.5))
    names = [row.label + " (mean)" if row.merged else row.label for row in comps]
    row_labels(ax, names, [row.idle for row in comps], row_in)
    cax = ax.inset_axes((1.01, 0.0, 0.015, 1.0))
    bar = fig.colorbar(im, cax=cax)
    bar.set_label("utilisation", fontsize=8)
    bar.ax.tick_params(labelsize=7)


def bandwidth_series(rec: Recorder) -> dict[str, Series]:
    """Each link's ``bandwidth`` counter as a step function, by counter path."""
    from desim.trace.stats import counter_series

    return counter_series(rec, "bandwidth")


def draw_link(ax: Any, path: str, series: Series, lo: int, hi: int, scale: float, bins: int,
              peak: float | None, first: bool) -> None:
    """One link's mean bandwidth per bin on a scale of its own from zero, its peak as a
    dashed line (when known) and its busiest bin's value."""
    import numpy as np

    from desim.trace.stats import bin_edges

    edges = bin_edges(lo, hi, bins)
    mean = np.maximum(series.mean(edges), 0.0)
    busiest = float(mean.max(initial=0.0))
    ax.stairs(mean, edges / scale, fill=True, color="#4c72b0", alpha=0.8, linewidth=0,
              baseline=0)
    top = max(busiest, peak or 0.0)
    if peak:
        ax.axhline(peak, color="#c03d3e", linestyle="--", linewidth=1.0)
    ax.set_ylim(0, top * 1.15 if top > 0 else 1.0)
    mark = peak or top
    ax.set_yticks([0, mark] if mark else [0], ["0", f"{mark:g}"] if mark else ["0"], fontsize=7)
    ax.tick_params(axis="y", length=2, pad=1)
    ax.set_ylabel(label(path), fontsize=8, rotation=0, ha="right", va="center")
    ax.grid(axis="x", alpha=0.3)
    ax.text(1.01, 0.5, f"busiest {busiest:.3g}", transform=ax.transAxes, fontsize=7,
            va="center", color="#404040")
    if first:
        ax.set_title("link bandwidth, B/cycle of the link's clock (dashed: the link's peak)",
                     fontsize=8, loc="left")


def draw_no_bandwidth(ax: Any, filtered: bool) -> None:
    """The bandwidth panel when it has no link to show, and why."""
    why = ("bandwidth counters filtered out by --components" if filtered
           else "no bandwidth counters in the trace")
    ax.text(0.5, 0.5, why, transform=ax.transAxes, ha="center", va="center", fontsize=9)
    ax.set_yticks([])
