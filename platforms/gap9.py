"""gap9: a GAP9-class SoC — 8 RISC-V cores + controller and an NE16 engine on 128 KiB of L1.

GreenWaves' GAP9 as public sources describe it (parameters and sources in
docs/models/ne16.md): a cluster of 8 worker cores and a cluster controller at 370 MHz
sharing a 128 KiB L1 with an NE16-class convolution engine on the cluster clock
(:mod:`desim.hw.ne16`), 1.5 MiB of L2, and HyperRAM off chip behind the I/O DMA. The
cluster DMA moves 8 B per cycle between L2 and L1 with a 10-cycle latency (DORY's GAP9
description); L1 keeps 92.7 kB for tiles, the rest for stacks and the runtime, as DORY's
NE16 tiler leaves it. The controller core programs NE16's jobs.

Mapping: every convolution NE16 can run (3x3 and 1x1, stride 1 or 2, and 3x3
depthwise) goes to it by ``mapping.policy``, as DORY's GAP9_NE16 target colours every
convolution that passes pulp-nnx's NE16 checks; the other layers (pooling, add, fully
connected, convolutions with other kernels) run on the cores. A policy rather than cost
keeps the mapping the deployment's, whatever the cost model makes of the small layers.

Run it with ``desim run gap9 -w resnet8`` (``--set ne16.weight_bits=5`` for the 5-bit
weights GreenWaves' MLPerf Tiny build used on DS-CNN and MobileNet).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from desim.engines.ne16 import Ne16Engine
from desim.hw.cluster import ClusterSpec
from desim.hw.dram.spec import preset
from desim.hw.interconnect import LinkSpec
from desim.hw.memory import SramSpec
from desim.hw.ne16 import Ne16, Ne16Spec
from desim.kernel import Sim
from desim.mapping import MappingSpec
from desim.soc.pulp import PulpSoc, SocSpec
from desim.spec import subspec

_DORY = "DORY GAP9 target (pulp-platform/dory, commit be3d6dd)"
_MLPERF = "MLPerf Tiny v1.0, GreenWaves' closed submission (mlcommons/tiny_results_v1.0)"
_L1 = 131072
_TILES = 92700


@dataclass(frozen=True)
class Gap9Spec(SocSpec):
    """The PULP SoC with an NE16 engine beside the cores."""

    ne16: Ne16Spec = subspec(Ne16Spec)

    def build(self, sim: Sim) -> Gap9Soc:
        """The SoC of this spec on ``sim``."""
        return Gap9Soc(sim, self)


class Gap9Soc(PulpSoc):
    """PulpSoc, plus NE16 on L1 and the cluster clock, programmed by the controller core."""

    def __init__(self, sim: Sim, spec: Gap9Spec):
        super().__init__(sim, spec)
        self.ne16 = Ne16(self, "ne16", spec.ne16, self.l1, self.cluster.ctrl,
                         self.cluster.clock)
        self.add_engine(Ne16Engine(self.ne16))


def default_spec() -> Gap9Spec:
    return Gap9Spec(
        name="gap9",
        cluster=ClusterSpec().cite(
            n_cores=f"GAP9: 8 workers + 1 cluster controller ({_MLPERF} system description)",
            freq_hz=f"GAP9 cluster at 370 MHz, 0.8 V ({_MLPERF} build settings; {_DORY})"),
        l1=SramSpec(capacity_bytes=_L1).cite(
            capacity_bytes=f"GAP9: 128 kB shared L1 (GreenWaves product page; {_MLPERF})",
            banks="assumed: 16 banks as the open PULP cluster (pulp_cluster_package.sv); "
                  "GAP9's count is not published"),
        l2=SramSpec(capacity_bytes=1572864, base_addr=0x1C000000, banks=4, word_bytes=8,
                    port_bytes_per_cycle=32.0, latency_cycles=4).cite(
            capacity_bytes=f"GAP9: 1.5 MB L2 (GreenWaves product page; {_DORY})",
            banks="GVSoC pulp_open l2_subsystem.py: 4 interleaved banks",
            base_addr="PULP L2 base address (GVSoC pulp_open memory map)",
            word_bytes="assumed: 64-bit banks",
            port_bytes_per_cycle="4 banks x 8 B: every bank serves one word per cycle",
            latency_cycles="assumed"),
        dram=preset("hyperram"),
        cluster_link=LinkSpec(latency_cycles=10).cite(
            bandwidth_bytes_per_cycle=f"{_DORY} HW_description.json: L2 <-> L1 8 B/cycle",
            latency_cycles=f"{_DORY} HW_description.json: L2 <-> L1 latency 10 cycles"),
        mapping=MappingSpec(policy=("conv2d=ne16", "depthwise_conv2d=ne16"),
                            l1_overhead_bytes=_L1 - _TILES).cite(
            policy="DORY GAP9_NE16 HW_Parser.py: every convolution pulp-nnx accepts on NE16",
            l1_overhead_bytes="DORY GAP9_NE16 tiler: about 92.7 kB of L1 left for tiles "
                              "after stacks"),
    )


def build(sim: Sim, spec: Gap9Spec) -> Gap9Soc:
    return Gap9Soc(sim, spec)


if __name__ == "__main__":
    from desim.cli import main

    sys.exit(main(["run", __file__, *sys.argv[1:]]))
