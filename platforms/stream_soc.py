"""A minimal SoC: L2 -> DMA -> L1 -> digital MAC array, double-buffered tile streaming.

Components (a GVSoC-style netlist: components first, then bindings)::

    soc.l2  (SRAM)  ── node "l2" ──link──  node "l1" ── soc.l1 (SRAM) ── soc.engine
                          soc.dma moves tiles between them; soc.ic owns the link

The defaults follow the DIANA SoC's digital path (256 MAC/cycle, 100 MHz, 256 kB L1,
512 kB L2; DORY's Diana HW_description.json) with a 64-bit L2-L1 link. Run it with
``desim run stream_soc`` or ``python platforms/stream_soc.py [desim run options]``; copy
this file to describe a platform of your own.
"""

from __future__ import annotations

import sys
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import networkx as nx
import simpy

from desim.errors import SpecError
from desim.hw.dma import Copy1D, Dma, DmaRecord, DmaSpec, Region
from desim.hw.interconnect import Interconnect, LinkSpec, add_link
from desim.hw.mac_array import MacArray, MacArraySpec
from desim.hw.memory import Sram, SramSpec
from desim.kernel import Clock, Sim
from desim.runtime.executor import Execution, energy_of
from desim.runtime.pipeline import double_buffered
from desim.soc import Soc
from desim.soc.base import area_scale_param
from desim.spec import Spec, param, subspec
from desim.workload.synthetic import SYNTHETIC, TileStream

_DIANA = "DIANA SoC (DORY Hardware_targets/Diana/Diana_SoC/HW_description.json)"


@dataclass(frozen=True)
class StreamSocSpec(Spec):
    """L2, L1, a two-channel DMA and a MAC array."""

    clock_hz: int = param(100_000_000, unit="Hz", gt=0, le=10**12, doc="clock of every "
                          "component",
                          source=_DIANA)
    l1: SramSpec = subspec(SramSpec, capacity_bytes=262144, base_addr=0x10000000, banks=16,
                           cite={"capacity_bytes": "DIANA 256 kB shared L1 (Ueyoshi et al., "
                                                   "ISSCC 2022)"},
                           doc="L1 scratchpad: DIANA's shared L1; bank layout as the PULP TCDM")
    l2: SramSpec = subspec(SramSpec, capacity_bytes=524288, base_addr=0x1C000000, banks=4,
                           word_bytes=8, port_bytes_per_cycle=32.0,
                           cite={"capacity_bytes": f"{_DIANA}: 512 kB",
                                 "base_addr": "PULP L2 base address (GVSoC pulp_open memory "
                                              "map)",
                                 "banks": "assumed: 4 interleaved banks",
                                 "word_bytes": "assumed: 64-bit banks",
                                 "port_bytes_per_cycle": "4 banks x 8 B: every bank serves "
                                                         "one word per cycle"},
                           doc="L2: 4 interleaved 64-bit banks")
    link: LinkSpec = subspec(LinkSpec, doc="L2 <-> L1 link (64-bit AXI)")
    dma: DmaSpec = subspec(DmaSpec, channels=2,
                           cite={"channels": "assumed: one channel per direction"},
                           doc="DMA: channel 0 brings tiles in, channel 1 takes results out")
    engine: MacArraySpec = subspec(MacArraySpec)
    area_scale: float = area_scale_param()


def default_spec() -> StreamSocSpec:
    return StreamSocSpec()


class StreamSoc(Soc):
    """The SoC: builds its components and runs tile streams on them."""

    def __init__(self, sim: Sim, spec: StreamSocSpec):
        super().__init__(sim, spec, Clock("main", spec.clock_hz))
        # components
        self.l2 = Sram(self, "l2", spec.l2)
        self.l1 = Sram(self, "l1", spec.l1)
        graph = add_link(nx.DiGraph(), "l2", "l1", spec.link)
        self.ic = Interconnect(self, "ic", graph)
        # bindings
        self.dma = Dma(self, "dma", self.ic, [Region.of(self.l2, "l2"), Region.of(self.l1, "l1")],
                       spec.dma)
        self.engine = MacArray(self, "engine", spec.engine, self.l1)

    def map(self, workload: Any) -> TileStream:
        """A tile stream runs as it is; anything else is refused before the run."""
        if not isinstance(workload, TileStream):
            raise SpecError(f"stream_soc runs synthetic tile streams ({', '.join(SYNTHETIC)}); "
                            f"run the network '{workload.name}' on pulp_cluster or imc_cluster")
        return workload

    def execute(self, wl: TileStream, functional: Any = None
                ) -> Generator[simpy.Event, Any, Execution]:
        """Stream ``wl``'s tiles: DMA-in of tile i+1 and DMA-out of tile i-1 overlap the
        computation of tile i (two L1 buffers each for inputs and outputs)."""
        n = wl.n_tiles
        src = self.l2.alloc("inputs", n * wl.in_bytes)
        dst = self.l2.alloc("outputs", n * max(wl.out_bytes, 1))
        ins = [self.l1.alloc(f"in{b}", wl.in_bytes) for b in (0, 1)]
        outs = [self.l1.alloc(f"out{b}", max(wl.out_bytes, 1)) for b in (0, 1)]
        out_ch = min(1, self.spec.dma.channels - 1)
        records: dict[int, DmaRecord] = {}

        def load(i: int) -> Generator[simpy.Event, Any, None]:
            desc = Copy1D(src.addr + i * wl.in_bytes, ins[i % 2].addr, wl.in_bytes)
            records[i] = yield from self.dma.copy(desc, 0, f"in t{i}")

        def compute(i: int) -> Generator[simpy.Event, Any, None]:
            start = self.env.now
            yield from self.engine.run(wl.macs, ins[i % 2].addr, wl.in_bytes, outs[i % 2].addr,
                                       wl.out_bytes, f"t{i}")
            self._flow(records.pop(i), start, i)

        def store(i: int) -> Generator[simpy.Event, Any, None]:
            if wl.out_bytes:
                desc = Copy1D(outs[i % 2].addr, dst.addr + i * wl.out_bytes, wl.out_bytes)
                yield from self.dma.copy(desc, out_ch, f"out t{i}")

        yield from double_buffered(self, n, load, compute, store)
        return Execution(macs=self.engine.counters["macs"],
                         energy_pj=energy_of([self.l2, self.l1, self.engine]),
                         energy_static_pj=energy_of([self.l2, self.l1, self.engine],
                                                    "static_energy_pj"))

    def _flow(self, record: DmaRecord, start: int, i: int) -> None:
        tracer = self.sim.tracer
        if tracer is not None:
            tracer.flow(tracer.new_flow_id(), f"tile {i}", record.track, record.end_ps,
                        (self.engine.path, "compute"), start)


def build(sim: Sim, spec: StreamSocSpec) -> StreamSoc:
    return StreamSoc(sim, spec)


if __name__ == "__main__":
    from desim.cli import main

    sys.exit(main(["run", __file__, *sys.argv[1:]]))
