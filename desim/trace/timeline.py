"""Timeline pictures: one row per component lane, bars coloured by category.

The x axis is in microseconds; when the trace names its main clock, a second axis on top
shows that clock's cycles. matplotlib is imported here only, with the non-interactive Agg
backend, so plotting works on machines without a display.
"""

from __future__ import annotations

import os
from pathlib import Path

from desim.errors import DesimError
from desim.fileio import atomic_path
from desim.trace.recorder import Recorder

#: the longest a row label may be before it is shortened from the left
_LABEL_CHARS = 28


def plot(rec: Recorder, path: str | os.PathLike[str], window: tuple[int, int] | None = None,
         title: str = "", clock_hz: float | None = None, by: str = "category") -> Path:
    """Save a timeline of ``rec`` as PNG or SVG (by extension), optionally within a window.

    ``window`` is (start_ps, end_ps); ``by`` colours bars by ``category`` or by ``name``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    target = Path(path)
    if target.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise DesimError(f"timeline file {target}: use a .png, .svg or .pdf name")
    end_ps = rec.end_ps()
    lo, hi = window if window else (0, max(end_ps, 1))
    if window and (lo >= hi or lo < 0 or lo > end_ps):
        raise DesimError(f"window {lo}:{hi} ps lies outside the run (0:{end_ps} ps); "
                         "give START:END within it")
    intervals = [iv for iv in rec.intervals if iv.end > lo and iv.start < hi]
    tracks = rec.tracks()
    row = {t: i for i, t in enumerate(tracks)}
    keys = sorted({getattr(iv, "cat" if by == "category" else "name") for iv in intervals})
    cmap = plt.get_cmap("tab20" if len(keys) > 10 else "tab10")
    colour = {k: cmap(i % cmap.N) for i, k in enumerate(keys)}

    height = max(2.5, 0.32 * len(tracks) + 1.4)
    fig, ax = plt.subplots(figsize=(12, height))
    spans: dict[tuple[int, str], list[tuple[float, float]]] = {}
    for iv in intervals:
        key = getattr(iv, "cat" if by == "category" else "name")
        s, e = max(iv.start, lo), min(iv.end, hi)
        spans.setdefault((row[(iv.path, iv.lane)], key), []).append((s / 1e6, max(e - s, 1) / 1e6))
    for (r, key), bars in spans.items():
        ax.broken_barh(bars, (r - 0.4, 0.8), facecolors=colour[key], linewidth=0)
    labels = [_label(p, lane) for p, lane in tracks]
    ax.set_yticks(range(len(tracks)), labels, fontsize=8)
    ax.set_ylim(len(tracks) - 0.5, -0.5)
    ax.set_xlim(lo / 1e6, hi / 1e6)
    ax.set_xlabel("time (us)")
    ax.grid(axis="x", alpha=0.3)
    if clock_hz:
        top = ax.secondary_xaxis("top", functions=(lambda us: us * clock_hz / 1e6,
                                                   lambda cyc: cyc * 1e6 / clock_hz))
        top.set_xlabel(f"cycles @ {clock_hz / 1e6:g} MHz")
    if keys:
        handles = [plt.Rectangle((0, 0), 1, 1, color=colour[k]) for k in keys]
        ax.legend(handles, keys, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8,
                  frameon=False, title=by)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    with atomic_path(target) as tmp:
        fig.savefig(tmp, dpi=110, format=target.suffix[1:].lower(),
                    metadata={"Software": None} if target.suffix.lower() == ".png" else None)
    plt.close(fig)
    return target


def _label(path: str, lane: str) -> str:
    text = f"{path.split('.', 1)[-1]}/{lane}" if lane else path.split(".", 1)[-1]
    return text if len(text) <= _LABEL_CHARS else "…" + text[-_LABEL_CHARS + 1:]
