"""VCD export (through pyvcd): one busy wire per lane, counters as real-valued signals.

Opens in GTKWave and other waveform viewers. The timescale is 1 ps, so signal edges sit
exactly on the simulated times. Scopes follow component paths (``soc.cluster.core3``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from vcd import VCDWriter

from desim.fileio import atomic_open
from desim.trace.recorder import Recorder


def _ident(text: str) -> str:
    """A VCD-safe variable name."""
    return re.sub(r"[^A-Za-z0-9_]", "_", text) or "busy"


def _busy_edges(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """(time, 0/1) edges of the union of ``spans``."""
    edges: list[tuple[int, int]] = []
    ordered = sorted(spans)
    if not ordered:
        return edges
    cur_s, cur_e = ordered[0]
    for s, e in ordered[1:]:
        if s <= cur_e:
            cur_e = max(cur_e, e)
            continue
        edges += [(cur_s, 1), (cur_e, 0)]
        cur_s, cur_e = s, e
    edges += [(cur_s, 1), (cur_e, 0)]
    return edges


def write(rec: Recorder, path: str | os.PathLike[str]) -> Path:
    """Write ``rec`` as a VCD file, atomically."""
    spans: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for iv in rec.intervals:
        spans.setdefault((iv.path, iv.lane), []).append((iv.start, iv.end))
    changes: list[tuple[int, int, Any, Any]] = []  # (time, order, var, value)
    with atomic_open(path, "w") as fh, VCDWriter(fh, timescale="1 ps", date="",
                                                  comment="desim trace") as writer:
        for order, track in enumerate(rec.tracks()):
            scope, lane = track
            var = writer.register_var(scope, _ident(lane or "busy"), "wire", size=1, init=0)
            changes += [(t, order, var, v) for t, v in _busy_edges(spans[track])]
        counters: dict[tuple[str, str], Any] = {}
        for c in rec.counters:
            key = (c.path, c.name)
            if key not in counters:
                counters[key] = writer.register_var(c.path, _ident(c.name), "real", init=0.0)
            changes.append((c.t, 10**9, counters[key], float(c.value)))
        # stable sort: at one instant a lane's 0 then 1 collapse to the later value
        changes.sort(key=lambda x: (x[0], x[1]))
        for t, _, var, value in changes:
            writer.change(var, t, value)
    return Path(path)
