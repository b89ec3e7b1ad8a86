"""systolic_cluster: pulp_cluster plus a 16 x 16 int8 systolic array, defined in this script.

An example of an engine of one's own, added without touching desim: the array is a
component and an engine (:class:`desim.engines.Engine`) written here, bound to the PULP
SoC that :class:`desim.soc.pulp.PulpSoc` builds. The mapper offers it every dense
convolution and fully connected layer; each goes to whichever engine the cost model
finds faster (``--set mapping.objective=energy`` picks by energy), the rest run on the
cores. Run it with ``desim run examples/systolic_cluster.py -w resnet8``: the layers it
takes show ``"engine": "systolic"`` in ``summary.json``.

The array is weight-stationary (as the TPU's matrix unit, Jouppi et al., ISCA 2017): a
``K x N`` weight matrix (``K = k_h * k_w * C_in``) is cut into ``rows x cols`` blocks;
each block is loaded (``rows`` cycles), then the tile's ``P = h * W_out`` input vectors
stream through it, one per cycle, with ``rows + cols`` cycles of fill and drain. Partial
sums of the ``ceil(K / rows)`` row blocks accumulate in the array's output registers.
A tile of ``c`` output channels therefore takes (cycles)::

    setup + ceil(K / rows) * ceil(c / cols) * (rows + P + rows + cols)

and reads each output pixel's input window (``K`` bytes) from L1 once per column block,
its weights once, and writes its int8 outputs once, through L1's port (contending with
the cores and the DMA).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import simpy

from desim.engines import Engine, L1Needs
from desim.hw.dram.spec import preset
from desim.hw.jobs import l1_traffic
from desim.kernel import Component, Sim
from desim.soc.pulp import PulpSoc, SocSpec
from desim.spec import Spec, param, subspec
from desim.workload.op import OpKind


@dataclass(frozen=True)
class SystolicSpec(Spec):
    """A weight-stationary int8 systolic array on the cluster clock."""

    rows: int = param(16, ge=1, le=256, doc="PE rows (reduction depth per weight block)",
                      source="assumed: a 16 x 16 array, 256 MAC/cycle")
    cols: int = param(16, ge=1, le=256, doc="PE columns (output channels per weight block)",
                      source="assumed: a 16 x 16 array, 256 MAC/cycle")
    setup_cycles: int = param(20, unit="cycles", ge=0,
                              doc="per-tile job configuration by a core",
                              source="assumed: a few register writes and a start")
    energy_pj_per_mac: float = param(
        0.143, unit="pJ/MAC", ge=0, doc="energy per 8-bit MAC",
        source="assumed: a DIANA-class digital array, 14 TOPS/W (Ueyoshi et al., ISSCC "
               "2022): 2/14 pJ per MAC")
    area_mm2_per_pe: float = param(
        0.001, unit="mm^2", ge=0, doc="silicon area of one PE (an 8-bit MAC, its weight and "
                                      "pipeline registers)",
        source="assumed: 0.001 mm^2 per 8-bit MAC lane in 22 nm, as MacArraySpec")


def tile_cycles(spec: SystolicSpec, k: int, c: int, pixels: int) -> int:
    """Cycles of one tile: ``k``-deep reduction, ``c`` channels, ``pixels`` vectors."""
    blocks = math.ceil(k / spec.rows) * math.ceil(c / spec.cols)
    return spec.setup_cycles + blocks * (2 * spec.rows + spec.cols + pixels)


class SystolicArray(Component):
    """The array: runs one tile at a time, its operand traffic on ``mem``'s port."""

    kind = "engine"

    def __init__(self, parent: Component, name: str, spec: SystolicSpec, mem: Any):
        super().__init__(parent, name, spec=spec)
        self.mem = mem
        self.energy_pj = 0.0
        self._lock = simpy.Resource(self.env, capacity=1)

    @property
    def area_mm2(self) -> float:
        """Silicon area of the array (mm^2): rows x cols PEs."""
        s = self.spec
        return float(s.rows * s.cols * s.area_mm2_per_pe)

    def run(self, k: int, c: int, pixels: int, reads: tuple[tuple[int, int], ...],
            out: tuple[int, int], name: str) -> Generator[simpy.Event, Any, None]:
        """One tile: the closed form against its L1 traffic, whichever ends last."""
        with self._lock.request() as req:
            yield req
            start = self.begin()
            compute = self.env.timeout(self.clock.ps(tile_cycles(self.spec, k, c, pixels)))
            traffic = self.env.process(self._traffic(reads, out))
            yield compute & traffic
            macs = k * c * pixels
            self.counters["macs"] += macs
            self.energy_pj += macs * self.spec.energy_pj_per_mac
            self.end(start, "compute", name, "compute")

    def _traffic(self, reads: tuple[tuple[int, int], ...], out: tuple[int, int]
                 ) -> Generator[simpy.Event, Any, None]:
        for addr, nbytes in reads:  # re-reads may exceed L1: l1_traffic sweeps it
            yield from l1_traffic(self.mem, addr, nbytes, False, self.path)
        yield from l1_traffic(self.mem, *out, True, self.path)


class SystolicEngine(Engine):
    """Dense convolutions and fully connected layers on a :class:`SystolicArray`."""

    name = "systolic"

    def supports(self, op: Any) -> str | None:
        if op.kind not in (OpKind.CONV2D, OpKind.FULLY_CONNECTED):
            return f"the systolic array runs dense layers, not {op.kind.value}"
        return None

    def l1_needs(self, op: Any) -> L1Needs:
        return L1Needs(weights=True)  # the feeder forms the input windows on the fly

    def payload(self, op: Any) -> dict[str, int]:
        from desim.mapping.tiler import geometry

        g = geometry(op)
        return {"k": g.k_h * g.k_w * g.c_in, "w_out": g.w_out}

    def tile_cycles(self, op: Any, g: Any, h: int, c: int) -> int:
        return tile_cycles(self.component.spec, g.k_h * g.k_w * g.c_in, c, h * g.w_out)

    def tile_energy_pj(self, op: Any, g: Any, h: int, c: int) -> float:
        macs = g.k_h * g.k_w * g.c_in * c * h * g.w_out
        return macs * self.component.spec.energy_pj_per_mac

    def run_tile(self, rt: Any, layer: Any, tile: Any) -> Generator[simpy.Event, Any, None]:
        k, w_out = layer.payload["k"], layer.payload["w_out"]
        c, pixels = tile.c1 - tile.c0, (tile.r1 - tile.r0) * w_out
        col_blocks = math.ceil(c / self.component.spec.cols)
        reads = ((tile.in_addr, pixels * k * col_blocks), (tile.w_addr, k * c))
        yield from self.component.run(k, c, pixels, reads, (tile.out_addr, pixels * c),
                                      f"{layer.name} t{tile.index}")
        if rt.fn is not None:
            rt.fn.tile_fn(layer, tile)(self.component)


@dataclass(frozen=True)
class SystolicSocSpec(SocSpec):
    """pulp_cluster's SoC with a systolic array beside the cores."""

    systolic: SystolicSpec = subspec(SystolicSpec)


class SystolicSoc(PulpSoc):
    """PulpSoc, plus the array on L1 bound as a second engine."""

    def __init__(self, sim: Sim, spec: SystolicSocSpec):
        super().__init__(sim, spec)
        self.systolic = SystolicArray(self, "systolic", spec.systolic, self.l1)
        self.add_engine(SystolicEngine(self.systolic))


def default_spec() -> SystolicSocSpec:
    return SystolicSocSpec(name="systolic_cluster", dram=preset("hyperram"))


def build(sim: Sim, spec: SystolicSocSpec) -> SystolicSoc:
    return SystolicSoc(sim, spec)


if __name__ == "__main__":
    from desim.cli import main

    sys.exit(main(["run", __file__, *sys.argv[1:]]))
