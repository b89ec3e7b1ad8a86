"""imc_cluster: a heterogeneous cluster — 8 RISC-V cores plus AIMC crossbars on a 512 KiB L1.

In the style of the PULP in-memory-computing cluster (Garofalo et al., IEEE JETCAS 2022):
8 cores and analog crossbars (256 x 256 PCM, 4-bit weights, 8-bit DAC/ADC, 130 ns per
MVM, after IBM HERMES) share a 512 KiB L1 in 32 banks; the crossbars' streamers read and
write L1 through 32 ports. Dense convolutions and fully connected layers run on the
crossbars, depthwise, pooling and elementwise layers on the cores. The default of 34
crossbars is the count the authors bin-pack MobileNetV2 into. L2 and HyperRAM as on
pulp_cluster.

Run it with ``desim run imc_cluster -w resnet8 --set aimc.n_crossbars=8``; copy this file
to describe a platform of your own.
"""

from __future__ import annotations

import sys

from desim.hw.aimc import AimcSpec
from desim.hw.dram.spec import preset
from desim.hw.memory import SramSpec
from desim.kernel import Sim
from desim.mapping import MappingSpec
from desim.soc.pulp import PulpSoc, SocSpec

_IMC = "Garofalo et al., IEEE JETCAS 2022 (heterogeneous IMC cluster)"


def default_spec() -> SocSpec:
    return SocSpec(
        name="imc_cluster",
        # 512 kB L1 in 32 banks shared by the cores and the crossbars' streamers
        l1=SramSpec(capacity_bytes=524288, banks=32, port_bytes_per_cycle=128.0).cite(
            capacity_bytes=f"{_IMC}: 512 kB L1", banks=f"{_IMC}: 32 banks",
            port_bytes_per_cycle=f"{_IMC}: 32 ports x 4 B"),
        aimc=AimcSpec(n_crossbars=34).cite(
            n_crossbars=f"{_IMC}: the 34 crossbars MobileNetV2 is bin-packed into"),
        dram=preset("hyperram"),
        # the heterogeneous cluster's mapping: every dense and pointwise convolution and
        # fully connected layer on the crossbars when they fit (Garofalo et al., JETCAS
        # 2022); depthwise, pooling and elementwise layers go to the cores
        mapping=MappingSpec(policy=("conv2d=aimc", "fully_connected=aimc")).cite(
            policy=f"{_IMC}: dense and pointwise layers on the crossbars"),
    )


def build(sim: Sim, spec: SocSpec) -> PulpSoc:
    return PulpSoc(sim, spec)

if __name__ == "__main__":
    from desim.cli import main

    sys.exit(main(["run", __file__, *sys.argv[1:]]))
