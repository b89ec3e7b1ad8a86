"""The resistive device of a crossbar cell as weight updates see it: its conductance
range and levels (the update granularity), its write pulse, its noise and its endurance.

A weight ``w`` in ``[-w_max, w_max]`` is a conductance difference within ``[g_min,
g_max]``; one pulse moves a device by ``dG_min = (g_max - g_min) / levels``, so the
weight granularity is ``w_max / levels``. A uni-directional device (PCM) can only raise
its conductance: a weight is a pair of devices and a decrease is a pulse on the other
one (both saturate, so the pair is refreshed now and then). ``presets`` are named
device parameter sets (``--set aimc.write.device=rram``).
"""

from __future__ import annotations

from dataclasses import dataclass

from desim.errors import SpecError
from desim.spec import Spec, param

_AK = "IBM aihwkit 4545f11 (simulator/presets/devices.py)"
_NS = "NeuroSim MLP_NeuroSim V3.0 (Cell.cpp)"


@dataclass(frozen=True)
class DeviceSpec(Spec):
    """A programmable resistive device used for in-array weight updates."""

    technology: str = param("pcm", doc="device technology (names the preset the other "
                            "defaults come from)", choices=("pcm", "rram", "custom"),
                            source="phase-change memory, as the IMA / HERMES crossbars")
    levels: int = param(
        200, ge=2, le=1_000_000, doc="conductance steps from g_min to g_max (one pulse each)",
        source=f"{_AK}: PCMPresetDevice dw_min 0.01 on [0, 2], 200 steps")
    g_min_us: float = param(0.1, unit="uS", ge=0, doc="lowest programmable conductance",
                            source="assumed: the reset state of a PCM device, about 100 nS "
                            f"(as the {_NS} RRAM cell's G_min)")
    g_max_us: float = param(
        25.0, unit="uS", gt=0, le=1e6, doc="highest programmable conductance",
        source="IBM aihwkit 4545f11 (inference/noise/pcm.py): g_max 25 uS")
    pulse_ns: float = param(100.0, unit="ns", gt=0, le=1e9, doc="width of one write pulse",
                            source="PCM writes of about 100 ns (Burr et al., JVST B 2010)")
    write_v: float = param(
        1.5, unit="V", gt=0, le=100, doc="amplitude of a write pulse",
        source="assumed: PCM SET pulses of 1-2 V (Burr et al., JVST B 2010)")
    pulse_noise: float = param(
        0.6, ge=0, le=10, doc="cycle-to-cycle spread of one pulse's step (std / mean)",
        source=f"{_AK}: PCMPresetDevice dw_min_std 0.6")
    bidirectional: bool = param(
        False, doc="a pulse can lower the conductance (False: a device pair per weight, "
        "decreases pulse the other device)",
        source=f"{_AK}: PCM is uni-directional (PCMPresetUnitCell: a pair with refresh)")
    endurance_cycles: float = param(
        1e9, unit="pulses", gt=0, le=1e18, doc="write pulses a device survives",
        source="PCM endurance about 1e9 cycles (Burr et al., JVST B 2010); multi-level "
        "operation is lower")

    @classmethod
    def from_preset(cls, name: str) -> DeviceSpec:
        """The device of a named technology (``--set aimc.write.device=NAME``)."""
        try:
            return PRESETS[name]
        except KeyError:
            raise SpecError(f"unknown device '{name}'; presets: {', '.join(PRESETS)}"
                            ) from None

    def validate(self) -> None:
        if self.g_min_us >= self.g_max_us:
            raise SpecError(f"g_min_us ({self.g_min_us}) must be below g_max_us "
                            f"({self.g_max_us})")

    @property
    def step_us(self) -> float:
        """Conductance change of one pulse, dG_min (uS)."""
        return (self.g_max_us - self.g_min_us) / self.levels


PRESETS: dict[str, DeviceSpec] = {
    "pcm": DeviceSpec(),
    "rram": DeviceSpec(
        technology="rram", levels=1000, g_min_us=0.1, g_max_us=5.0, pulse_ns=10.0,
        write_v=2.0, pulse_noise=0.3, bidirectional=True, endurance_cycles=1e6,
    ).cite(levels="IBM aihwkit ReRAM presets: about 1000 steps",
           g_min_us=f"{_NS}: G_min 100 nS", g_max_us=f"{_NS}: G_max 5 uS",
           pulse_ns=f"{_NS}: 10 ns write pulses", write_v=f"{_NS}: 2 V write pulses",
           pulse_noise=f"{_AK}: GokmenVlasovPresetDevice dw_min_std 0.3",
           bidirectional="RRAM SET and RESET pulses of opposite polarity",
           endurance_cycles="RRAM endurance 1e6-1e12 cycles; the low end for multi-level "
           "operation (assumed)"),
}
