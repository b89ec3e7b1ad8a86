"""hetero_cluster: 8 RISC-V cores, AIMC crossbars and a digital depthwise engine on a 512 KiB L1.

The heterogeneous IMC cluster of Garofalo et al. (IEEE JETCAS 2022): imc_cluster (8 cores,
34 crossbars of 256 x 256 PCM sharing a 512 KiB L1 in 32 banks), plus the digital
depthwise engine the authors pair with the crossbars, because depthwise layers map poorly
on a crossbar and are slow on the cores (:mod:`desim.hw.depthwise`; its parameters are
assumptions, no RTL is public). Dense and pointwise convolutions and fully connected
layers go to the crossbars (``mapping.policy``), depthwise layers to the depthwise engine
(the cheapest engine for every 3x3 depthwise layer of the zoo: cost decides), pooling and
elementwise layers to the cores. L2 is 2 MiB so that MobileNetV2-224's live activations
(1.5 MB at their peak) and the staging buffers stay on chip; HyperRAM as on pulp_cluster.

Run it with ``desim run hetero_cluster -w mobilenetv1_vww``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from desim.engines.depthwise import DepthwiseEngine
from desim.hw.aimc import AimcSpec
from desim.hw.depthwise import DepthwiseSpec, DepthwiseUnit
from desim.hw.dram.spec import preset
from desim.hw.memory import SramSpec
from desim.kernel import Sim
from desim.mapping import MappingSpec
from desim.soc.pulp import PulpSoc, SocSpec
from desim.spec import subspec

_IMC = "Garofalo et al., IEEE JETCAS 2022 (heterogeneous IMC cluster)"


@dataclass(frozen=True)
class HeteroSpec(SocSpec):
    """The PULP SoC with crossbars and a depthwise engine beside the cores."""

    depthwise: DepthwiseSpec = subspec(DepthwiseSpec)

    def build(self, sim: Sim) -> HeteroSoc:
        """The SoC of this spec on ``sim``."""
        return HeteroSoc(sim, self)


class HeteroSoc(PulpSoc):
    """PulpSoc, plus the depthwise engine on L1 bound after the cores and crossbars."""

    def __init__(self, sim: Sim, spec: HeteroSpec):
        super().__init__(sim, spec)
        self.depthwise = DepthwiseUnit(self, "depthwise", spec.depthwise, self.l1)
        self.add_engine(DepthwiseEngine(self.depthwise))


def default_spec() -> HeteroSpec:
    return HeteroSpec(
        name="hetero_cluster",
        l1=SramSpec(capacity_bytes=524288, banks=32, port_bytes_per_cycle=128.0).cite(
            capacity_bytes=f"{_IMC}: 512 kB L1", banks=f"{_IMC}: 32 banks",
            port_bytes_per_cycle=f"{_IMC}: 32 ports x 4 B"),
        l2=SramSpec(capacity_bytes=2097152, base_addr=0x1C000000, banks=4, word_bytes=8,
                    port_bytes_per_cycle=32.0, latency_cycles=4).cite(
            capacity_bytes="assumed: 2 MiB, for MobileNetV2-224's live activations (1,505,280 "
                           "B at their peak, block1/depthwise) and the four L2 staging buffers "
                           "(262,144 B); 1.5 MiB spills one activation to DRAM",
            banks="GVSoC pulp_open l2_subsystem.py: 4 interleaved banks",
            base_addr="PULP L2 base address (GVSoC pulp_open memory map)",
            word_bytes="assumed: 64-bit banks",
            port_bytes_per_cycle="4 banks x 8 B: every bank serves one word per cycle",
            latency_cycles="assumed"),
        aimc=AimcSpec(n_crossbars=34).cite(
            n_crossbars=f"{_IMC}: the 34 crossbars MobileNetV2 is bin-packed into"),
        dram=preset("hyperram"),
        mapping=MappingSpec(policy=("conv2d=aimc", "fully_connected=aimc")).cite(
            policy=f"{_IMC}: dense and pointwise layers on the crossbars"),
    )


def build(sim: Sim, spec: HeteroSpec) -> HeteroSoc:
    return HeteroSoc(sim, spec)


if __name__ == "__main__":
    from desim.cli import main

    sys.exit(main(["run", __file__, *sys.argv[1:]]))
