"""Pictures of a sweep's table: metric against metric with its Pareto front, or a
metric's sensitivity to one parameter, one line per group."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the backend

from desim.errors import SpecError  # noqa: E402
from desim.trace import figfile  # noqa: E402

#: axis labels (with units) of the row's figures
LABELS = {"latency_s": "latency (s)", "cycles": "cycles", "energy_j": "energy (J)",
          "macs": "MACs", "mac_per_cycle": "MAC/cycle", "tops_per_w": "TOPS/W",
          "area_mm2": "area (mm²)", "l1_peak_bytes": "L1 peak (B)",
          "l2_peak_bytes": "L2 peak (B)", "dram_bytes": "DRAM footprint (B)",
          "sim_wall_s": "simulation wall time (s)"}


def pareto(frame: Any, x: str, y: str) -> Any:
    """The rows no other row beats on both ``x`` and ``y`` (lower is better), by ``x``."""
    rows = frame.sort_values([x, y])
    keep, best = [], float("inf")
    for index, value in zip(rows.index, rows[y], strict=True):
        if value < best:
            keep.append(index)
            best = value
    return rows.loc[keep]


def plot(frame: Any, path: str | Path, x: str, y: str, color: str | None = None,
         front: bool = False, by: str | None = None) -> Path:
    """Write a PNG of ``y`` against ``x`` of the sweep's successful points."""
    for key in (x, y, color, by):
        if key is not None and key not in frame.columns:
            raise SpecError(f"no column '{key}' in the results; choose one of: "
                            + ", ".join(frame.columns))
    ok = frame[frame["status"] == "ok"].dropna(subset=[x, y])
    if ok.empty:
        raise SpecError(f"no successful point has both {x} and {y}; choose other columns, "
                        "or re-run the failed points")
    return figfile.save(lambda: _figure(ok, x, y, color, front, by), path, "sweep plot")


def _figure(ok: Any, x: str, y: str, color: str | None, front: bool, by: str | None) -> Any:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    groups = [(None, ok)] if (by or color) is None else list(ok.groupby(by or color))
    for name, group in groups:
        if by:
            group = group.sort_values(x)
            ax.plot(group[x], group[y], "o-", label=str(name))
        else:
            ax.scatter(group[x], group[y], s=18, label=None if name is None else str(name))
    if front:
        best = pareto(ok, x, y)
        ax.step(best[x], best[y], "k--", where="post", lw=1, label="Pareto front")
        ax.scatter(best[x], best[y], facecolors="none", edgecolors="k", s=60)
    for axis, key in ((ax.set_xscale, x), (ax.set_yscale, y)):
        if _decades(ok[key]):
            axis("log")
    ax.set_xlabel(LABELS.get(x, x))
    ax.set_ylabel(LABELS.get(y, y))
    if by or color or front:
        ax.legend(title=by or color, fontsize=8)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig


def _decades(values: Any) -> bool:
    """True when positive numeric values span more than a decade and a half."""
    try:
        lo, hi = float(values.min()), float(values.max())
    except (TypeError, ValueError):
        return False
    return lo > 0 and hi / lo > 30
