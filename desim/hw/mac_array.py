"""A fixed-throughput MAC array fed from a local memory (stream_soc's compute unit).

Timing of one job of ``macs`` multiply-accumulates reading ``in_bytes`` and writing
``out_bytes`` of its local memory (cycles of the engine's clock)::

    compute  = setup_cycles + ceil(macs / macs_per_cycle)
    duration = max(compute, memory time of the operand reads and result writes)

The operand traffic goes through the memory's ``access`` (it contends with the DMA and
any other master on that memory's ports), concurrently with the computation, so a job is
compute-bound or memory-bound by whichever finishes last.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import simpy

from desim.kernel import Component
from desim.spec import Spec, param


@dataclass(frozen=True)
class MacArraySpec(Spec):
    """A digital MAC array."""

    macs_per_cycle: float = param(
        256.0, unit="MAC/cycle", gt=0, doc="peak 8-bit MACs per cycle",
        source="DIANA digital core, 16x16 PE array (DORY Diana HW_description.json)")
    setup_cycles: int = param(
        20, unit="cycles", ge=0, doc="per-job configuration and pipeline fill",
        source="assumed: register-file job offload, order of a few tens of cycles")
    energy_pj_per_mac: float = param(
        0.143, unit="pJ/MAC", ge=0, doc="energy per 8-bit MAC",
        source="DIANA digital core 14 TOPS/W peak (Ueyoshi et al., ISSCC 2022): 2/14 pJ per MAC")
    area_mm2_per_mac: float = param(
        0.001, unit="mm^2", ge=0, doc="silicon area per MAC/cycle of peak throughput",
        source="assumed: no published area; 0.001 mm^2 per 8-bit MAC lane in 22 nm, "
        "the datapath with its share of operand buffers, accumulators and control")

    @property
    def area_mm2(self) -> float:
        """Silicon area of the array (mm^2)."""
        return self.macs_per_cycle * self.area_mm2_per_mac


class MacArray(Component):
    """Runs compute jobs one at a time, reading operands from and writing results to ``mem``."""

    kind = "engine"

    def __init__(self, parent: Component, name: str, spec: MacArraySpec, mem: Any):
        super().__init__(parent, name, spec=spec)
        self.mem = mem
        self._lock = simpy.Resource(self.env, capacity=1)
        self.energy_pj = 0.0

    @property
    def area_mm2(self) -> float:
        """Silicon area of the array (mm^2, see :class:`MacArraySpec`)."""
        return float(self.spec.area_mm2)

    def compute_cycles(self, macs: int) -> int:
        """Cycles of the arithmetic alone for a job of ``macs`` MACs."""
        return self.spec.setup_cycles + math.ceil(macs / self.spec.macs_per_cycle)

    def run(self, macs: int, in_addr: int, in_bytes: int, out_addr: int, out_bytes: int,
            name: str = "job", args: dict[str, Any] | None = None
            ) -> Generator[simpy.Event, Any, None]:
        """Execute one job; use as ``yield from engine.run(...)``."""
        with self._lock.request() as req:
            yield req
            start = self.begin()
            env = self.env
            compute = env.timeout(self.clock.ps(self.compute_cycles(macs)))
            traffic = env.process(self._traffic(in_addr, in_bytes, out_addr, out_bytes))
            yield compute & traffic
            self.counters["macs"] += macs
            self.counters["jobs"] += 1
            self.energy_pj += macs * self.spec.energy_pj_per_mac
            if self.sim.tracer is not None:
                self.end(start, "compute", name, "compute",
                         {"macs": macs, **(args or {})})
            else:
                self.end(start, "compute", name, "compute")

    def _traffic(self, in_addr: int, in_bytes: int, out_addr: int, out_bytes: int
                 ) -> Generator[simpy.Event, Any, None]:
        if in_bytes:
            yield from self.mem.access(in_addr, in_bytes, False, self.path)
        if out_bytes:
            yield from self.mem.access(out_addr, out_bytes, True, self.path)
