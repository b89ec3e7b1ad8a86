"""A digital depthwise engine: 3x3 int8 depthwise convolutions, ``lanes`` channels at once.

The heterogeneous IMC cluster (Garofalo et al., IEEE JETCAS 2022) pairs its crossbars with
a digital depthwise engine, because depthwise layers map poorly on a crossbar and are slow
on the cores. No RTL of that engine is public: this model is an assumption, sized as
NE16's datapath (pulp-platform/ne16) would be with all 16 of its channel lanes doing
depthwise work instead of one in 16, behind an NE16-class L1 port.

Each lane holds one channel's nine taps and line buffers of its input rows, and produces
one output pixel (9 MACs) per cycle; every input byte of a tile is read from L1 once. A
job is one tile: ``h_out x w_out`` outputs of ``c`` channels from ``h_in x w_in`` input
pixels (stride 2 reads about four times the input bytes per output of stride 1). Cycles
of the engine's clock, from the first clock edge at or after the job starts::

    compute = ceil(c / lanes) * h_out * w_out
    bytes   = h_in * w_in * c  +  c * w_per_c  +  h_out * w_out * c     (in, weights, out)
    port    = ceil(bytes / port_bytes_per_cycle)
    job     = job_overhead + max(compute, port)

``w_per_c`` is 9 int8 taps plus a 4-byte bias. The same bytes go through the memory's
``access`` from cycle ``job_overhead`` on (input, weights, then outputs), contending with
the cores and the DMA: the job ends at the later of ``job`` and the first clock edge after
that traffic. Jobs run one at a time, in submission order; a few events each (the queue,
the overhead, three accesses, the end).

Energy: ``9 * h_out * w_out * c`` MACs x ``energy_pj_per_mac``; the memory counts its own
access energy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import simpy

from desim.errors import SpecError
from desim.hw.jobs import JobQueue, JobTiming, l1_traffic
from desim.kernel import Component
from desim.spec import Spec, param

#: kernel taps per output: the engine runs 3x3 windows only
TAPS = 9


@dataclass(frozen=True)
class DepthwiseSpec(Spec):
    """A 3x3 int8 depthwise engine on the cluster clock, computing out of L1."""

    lanes: int = param(
        16, ge=1, le=1024, doc="channels computed in parallel, each one output pixel (9 MAC) "
                               "per cycle",
        source="assumed (no public RTL): NE16's 16 channel lanes all active, where NE16's "
               "depthwise mode enables one in 16 (pulp-platform/ne16 ne16_binconv_array.sv); "
               "16 x 9 = 144 MAC/cycle, near NE16's 3x3 dense peak of 162 at 8-bit weights")
    port_bytes_per_cycle: float = param(
        32.0, unit="B/cycle", gt=0, doc="the engine's own L1 port: inputs, weights and "
                                         "outputs share it",
        source="assumed: NE16's L1 master port, 9 x 32-bit TCDM ports of which 32 B/cycle "
               "carry data (pulp-platform/ne16 ne16_package.sv, ne16_streamer.sv; DORY "
               "Ne16PerfModel.py: 256 bit/cycle)")
    job_overhead_cycles: int = param(
        40, unit="cycles", ge=0, doc="per job: a core programs and triggers it, the engine "
                                     "starts and signals its end",
        source="assumed: as NE16's job, about 24 register writes and a trigger by a core "
               "(pulp-platform/pulp-nnx), estimated at 30-60 cycles; not overlapped with the "
               "previous job")
    energy_pj_per_mac: float = param(
        0.143, unit="pJ/MAC", ge=0, doc="energy of one 8-bit MAC, line buffers and control "
                                        "included, L1 accesses not",
        source="assumed: no published figure for a depthwise engine; DIANA's 22 nm digital "
               "array at 14 TOPS/W (Ueyoshi et al., ISSCC 2022), 2/14 pJ per MAC")
    area_mm2_per_lane: float = param(
        0.009, unit="mm^2", ge=0, doc="silicon area of one lane (9 MACs, its taps and line "
                                      "buffers) with its share of the port and control",
        source="assumed: no published area; 0.001 mm^2 per 8-bit MAC lane in 22 nm, "
        "the datapath with its share of operand buffers, accumulators and control: 9 MACs per lane")

    @property
    def area_mm2(self) -> float:
        """Silicon area of the engine (mm^2)."""
        return self.lanes * self.area_mm2_per_lane

    def job_cycles(self, job: DwJob) -> int:
        """Cycles of ``job`` when the memory keeps up with the engine's port."""
        compute = math.ceil(job.c / self.lanes) * job.h_out * job.w_out
        port = math.ceil(job.nbytes / self.port_bytes_per_cycle)
        return self.job_overhead_cycles + max(compute, port)

    def job_energy_pj(self, job: DwJob) -> float:
        """Energy of ``job``'s MACs (pJ)."""
        return job.macs * self.energy_pj_per_mac


@dataclass(frozen=True)
class DwJob:
    """One tile: ``h_out x w_out`` outputs of ``c`` channels from ``h_in x w_in`` input
    pixels, at the L1 addresses of its input, weights (then bias) and output."""

    h_out: int
    w_out: int
    c: int
    h_in: int
    w_in: int
    w_per_c: int = TAPS + 4
    in_addr: int = 0
    w_addr: int = 0
    out_addr: int = 0
    name: str = ""
    #: called with the engine once the job's time has elapsed (functional runs)
    compute: Callable[[Any], None] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        for key in ("h_out", "w_out", "c", "h_in", "w_in"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SpecError(f"DwJob.{key} must be a positive int, got {value!r}")

    @property
    def label(self) -> str:
        """Name shown in traces."""
        return self.name or "depthwise"

    @property
    def in_bytes(self) -> int:
        return self.h_in * self.w_in * self.c

    @property
    def w_bytes(self) -> int:
        return self.c * self.w_per_c

    @property
    def out_bytes(self) -> int:
        return self.h_out * self.w_out * self.c

    @property
    def nbytes(self) -> int:
        """L1 bytes the job moves."""
        return self.in_bytes + self.w_bytes + self.out_bytes

    @property
    def macs(self) -> int:
        return TAPS * self.h_out * self.w_out * self.c


class DepthwiseUnit(Component):
    """Runs :class:`DwJob` s one at a time; their L1 traffic goes to ``mem``."""

    kind = "engine"

    def __init__(self, parent: Component, name: str, spec: DepthwiseSpec, mem: Any):
        super().__init__(parent, name, spec=spec)
        self.mem = mem
        self.energy_pj = 0.0
        self._queue = JobQueue(self, "jobs", self._serve)

    @property
    def area_mm2(self) -> float:
        """Silicon area of the engine (mm^2, see :class:`DepthwiseSpec`)."""
        return float(self.spec.area_mm2)

    def submit(self, job: DwJob) -> simpy.Event:
        """Queue ``job``; the event succeeds with its :class:`JobTiming` when it is done."""
        return self._queue.put(job)

    def run(self, job: DwJob) -> Generator[simpy.Event, Any, JobTiming]:
        """Submit ``job`` and wait for it: ``timing = yield from unit.run(job)``."""
        timing: JobTiming = yield self.submit(job)
        return timing

    def _serve(self, job: DwJob) -> Generator[simpy.Event, Any, JobTiming]:
        env, clock, spec = self.env, self.clock, self.spec
        k0 = clock.edge_index(env.now)
        t0 = clock.ps(k0)
        if t0 > env.now:
            yield env.timeout(t0 - env.now)
        started = self.begin()
        yield env.timeout(clock.ps(k0 + spec.job_overhead_cycles) - t0)
        for addr, nbytes, write in ((job.in_addr, job.in_bytes, False),
                                    (job.w_addr, job.w_bytes, False),
                                    (job.out_addr, job.out_bytes, True)):
            yield from l1_traffic(self.mem, addr, nbytes, write, self.path)
        end = max(clock.ps(k0 + spec.job_cycles(job)), clock.next_edge(env.now))
        if end > env.now:
            yield env.timeout(end - env.now)
        self.counters["jobs"] += 1
        self.counters["macs"] += job.macs
        self.energy_pj += spec.job_energy_pj(job)
        if self._tracer is not None:
            self.end(started, "compute", job.label, "compute",
                     {"macs": job.macs, "bytes": job.nbytes, "cycles": clock.edge_index(end) - k0})
        else:
            self.end(started, "compute", job.label, "compute")
        if job.compute is not None:
            job.compute(self)
        return JobTiming(t0, end)
