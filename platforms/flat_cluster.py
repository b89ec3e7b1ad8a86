"""flat_cluster: 8 RISC-V cores whose 256 KiB L1 is fed straight from LPDDR4 — no L2.

A different memory hierarchy from the other DNN platforms: there is no on-chip L2, so
every activation and weight lives in an LPDDR4-2400 DRAM, and the cluster DMA moves each
tile between the DRAM and L1 directly, over a 64-bit link (the DRAM's transactions, row
hits and refresh are simulated per access). The question it answers: what an L2 buys —
run a network here and on pulp_cluster and compare latency, energy and DRAM traffic.

Components and bindings (GVSoC-style: components first, then bindings)::

    soc.cluster (cores + event unit) ── soc.l1 ──cluster link── soc.dram
    soc.cl_dma: l1 <──> dram

Run it with ``desim run flat_cluster -w resnet8``; copy this file to describe a platform
of your own.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import networkx as nx

from desim.engines.cluster import ClusterEngine
from desim.hw.cluster import Cluster, ClusterSpec
from desim.hw.dma import Dma, DmaSpec, Region
from desim.hw.dram.component import DramController
from desim.hw.dram.spec import DramSpec, preset
from desim.hw.interconnect import Interconnect, LinkSpec, add_link
from desim.hw.memory import Sram, SramSpec
from desim.kernel import Clock, Sim
from desim.mapping import MappingSpec, Target
from desim.soc import Soc
from desim.soc.base import area_scale_param, dram_txn_cycles
from desim.spec import Spec, param, subspec


@dataclass(frozen=True)
class FlatSpec(Spec):
    """A PULP cluster with L1 and off-chip DRAM, and no L2."""

    name: str = param("flat_cluster", doc="platform name")
    cluster: ClusterSpec = subspec(ClusterSpec)
    l1: SramSpec = subspec(
        SramSpec, capacity_bytes=262144, banks=16,
        cite={"capacity_bytes": "assumed: 256 KiB, between pulp_cluster's 64 KiB L1 and "
                                "imc_cluster's 512 KiB, to hold a tile pair of every zoo "
                                "layer without an L2 behind it"},
        doc="cluster L1 (TCDM)")
    dram: DramSpec = subspec(DramSpec, doc="off-chip memory; --set dram=NAME picks a preset")
    dram_base_addr: int = param(0x80000000, ge=0, doc="address of the first DRAM byte",
                                source="assumed memory map")
    link: LinkSpec = subspec(LinkSpec, doc="L1 <-> DRAM link (64-bit AXI)")
    dma: DmaSpec = subspec(
        DmaSpec, channels=2, queue_depth=4, outstanding=8,
        cite={"channels": "assumed: one channel per direction",
              "queue_depth": "assumed", "outstanding": "assumed: enough bursts in flight "
                                                       "to cover the DRAM's latency"},
        doc="cluster DMA between DRAM and L1: channel 0 loads tiles, 1 stores them")
    mapping: MappingSpec = subspec(MappingSpec)
    area_scale: float = area_scale_param()


def default_spec() -> FlatSpec:
    return FlatSpec(dram=preset("lpddr4_2400"))


class FlatSoc(Soc):
    """The SoC of :class:`FlatSpec`: levels l1 and dram, one DMA between them."""

    def __init__(self, sim: Sim, spec: FlatSpec):
        super().__init__(sim, spec, Clock("main", int(spec.cluster.freq_hz)))
        # components
        self.l1 = Sram(self, "l1", spec.l1)
        self.dram = DramController(self, "dram", spec.dram, spec.dram_base_addr)
        self.cluster = Cluster(self, "cluster", spec.cluster, self.l1)
        self.ic = Interconnect(self, "ic", add_link(nx.DiGraph(), "l1", "dram", spec.link))
        self.cl_dma = Dma(self, "cl_dma", self.ic, [Region.of(self.l1, "l1"),
                                                     Region.of(self.dram, "dram")], spec.dma)
        # bindings
        self.add_memory("l1", self.l1)
        self.add_memory("dram", self.dram)
        self.add_dma("dram", "l1", self.cl_dma)
        self.add_engine(ClusterEngine(self.cluster))

    def target(self) -> Target:
        spec = self.spec
        bw = spec.link.bandwidth_bytes_per_cycle
        return self.make_target(spec.mapping, bw, spec.dma.setup_cycles,
                                dram_txn_cycles(spec.dram, spec.cluster.freq_hz, bw))


def build(sim: Sim, spec: FlatSpec) -> FlatSoc:
    return FlatSoc(sim, spec)


if __name__ == "__main__":
    from desim.cli import main

    sys.exit(main(["run", __file__, *sys.argv[1:]]))
