"""The PULP-style SoC that the DNN platforms are built from.

Components, and how they are bound (GVSoC-style: components first, then bindings)::

    soc.cluster (cores + event unit) ──┐            soc.aimc (crossbars, optional)
                                       ├── soc.l1 ──┘
    soc.cl_dma: l1 <──cluster link──> l2          (cluster DMA, mchan-like)
    soc.io_dma: l2 <──I/O link──────> dram        (I/O DMA, uDMA-like)
    soc.l2, soc.dram

Every component runs on the cluster's clock except the DRAM, which has its own. A
workload graph is mapped (:mod:`desim.mapping`) and executed by the runtime
(:mod:`desim.runtime.executor`).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import networkx as nx
import simpy

from desim.errors import SpecError
from desim.functional.analog import AnalogSpec
from desim.hw.aimc import Aimc, AimcSpec
from desim.hw.cluster import Cluster, ClusterSpec
from desim.hw.dma import Dma, DmaSpec, Region
from desim.hw.dram.component import DramController
from desim.hw.dram.spec import DramSpec
from desim.hw.interconnect import Interconnect, LinkSpec, add_link
from desim.hw.memory import Sram, SramSpec
from desim.kernel import Clock, Component, Sim
from desim.mapping import MappingSpec, Target, map_graph
from desim.spec import Spec, param, subspec

_GVSOC = "GVSoC pulp_open"
_UDMA = "PULP uDMA (Pullini et al., 'uDMA: An autonomous I/O subsystem', 2017)"


@dataclass(frozen=True)
class SocSpec(Spec):
    """A PULP cluster with L1, L2 and off-chip DRAM; AIMC crossbars when ``aimc`` is set."""

    name: str = param("pulp", doc="platform name")
    cluster: ClusterSpec = subspec(ClusterSpec)
    l1: SramSpec = subspec(SramSpec, doc="cluster L1 (TCDM)")
    l2: SramSpec = subspec(
        SramSpec, capacity_bytes=1572864, base_addr=0x1C000000, banks=4, word_bytes=8,
        port_bytes_per_cycle=32.0, latency_cycles=4,
        doc=f"L2: 1.5 MiB in 4 interleaved banks ({_GVSOC} l2_subsystem.py); 64-bit banks and "
            "4-cycle access latency assumed")
    dram: DramSpec = subspec(DramSpec, doc="off-chip memory; --set dram=NAME picks a preset")
    dram_base_addr: int = param(0x80000000, ge=0, doc="address of the first DRAM byte",
                                source="assumed memory map")
    cluster_link: LinkSpec = subspec(LinkSpec, doc="cluster <-> L2 link (64-bit AXI)")
    io_link: LinkSpec = subspec(
        LinkSpec, bandwidth_bytes_per_cycle=4.0, latency_cycles=8,
        doc=f"L2 <-> off-chip link of the I/O DMA: 32-bit L2 port ({_UDMA}); 8 cycles assumed")
    cl_dma: DmaSpec = subspec(DmaSpec, channels=2,
                              doc="cluster DMA: channel 0 loads tiles into L1, 1 stores them")
    io_dma: DmaSpec = subspec(
        DmaSpec, channels=2, queue_depth=4, outstanding=4,
        doc=f"I/O DMA between DRAM and L2, one channel per direction ({_UDMA})")
    aimc: AimcSpec | None = param(None, doc="AIMC crossbars (None: a digital cluster)")
    analog: AnalogSpec = subspec(AnalogSpec)
    mapping: MappingSpec = subspec(MappingSpec)

    def target(self) -> Target:
        """What the mapper needs to know of this platform."""
        return Target(self.name, self.l1.base_addr, self.l1.capacity_bytes, self.l2.base_addr,
                      self.l2.capacity_bytes, self.cluster.n_cores, self.mapping, self.aimc,
                      self.dram_base_addr, self.dram.capacity_bytes, self.cluster,
                      self.cluster_link.bandwidth_bytes_per_cycle, self.cl_dma.setup_cycles,
                      self.dram.txn_bytes, self._dram_txn_cycles())

    def _dram_txn_cycles(self) -> float:
        """Cluster cycles per DRAM transaction in a stream: the data burst with an open
        page, the whole activate-access-precharge sequence with a closed one; never faster
        than the I/O link carries it."""
        d = self.dram
        dram_cycles = d.burst_cycles if d.page_policy == "open" else (
            d.tRCD + d.CL + d.burst_cycles + d.tRP)
        cycles = dram_cycles * d.tCK_ns * 1e-9 * self.cluster.freq_hz
        return max(cycles, d.txn_bytes / self.io_link.bandwidth_bytes_per_cycle)


class PulpSoc(Component):
    """The SoC of :class:`SocSpec`: builds the components and runs mapped graphs."""

    kind = "soc"

    def __init__(self, sim: Sim, spec: SocSpec):
        super().__init__(sim, "soc", Clock("main", int(spec.cluster.freq_hz)), spec)
        # components
        self.l1 = Sram(self, "l1", spec.l1)
        self.l2 = Sram(self, "l2", spec.l2)
        self.dram = DramController(self, "dram", spec.dram, spec.dram_base_addr)
        self.cluster = Cluster(self, "cluster", spec.cluster, self.l1)
        self.aimc = Aimc(self, "aimc", spec.aimc, self.l1, self.clock) if spec.aimc else None
        graph = nx.DiGraph()
        add_link(graph, "l1", "l2", spec.cluster_link)
        add_link(graph, "l2", "dram", spec.io_link)
        self.ic = Interconnect(self, "ic", graph)
        # bindings
        self.cl_dma = Dma(self, "cl_dma", self.ic, [Region.of(self.l1, "l1"),
                                                     Region.of(self.l2, "l2")], spec.cl_dma)
        self.io_dma = Dma(self, "io_dma", self.ic, [Region.of(self.l2, "l2"),
                                                     Region.of(self.dram, "dram")], spec.io_dma)
        self.schedule: Any = None

    def prepare(self, wl: Any) -> None:
        """Map graph ``wl`` before the run, so that a mapping error stops it early."""
        from desim.workload.graph import Graph

        if not isinstance(wl, Graph):
            raise SpecError(f"{self.spec.name} runs DNN graphs (zoo names or model files); "
                            f"run the synthetic workload '{wl.name}' on stream_soc")
        self.schedule = map_graph(wl, self.spec.target())

    def execute(self, wl: Any, extra: dict[str, Any]) -> Generator[simpy.Event, Any, None]:
        """Run the mapped graph ``wl``; put the per-layer results into ``extra``."""
        from desim.runtime.executor import Runtime

        if self.schedule is None:
            self.prepare(wl)
        runtime = Runtime(self, self.schedule, extra.pop("functional", None))
        yield from runtime.run()
        extra.update(runtime.results())

    def energy_parts(self) -> list[Any]:
        """Components that account energy (each has ``energy_pj``)."""
        parts: list[Any] = [self.l1, self.l2, self.dram, self.cluster]
        return parts + ([self.aimc] if self.aimc else [])
