"""Per-layer tables: from the summary's ``layers`` entries, or derived from a trace.

The summary's entries (docs/summary.md) are authoritative. Without them, layers are
derived from intervals whose arguments name a ``layer`` (the cluster and AIMC jobs do):

    start, end      first start and last end of the layer's intervals
    cycles          (end - start) in main-clock cycles
    engine          the components (below the root) of the layer's compute intervals
    macs            the largest per-track sum of the ``macs`` arguments (a cluster's job
                    lane and its cores' lanes count the same MACs once each)
    compute_cycles  cycles covered by the union of the layer's compute intervals
    bound           ``compute`` when compute_cycles >= cycles - compute_cycles,
                    else ``transfer``
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from desim.trace.recorder import Recorder
from desim.trace.roles import role
from desim.trace.stats import covered, merge


@dataclass
class LayerRow:
    """One layer as the inspection tables show it."""

    index: int
    name: str
    start_ps: int
    end_ps: int
    cycles: float
    engine: str = ""
    kind: str = ""
    macs: int = 0
    bound: str = ""
    compute_cycles: float | None = None
    stall_cycles: dict[str, float] = field(default_factory=dict)
    setup_cycles: float = 0.0

    @property
    def macs_per_cycle(self) -> float:
        return self.macs / self.cycles if self.cycles else 0.0


def from_summary(layers: list[dict[str, Any]], clock_hz: float | None) -> list[LayerRow]:
    """Rows from the summary's ``layers`` entries (missing keys read as empty)."""
    rows = []
    for k, e in enumerate(layers):
        start, end = int(e.get("start_ps", 0)), int(e.get("end_ps", 0))
        cycles = e.get("cycles")
        if cycles is None:
            cycles = (end - start) * clock_hz / 1e12 if clock_hz else 0.0
        rows.append(LayerRow(int(e.get("index", k)), str(e.get("name", f"layer{k}")), start,
                             end, float(cycles), str(e.get("engine", "")),
                             str(e.get("kind", "")), int(e.get("macs") or 0),
                             str(e.get("bound", "")), e.get("compute_cycles"),
                             dict(e.get("stall_cycles") or {}),
                             float(e.get("setup_cycles") or 0.0)))
    return rows


def from_trace(rec: Recorder, clock_hz: float | None) -> list[LayerRow]:
    """Rows derived from intervals carrying a ``layer`` argument, in order of first start."""
    spans: dict[str, list[tuple[int, int]]] = {}
    compute: dict[str, list[tuple[int, int]]] = {}
    engines: dict[str, set[str]] = {}
    macs: dict[tuple[str, str, str], int] = {}
    for iv in rec.intervals:
        args = iv.args or {}
        layer = args.get("layer")
        if not layer:
            continue
        spans.setdefault(layer, []).append((iv.start, iv.end))
        if role(iv.cat) == "compute":
            compute.setdefault(layer, []).append((iv.start, iv.end))
            parts = iv.path.split(".")
            engines.setdefault(layer, set()).add(parts[1] if len(parts) > 1 else parts[0])
            if "macs" in args:
                key = (layer, iv.path, iv.lane)
                macs[key] = macs.get(key, 0) + int(args["macs"])
    per_cycle = clock_hz / 1e12 if clock_hz else 0.0
    rows = []
    order = sorted(spans, key=lambda name: (min(s for s, _ in spans[name]), name))
    for k, name in enumerate(order):
        start = min(s for s, _ in spans[name])
        end = max(e for _, e in spans[name])
        cycles = (end - start) * per_cycle
        busy = covered(merge(compute.get(name, [])), start, end) * per_cycle
        layer_macs = max((v for (layer, _, _), v in macs.items() if layer == name), default=0)
        rows.append(LayerRow(k, name, start, end, cycles, "+".join(sorted(engines.get(name, ()))),
                             macs=layer_macs, bound="compute" if busy >= cycles - busy
                             else "transfer", compute_cycles=busy))
    return rows
