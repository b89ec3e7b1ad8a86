"""The schedule: what the runtime executes, as plain data.

Per layer: its engine, its L1 tiles (each with the DMA copies that bring its operands in
and take its results out, and the L1 buffers it uses), and the engine's own data for it
(its payload: a kernel job's fields on the cluster, crossbar blocks and programming on
AIMC). Nothing here knows about SimPy; a schedule prints as a table and saves as JSON
(``desim run --save-schedule``).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any

from desim.fileio import atomic_open


@dataclass(frozen=True)
class Copy:
    """One DMA copy between L1 and the level a tensor lives in (``l2`` or ``dram``).

    ``rows`` rows of ``row_bytes``, ``stride`` bytes apart at that level, contiguous in L1
    from ``l1_addr``; ``addr`` is the first byte at the level.
    """

    tensor: str
    level: str
    addr: int
    rows: int
    row_bytes: int
    stride: int
    l1_addr: int

    @property
    def nbytes(self) -> int:
        return self.rows * self.row_bytes


@dataclass(frozen=True)
class Tile:
    """Output rows ``[r0, r1)`` x channels ``[c0, c1)`` of a layer, and its data movement."""

    index: int
    r0: int
    r1: int
    c0: int
    c1: int
    macs: int
    loads: tuple[Copy, ...]
    stores: tuple[Copy, ...]
    in_addr: int
    w_addr: int
    out_addr: int


@dataclass(frozen=True)
class Layer:
    """One op of the graph as the runtime executes it."""

    index: int
    name: str
    kind: str
    engine: str  # an engine's name, or "none" for ops that move nothing (reshapes)
    macs: int
    payload: Any  # the engine's data for the layer (Engine.allocate)
    tiles: tuple[Tile, ...]
    l1_bytes: int  # peak L1 footprint
    deps: tuple[int, ...] = ()
    note: str = ""
    l2_bytes: int = 0  # L2 occupied while the layer runs: live tensors, weights, staging


@dataclass(frozen=True)
class Schedule:
    """A mapped workload: layers in execution order, tensor placement, memory use."""

    platform: str
    workload: str
    layers: tuple[Layer, ...]
    #: tensor -> (level, address)
    placement: dict[str, tuple[str, int]]
    memory: dict[str, Any]
    #: engine name -> its entry (EngineMapping.summary), for engines with one
    engines: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    def to_dict(self) -> dict[str, Any]:
        return {"platform": self.platform, "workload": self.workload, "macs": self.macs,
                "memory": self.memory, "engines": self.engines,
                "placement": {k: list(v) for k, v in self.placement.items()},
                "layers": [_layer_dict(layer) for layer in self.layers]}

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the schedule as JSON, atomically."""
        with atomic_open(path, "w") as fh:
            json.dump(self.to_dict(), fh, indent=1)
            fh.write("\n")
        return Path(path)

    def table(self) -> str:
        """One line per layer: engine, tiles, L1 footprint, where operands live."""
        head = (f"{'#':>3}  {'layer':<22} {'kind':<17} {'engine':<9} {'tiles':>5} "
                f"{'L1 B':>8} {'MACs':>12}  note")
        lines = [head, "-" * len(head)]
        for layer in self.layers:
            lines.append(f"{layer.index:>3}  {layer.name[:22]:<22} {layer.kind:<17} "
                         f"{layer.engine[:9]:<9} {len(layer.tiles):>5} {layer.l1_bytes:>8,} "
                         f"{layer.macs:>12,}  {layer.note}")
        mem = self.memory
        lines.append(f"L2 peak {mem['l2_peak_bytes']:,} B of {mem['l2_bytes']:,} B; "
                     f"in DRAM: {mem['dram_bytes']:,} B; L1 peak {mem['l1_peak_bytes']:,} B")
        return "\n".join(lines)


def _layer_dict(layer: Layer) -> dict[str, Any]:
    p = layer.payload
    if hasattr(p, "to_dict"):
        payload = p.to_dict()
    elif is_dataclass(p) and not isinstance(p, type):
        payload = asdict(p)
    else:
        payload = p
    return {**asdict(layer), "payload": payload}
