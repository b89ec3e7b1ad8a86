"""Roofline of each engine: what its layers reached against what the platform allows.

One log-log panel per engine that ran layers with MACs, from ``summary.json``:

x  operational intensity, MAC per byte moved between L1 and the levels behind it:
   ``macs / (bytes.l2 - bytes.dram)`` on a platform with an L2 (every byte staged from
   DRAM crosses L2 twice, and is counted once), ``macs / bytes.dram`` without one
y  ``macs / cycles``, MAC per main-clock cycle over the layer's whole span

Ceilings (:mod:`desim.trace.peaks`, from the platform rebuilt from the summary's params):
the engine's peak MAC/cycle (horizontal) and, per interconnect link bandwidth, the
MAC/cycle that link could feed at each intensity if all of the layer's traffic crossed it
(diagonal, bandwidth converted to bytes per main-clock cycle). A point is drawn in its
layer kind's colour, its area in proportion to the layer's cycles; the five longest layers
are named. Layers without MACs (adds, pools) or without traffic have no point.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from desim.errors import DesimError
from desim.trace import figfile, palette

_NAMED = 5


def points(layers: list[Mapping[str, Any]]) -> dict[str, list[tuple[str, str, float, float,
                                                                    float]]]:
    """Engine -> (layer, kind, MAC/byte, MAC/cycle, cycles) of its layers with MACs and
    traffic."""
    has_l2 = any((e.get("bytes") or {}).get("l2", 0) for e in layers)
    out: dict[str, list[tuple[str, str, float, float, float]]] = {}
    for e in layers:
        moved = e.get("bytes") or {}
        traffic = (moved.get("l2", 0) - moved.get("dram", 0)) if has_l2 else moved.get("dram", 0)
        macs, cycles = e.get("macs") or 0, e.get("cycles") or 0
        if macs > 0 and traffic > 0 and cycles > 0:
            out.setdefault(str(e.get("engine")), []).append(
                (str(e.get("name")), str(e.get("kind", "")), macs / traffic, macs / cycles,
                 float(cycles)))
    return out


def ceilings(summary: Mapping[str, Any]) -> tuple[dict[str, float], dict[str, float]]:
    """Engine peaks (MAC/cycle) and interconnect link bandwidths (B per main-clock cycle,
    one entry per distinct bandwidth, named by its links) of the run's platform."""
    from desim.trace.peaks import engine_peaks, links, rebuild

    soc = rebuild(summary)
    if soc is None:
        return {}, {}
    main_hz = soc.clock.freq_hz
    bands: dict[float, list[str]] = {}
    for link in links(soc).values():
        if link.cat == "transfer":
            bw = link.bandwidth * link.clock.freq_hz / main_hz
            bands.setdefault(bw, []).append(link.name)
    return engine_peaks(soc), {", ".join(names): bw for bw, names in sorted(bands.items())}


def plot(summary: Mapping[str, Any], path: str | os.PathLike[str], title: str = "") -> Path:
    """Save the rooflines of ``summary`` as PNG, SVG or PDF (by extension)."""
    return figfile.save(lambda: figure(summary, title), path, "roofline")


def figure(summary: Mapping[str, Any], title: str = "") -> Any:
    """One roofline panel per engine, side by side, sharing the MAC/cycle axis."""
    import matplotlib.pyplot as plt

    layers = list(summary.get("layers") or [])
    per_engine = points(layers)
    if not per_engine:
        raise DesimError("summary.json has no layer with MACs and L1 traffic to place on a "
                         "roofline")
    peaks, bands = ceilings(summary)
    n = len(per_engine)
    fig, axes = plt.subplots(1, n, figsize=(6.0 * n + 1.5, 5.4), sharey=True, squeeze=False)
    fig.subplots_adjust(left=0.08 if n > 1 else 0.12, right=0.8, bottom=0.12, top=0.86,
                        wspace=0.08)
    total = sum(float(e.get("cycles") or 0) for e in layers) or 1.0
    xs = [p[2] for pts in per_engine.values() for p in pts]
    ys = [p[3] for pts in per_engine.values() for p in pts] + list(peaks.values())
    x_lo, x_hi = min(xs) / 3, max(xs) * 3
    y_lo, y_hi = min(ys) / 3, max(ys) * 3
    kinds: dict[str, str] = {}
    for ax, (engine, pts) in zip(axes[0], per_engine.items(), strict=True):
        ax.set_xscale("log")
        ax.set_yscale("log")
        for (label, bw), style in zip(bands.items(), ("--", ":", "-.", (0, (5, 1, 1, 1))),
                                      strict=False):
            ax.plot([x_lo, x_hi], [bw * x_lo, bw * x_hi], linestyle=style, color="#555555",
                    linewidth=1.0, label=f"{label}: {bw:g} B/cycle")
        if engine in peaks:
            ax.axhline(peaks[engine], color=palette.colour(engine), linewidth=1.6,
                       label=f"{engine} peak {peaks[engine]:,.1f} MAC/cycle")
        for _, kind, x, y, cycles in pts:
            kinds[kind] = palette.colour(kind)
            ax.scatter(x, y, s=20 + 900 * cycles / total, alpha=0.75, color=kinds[kind],
                       edgecolors="black", linewidths=0.4, zorder=3)
        ax.set_xlim(x_lo, x_hi)
        ax.set_ylim(y_lo, y_hi)
        _name_longest(ax, pts)
        ax.set_title(f"engine {engine}: {len(pts)} layers", fontsize=9)
        ax.set_xlabel("operational intensity (MAC per byte in or out of L1)", fontsize=8)
        ax.grid(which="both", alpha=0.2)
        ax.legend(loc="lower right", fontsize=7, frameon=True, framealpha=0.85)
    axes[0][0].set_ylabel("MAC / cycle (main clock)", fontsize=8)
    handles = [plt.Line2D([], [], marker="o", linestyle="", color=c, markeredgecolor="black",
                          markeredgewidth=0.4, markersize=7) for c in kinds.values()]
    fig.legend(handles, list(kinds), loc="upper left", bbox_to_anchor=(0.81, 0.86), fontsize=8,
               frameon=False, title="layer kind\n(area: share of cycles)", title_fontsize=8)
    note = "" if peaks or bands else " (platform not rebuilt: no ceilings)"
    fig.suptitle((f"{title}: " if title else "") + "roofline per engine" + note, fontsize=10)
    return fig


def _name_longest(ax: Any, pts: list[tuple[str, str, float, float, float]]) -> None:
    """Name the longest layers (layers on one spot share a label), each label at the first
    corner of its point where it overlaps no label placed before."""
    spots: dict[tuple[float, float], list[str]] = {}
    for name, _, x, y, _ in sorted(pts, key=lambda p: -p[4]):
        key = (round(x, 6), round(y, 6))
        if key in spots or len(spots) < _NAMED:
            spots.setdefault(key, []).append(name)
    per_pt = ax.figure.dpi / 72
    placed: list[tuple[float, float, float]] = []
    for (x, y), names in spots.items():
        text = ", ".join(names)
        px, py = ax.transData.transform((x, y))
        width = (4.2 * len(text) + 4) * per_pt
        for dx, dy in ((6, 5), (6, -13), (-6 - width / per_pt, 5), (-6 - width / per_pt, -13),
                       (6, 16)):
            x0, y0 = px + dx * per_pt, py + dy * per_pt
            if all(abs(y0 - b) > 10 * per_pt or x0 + width < a or x0 > a + w
                   for a, b, w in placed):
                break
        placed.append((x0, y0, width))
        ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=7,
                    arrowprops={"arrowstyle": "-", "linewidth": 0.4, "color": "#606060"})
