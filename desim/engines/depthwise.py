"""The digital depthwise engine as an engine: 3x3 depthwise convolutions, stride 1 or 2.

A tile of ``h`` output rows x ``c`` channels is one :class:`~desim.hw.depthwise.DwJob` on a
:class:`~desim.hw.depthwise.DepthwiseUnit`, timed by the unit's closed form
(:meth:`~desim.hw.depthwise.DepthwiseSpec.job_cycles`) both when the mapper estimates a
tile and when it runs. Its weights and bias come into L1 with the tile's channel block;
it needs no scratch and no row multiple (the lanes split channels, not rows), and tiles
whose channels are a multiple of the lanes cost least, which the closed form says. The
schedule's payload of a layer is a :class:`DwLayer`. In functional runs a tile is
computed exactly (``rt.fn.tile_fn``) when its job ends.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import simpy

from desim.engines.base import Engine, L1Needs
from desim.hw.depthwise import DepthwiseUnit, DwJob
from desim.mapping.tiler import Geometry, geometry, weight_bytes_per_channel
from desim.workload.op import Op, OpKind

if TYPE_CHECKING:
    from desim.mapping.schedule import Layer, Tile
    from desim.runtime.executor import Runtime


def _pair(p: tuple[int, int]) -> str:
    return f"{p[0]}x{p[1]}"


@dataclass(frozen=True)
class DwLayer:
    """What the engine keeps of a layer in the schedule: its geometry, and the weight and
    bias bytes of one channel."""

    g: Geometry
    w_per_c: int


class DepthwiseEngine(Engine):
    """Depthwise convolutions (3x3, stride 1 or 2, depth multiplier 1) on a
    :class:`DepthwiseUnit`."""

    name = "depthwise"

    def __init__(self, unit: DepthwiseUnit):
        super().__init__(unit)
        self.unit = unit

    # -- mapping -------------------------------------------------------------------------

    def supports(self, op: Op) -> str | None:
        if op.kind is not OpKind.DEPTHWISE_CONV2D:
            return f"the depthwise engine runs depthwise_conv2d, not {op.kind.value}"
        if op.kernel != (3, 3):
            return f"the depthwise engine runs 3x3 kernels, not {_pair(op.kernel)}"
        if op.stride not in ((1, 1), (2, 2)):
            return f"the depthwise engine runs strides 1x1 and 2x2, not {_pair(op.stride)}"
        if op.dilation != (1, 1):
            return ("the depthwise engine runs undilated kernels, not dilation "
                    f"{_pair(op.dilation)}")
        if op.depth_multiplier != 1:
            return ("the depthwise engine runs a depth multiplier of 1, not "
                    f"{op.depth_multiplier}")
        return None

    def l1_needs(self, op: Op) -> L1Needs:
        return L1Needs(weights=True, scratch_bytes=0, row_quantum=1)

    def job(self, op: Op, g: Geometry, h: int, c: int) -> DwJob:
        """The job of a tile of ``h`` rows x ``c`` channels reading the most input rows
        such a tile can (an interior tile)."""
        return DwJob(h, g.w_out, c, min((h - 1) * g.s_h + g.k_h, g.h_in), g.w_in,
                     weight_bytes_per_channel(op, g))

    def tile_cycles(self, op: Op, g: Geometry, h: int, c: int) -> int:
        return self.unit.spec.job_cycles(self.job(op, g, h, c))

    def tile_energy_pj(self, op: Op, g: Geometry, h: int, c: int) -> float:
        return self.unit.spec.job_energy_pj(self.job(op, g, h, c))

    def payload(self, op: Op) -> DwLayer:
        g = geometry(op)
        return DwLayer(g, weight_bytes_per_channel(op, g))

    # -- runtime ---------------------------------------------------------------------------

    def run_tile(self, rt: Runtime, layer: Layer, tile: Tile
                 ) -> Generator[simpy.Event, Any, None]:
        p: DwLayer = layer.payload
        g = p.g
        a, b = g.in_rows(tile.r0, tile.r1)
        job = DwJob(tile.r1 - tile.r0, g.w_out, tile.c1 - tile.c0, b - a, g.w_in, p.w_per_c,
                    in_addr=tile.in_addr, w_addr=tile.w_addr, out_addr=tile.out_addr,
                    name=f"{layer.name} t{tile.index}",
                    compute=rt.fn.tile_fn(layer, tile) if rt.fn is not None else None)
        yield from self.unit.run(job)
