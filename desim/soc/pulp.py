"""The PULP-style SoC builder that pulp_cluster and imc_cluster call.

Components, and how they are bound (GVSoC-style: components first, then bindings)::

    soc.cluster (cores + event unit) ──┐            soc.aimc (crossbars, optional)
                                       ├── soc.l1 ──┘
    soc.cl_dma: l1 <──cluster link──> l2          (cluster DMA, mchan-like)
    soc.io_dma: l2 <──I/O link──────> dram        (I/O DMA, uDMA-like)
    soc.l2, soc.dram

Levels l1, l2 and dram; engines ``cluster`` (the cores) and, with ``aimc`` set, ``aimc``
(the crossbars, whose split matrices add their partial sums on the cores). Every
component runs on the cluster's clock except the DRAM, which has its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from desim.engines.aimc import AimcEngine
from desim.engines.cluster import ClusterEngine
from desim.functional.analog import AnalogSpec
from desim.hw.aimc import Aimc, AimcSpec
from desim.hw.cluster import Cluster, ClusterSpec
from desim.hw.dma import Dma, DmaSpec, Region
from desim.hw.dram.component import DramController
from desim.hw.dram.spec import DramSpec
from desim.hw.interconnect import Interconnect, LinkSpec, add_link
from desim.hw.memory import Sram, SramSpec
from desim.kernel import Clock, Sim
from desim.mapping import MappingSpec, Target
from desim.soc.base import Soc, area_scale_param, dram_txn_cycles
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
        cite={"capacity_bytes": f"{_GVSOC} l2_subsystem.py: 1.5 MiB",
              "banks": f"{_GVSOC} l2_subsystem.py: 4 interleaved banks",
              "base_addr": "PULP L2 base address (GVSoC pulp_open memory map)",
              "word_bytes": "assumed: 64-bit banks",
              "port_bytes_per_cycle": "4 banks x 8 B: every bank serves one word per cycle",
              "latency_cycles": "assumed"},
        doc="L2: 1.5 MiB in 4 interleaved banks")
    dram: DramSpec = subspec(DramSpec, doc="off-chip memory; --set dram=NAME picks a preset")
    dram_base_addr: int = param(0x80000000, ge=0, doc="address of the first DRAM byte",
                                source="assumed memory map")
    cluster_link: LinkSpec = subspec(LinkSpec, doc="cluster <-> L2 link (64-bit AXI)")
    io_link: LinkSpec = subspec(
        LinkSpec, bandwidth_bytes_per_cycle=4.0, latency_cycles=8,
        cite={"bandwidth_bytes_per_cycle": f"32-bit L2 port of the uDMA ({_UDMA})",
              "latency_cycles": "assumed"},
        doc="L2 <-> off-chip link of the I/O DMA")
    cl_dma: DmaSpec = subspec(DmaSpec, channels=2,
                              cite={"channels": "assumed: one channel per direction"},
                              doc="cluster DMA: channel 0 loads tiles into L1, 1 stores them")
    io_dma: DmaSpec = subspec(
        DmaSpec, channels=2, queue_depth=4, outstanding=4,
        cite={"channels": f"one channel per direction ({_UDMA})",
              "queue_depth": "assumed", "outstanding": "assumed"},
        doc="I/O DMA between DRAM and L2, one channel per direction")
    aimc: AimcSpec | None = param(None, doc="AIMC crossbars (None: a digital cluster)")
    analog: AnalogSpec = subspec(AnalogSpec)
    mapping: MappingSpec = subspec(MappingSpec)
    area_scale: float = area_scale_param()

    def build(self, sim: Sim) -> PulpSoc:
        """The SoC of this spec on ``sim``."""
        return PulpSoc(sim, self)


class PulpSoc(Soc):
    """The SoC of :class:`SocSpec`: builds the components and binds them."""

    def __init__(self, sim: Sim, spec: SocSpec):
        super().__init__(sim, spec, Clock("main", int(spec.cluster.freq_hz)))
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
        self.cl_dma = Dma(self, "cl_dma", self.ic, [Region.of(self.l1, "l1"),
                                                     Region.of(self.l2, "l2")], spec.cl_dma)
        self.io_dma = Dma(self, "io_dma", self.ic, [Region.of(self.l2, "l2"),
                                                     Region.of(self.dram, "dram")], spec.io_dma)
        # bindings
        for level in ("l1", "l2", "dram"):
            self.add_memory(level, getattr(self, level))
        self.add_dma("l2", "l1", self.cl_dma)
        self.add_dma("dram", "l2", self.io_dma)
        cores = self.add_engine(ClusterEngine(self.cluster))
        if self.aimc is not None:
            self.add_engine(AimcEngine(self.aimc, cores, spec.analog))  # type: ignore[arg-type]

    def target(self) -> Target:
        spec = self.spec
        return self.make_target(spec.mapping, spec.cluster_link.bandwidth_bytes_per_cycle,
                                spec.cl_dma.setup_cycles,
                                dram_txn_cycles(spec.dram, spec.cluster.freq_hz,
                                                spec.io_link.bandwidth_bytes_per_cycle))
