"""Synthetic workloads: parameterised patterns for exercising and calibrating platforms.

``TileStream`` is the pattern of every tiled DNN layer reduced to its data movement: tiles
of input are copied from L2 into L1, computed on, and their results copied back. It needs
no model file, so it is the workload of the quick start and of the kernel tests.
"""

from __future__ import annotations

from dataclasses import dataclass

from desim.spec import Spec, param


@dataclass(frozen=True)
class TileStream(Spec):
    """A stream of identical tiles: DMA in, compute, DMA out."""

    name: str = param("tiles", doc="workload name")
    n_tiles: int = param(32, doc="number of tiles", ge=1)
    in_bytes: int = param(8192, unit="B", doc="input bytes per tile (weights + activations)",
                          ge=1)
    out_bytes: int = param(2048, unit="B", doc="output bytes per tile", ge=0)
    macs: int = param(262144, unit="MAC", doc="multiply-accumulates per tile", ge=0)

    @property
    def total_macs(self) -> int:
        return self.n_tiles * self.macs


#: built-in synthetic workloads by name
SYNTHETIC = {
    "tiles": TileStream(),
    "tiles_membound": TileStream(name="tiles_membound", macs=32768),
}
