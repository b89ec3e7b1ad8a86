"""pulp_cluster: a digital PULP cluster — 8 RISC-V cores, 64 KiB L1, 1.5 MiB L2, HyperRAM.

The cluster of GVSoC's pulp-open configuration: 8 worker cores and a controller sharing a
64 KiB L1 in 16 word-interleaved banks, a cluster DMA with 256-byte bursts, 1.5 MiB of L2,
and an off-chip HyperRAM behind an I/O DMA. Every DNN layer runs on the cores (PULP-NN
kernels), tiled for L1 and double-buffered by the cluster DMA.

Run it with ``desim run pulp_cluster -w resnet8`` or ``python platforms/pulp_cluster.py
-w resnet8``; copy this file to describe a platform of your own.
"""

from __future__ import annotations

import sys

from desim.hw.dram.spec import preset
from desim.kernel import Sim
from desim.soc.pulp import PulpSoc, SocSpec


def default_spec() -> SocSpec:
    return SocSpec(name="pulp_cluster", dram=preset("hyperram"))


def build(sim: Sim, spec: SocSpec) -> PulpSoc:
    return PulpSoc(sim, spec)

if __name__ == "__main__":
    from desim.cli import main

    sys.exit(main(["run", __file__, *sys.argv[1:]]))
