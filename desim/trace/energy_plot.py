"""Energy per layer, by component: one stacked bar per layer of ``summary.json``.

A bar's segments are the layer's ``energy_by_component_pj`` (memories, engines), so the
bar's height is the layer's ``energy_pj``; a summary written before that split existed
gives one unsplit segment per layer. The title says how much of the run's energy the
layers hold: what is spent outside every layer (weights programmed before the run, say)
shows there and nowhere else. Colours are the palette's: a component's colour is its
kind's (``dram`` red, ``aimc`` blue, the cluster green, ...).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from desim.errors import DesimError
from desim.trace import figfile, palette

UNSPLIT = "(not split by component)"


def table(layers: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[str], list[list[float]]]:
    """Layer names, components (largest total first, those with energy only) and the
    energy in pJ of each layer (rows) by component (columns)."""
    split = all("energy_by_component_pj" in e for e in layers)
    parts = [dict(e["energy_by_component_pj"]) if split else {UNSPLIT: e.get("energy_pj", 0.0)}
             for e in layers]
    totals: dict[str, float] = {}
    for p in parts:
        for name, pj in p.items():
            totals[name] = totals.get(name, 0.0) + pj
    comps = [c for c in sorted(totals, key=lambda c: -totals[c]) if totals[c] > 0]
    return ([str(e.get("name", k)) for k, e in enumerate(layers)], comps,
            [[p.get(c, 0.0) for c in comps] for p in parts])


def plot(summary: Mapping[str, Any], path: str | os.PathLike[str], title: str = "") -> Path:
    """Save the per-layer energy bars of ``summary`` as PNG, SVG or PDF (by extension)."""
    return figfile.save(lambda: figure(summary, title), path, "energy plot")


def figure(summary: Mapping[str, Any], title: str = "") -> Any:
    """The figure: stacked bars per layer, a legend of components, the layers' share."""
    import matplotlib.pyplot as plt
    import numpy as np

    layers = list(summary.get("layers") or [])
    if not layers:
        raise DesimError("summary.json has no layers to plot the energy of (a workload "
                         "without layers, such as a synthetic tile stream)")
    names, comps, rows = table(layers)
    pj = np.asarray(rows, dtype=float).reshape(len(names), len(comps))
    scale, unit = _unit(float(pj.sum(axis=1).max(initial=0.0)))
    fig, ax = plt.subplots(figsize=(12.0, 5.6))
    fig.subplots_adjust(left=0.08, right=0.82, bottom=0.3 if len(names) > 20 else 0.22,
                        top=0.88)
    x = np.arange(len(names))
    bottom = np.zeros(len(names))
    for k, comp in enumerate(comps):
        ax.bar(x, pj[:, k] / scale, 0.8, bottom=bottom, label=comp.split(".", 1)[-1],
               color=palette.colour(comp.rsplit(".", 1)[-1]), linewidth=0)
        bottom += pj[:, k] / scale
    ax.set_xticks(x, names, rotation=90, fontsize=max(5.0, min(8.0, 500 / max(len(names), 1))))
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.set_ylabel(f"energy ({unit})")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False,
              title="component", title_fontsize=8)
    run_total = float((summary.get("energy_pj") or {}).get("total", 0.0))
    in_layers = float(pj.sum())
    note = (f"layers: {in_layers / scale:,.1f} {unit} of the run's {run_total / scale:,.1f}"
            f" {unit}" if run_total else f"layers: {in_layers / scale:,.1f} {unit}")
    fig.suptitle((f"{title}: " if title else "") + "energy per layer by component", fontsize=10)
    ax.set_title(note, fontsize=8, loc="left")
    return fig


def _unit(largest_pj: float) -> tuple[float, str]:
    for scale, unit in ((1e6, "uJ"), (1e3, "nJ")):
        if largest_pj >= scale:
            return scale, unit
    return 1.0, "pJ"
