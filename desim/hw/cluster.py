"""The RISC-V cluster: worker cores, a controller core and an event unit, sharing L1.

A :class:`KernelJob` submitted to the cluster runs as (cycles of the cluster clock,
counted from the first clock edge at or after the job's start)::

    [0, fork)                       controller dispatches the job to the workers
    [fork, fork + wakeup)           the event unit wakes the workers
    run      = fork + wakeup        the cores start
    work_c   = issue_c + ceil(accesses_c * l1_conflict_stall * (busy - 1))
    memory   = time for the L1 port to carry sum_c (read_c + write_c) bytes
    core c   busy [run, run + max(work_c, memory * traffic_c / max_c traffic_c))
    barrier  = run + max(max_c work_c, memory); the job ends barrier cycles later

``issue_c``, ``accesses_c`` and the bytes come from the per-op models in
:mod:`desim.hw.cluster_ops` (PULP-NN's kernels and work split); ``busy`` is the number
of cores with work, so a lone core sees no bank conflicts. The cores' L1 traffic (reads,
then writes) goes through the memory's ``access`` as one master, the cluster, from the
moment the cores start: a DMA stream into the same memory shares the port with it, and
a memory-heavy job ends when its traffic does. ``l1_conflict_stall`` is the cores'
contention among themselves (TCDM bank conflicts), which the port does not see. Jobs run
one at a time, in submission order. Events per job: a handful for the controller, the
traffic and the barrier, whatever the number of cores, instructions or cycles.

Energy, per core (the workers and the controller) and power state::

    active   busy core cycles * energy_pj_per_core_cycle
    idle     clock-gated by the event unit (waiting at a barrier or for a job): idle_power_uw
    sleep    the cluster idle longer than sleep_after_cycles (0: never): sleep_power_uw

``static_energy_pj`` is the idle and sleep part; ``energy_pj`` adds the active part.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import simpy

from desim.errors import SpecError
from desim.hw.cluster_ops import CoreWork, KernelCosts, split
from desim.hw.fp_kernels import FpJob, FpKernelCosts, core_works
from desim.hw.jobs import JobQueue, JobTiming, KernelJob, l1_traffic
from desim.kernel import Clock, Component
from desim.spec import Spec, param, subspec


@dataclass(frozen=True)
class EventUnitSpec(Spec):
    """Synchronisation costs of the cluster's event unit."""

    fork_cycles: int = param(
        20, unit="cycles", ge=0, doc="controller dispatch of a job to the workers",
        source="assumed: the controller writes entry point and argument to the event "
        "unit's dispatch registers and triggers the team (a few stores and a call)")
    wakeup_cycles: int = param(
        8, unit="cycles", ge=0, doc="from the wake-up event to the worker running again",
        source="GVSoC event unit v3 (gvsoc-pulp pulp/event_unit/eu_v3_impl.cpp): "
        "EU_WAKEUP_LATENCY 2 + EU_WAKEUP_REQ_LATENCY 6")
    barrier_cycles: int = param(
        11, unit="cycles", ge=0, doc="from the last core reaching the barrier to release",
        source="Glaser et al., DATE 2019: hardware barrier latency of 11 cycles, "
        "independent of the number of cores")


@dataclass(frozen=True)
class ClusterSpec(Spec):
    """A PULP-style cluster of RISC-V cores sharing a banked L1 (TCDM)."""

    n_cores: int = param(
        8, ge=1, le=1024, doc="worker cores; at most 1024, four times MemPool's 256 cores "
        "sharing one L1 (Cavalcante et al., DATE 2021), the largest such cluster published",
        source="GVSoC pulp_open cluster.json: 8 workers + 1 cluster controller")
    # at least 1 MHz, below any clock a TinyML compute cluster runs at: a run's simulated
    # time, and the DRAM refreshes simulated within it, grow as the clock slows
    freq_hz: float = param(
        370e6, unit="Hz", ge=1e6, le=1e12, doc="cluster clock frequency (cores, event unit, "
        "and any L1 or AIMC built on the cluster's clock)",
        source="GAP9 cluster at 370 MHz (DORY GAP9 target)")
    l1_conflict_stall: float = param(
        0.031, unit="cycles/access/core", ge=0, le=100, doc="average stall per core L1 access "
        "from TCDM bank conflicts, per other busy core (at most 100)",
        source="calibrated: 15.5 MAC/cycle on 8 cores for a 3x3 conv, 32 -> 64 channels, "
        "16x16 output (PULP-NN peak, Garofalo et al. 2020); see docs/models/cluster.md")
    energy_pj_per_core_cycle: float = param(
        3.4, unit="pJ", ge=0, doc="energy of one busy core cycle (core, its share of L1 "
        "interconnect and instruction cache)",
        source="derived: Dustin cluster (Ottavi et al., 2022) peak 1.15 TOPS/W = 1.74 pJ/MAC "
        "at 8 bit, times PULP-NN's 1.94 MAC per core-cycle")
    idle_power_uw: float = param(
        60.0, unit="uW", ge=0, doc="power of one core clock-gated by the event unit, waiting "
        "at a barrier or for a job (cluster on)",
        source="assumed: leakage plus the core's share of the running cluster clock tree, "
        "about 5 % of an active core's 1.26 mW (3.4 pJ x 370 MHz); cores wait with their "
        "clock gated (Glaser et al., IEEE TPDS 2020), no published idle figure at hand")
    sleep_power_uw: float = param(
        0.0, unit="uW", ge=0, doc="power of one core while the cluster sleeps (powered off)",
        source="GAP-8 (Flamand et al., ASAP 2018): the cluster has its own clock and voltage "
        "domain, which the fabric controller switches off; power-switch leakage neglected")
    sleep_after_cycles: int = param(
        0, unit="cycles", ge=0, doc="cluster idle cycles after which it sleeps; 0: never "
        "(its wake-up time is not modelled)",
        source="assumed: the runtime keeps the cluster on through an inference (PMSIS opens "
        "it once with pi_cluster_open and closes it with pi_cluster_close)")
    core_area_mm2: float = param(
        0.186, unit="mm^2", ge=0, doc="silicon area per core (the workers and the controller) "
        "with its share of the event unit, instruction cache and L1 interconnect; the L1 "
        "banks are the memory's",
        source="derived: the 8-core cluster with its 512 KiB L1 takes about 2.5 mm^2 in 22 nm "
        "FDX (Garofalo et al., JETCAS 2022); less the L1 (512 KiB x 0.0016 mm^2/KiB, "
        "SramSpec) and the cluster DMA (0.01 mm^2, DmaSpec), 1.67 mm^2 over 9 cores")
    event_unit: EventUnitSpec = subspec(EventUnitSpec)
    ops: KernelCosts = subspec(KernelCosts)
    fp: FpKernelCosts = subspec(FpKernelCosts, doc="floating-point training kernels")

    @property
    def area_mm2(self) -> float:
        """Silicon area of the cores and event unit, L1 excluded (mm^2)."""
        return (self.n_cores + 1) * self.core_area_mm2

    def works(self, job: KernelJob | FpJob) -> list[CoreWork]:
        """Every core's share of ``job``: an int8 kernel or a floating-point one."""
        if isinstance(job, FpJob):
            return core_works(job, self.fp, self.n_cores)
        return split(job, self.ops, self.n_cores)

    def core_cycles(self, job: KernelJob | FpJob) -> list[int]:
        """Each core's compute cycles for ``job`` (0 for idle cores), memory time aside."""
        works = self.works(job)
        busy = sum(1 for w in works if w.items)
        return [self.work_cycles(w, busy) for w in works]

    def job_cycles(self, job: KernelJob | FpJob) -> int:
        """Cycles of ``job`` when L1 bandwidth is not the limit: sync costs + slowest core."""
        eu = self.event_unit
        return (eu.fork_cycles + eu.wakeup_cycles + max(self.core_cycles(job))
                + eu.barrier_cycles)

    def work_cycles(self, work: CoreWork, busy: int) -> int:
        """Cycles of one core's share when ``busy`` cores work on the job."""
        if not work.items:
            return 0
        stall = work.accesses * self.l1_conflict_stall * (busy - 1)
        return work.issue_cycles + math.ceil(stall - 1e-9)  # float noise on exact products


class Core(Component):
    """One RISC-V core; its busy intervals are the kernel shares it runs."""

    kind = "core"

    def record(self, start: int, end: int, name: str, cat: str,
               args: dict[str, Any] | None) -> None:
        """Account a busy interval known in closed form (no event of its own)."""
        self.busy_ps += end - start
        if self._tracer is not None:
            self._tracer.interval(self.path, "exec", name, cat, start, end, args)


class Cluster(Component):
    """Runs :class:`KernelJob` s on ``spec.n_cores`` workers; L1 traffic goes to ``mem``.

    ``mem`` implements ``access(addr, nbytes, write, master)`` (e.g. the L1 ``Sram``);
    with ``mem=None`` the cores are never memory-bound. The cluster clock is built from
    ``spec.freq_hz`` and exposed as ``cluster.clock`` for components sharing it.
    """

    kind = "cluster"

    def __init__(self, parent: Component, name: str, spec: ClusterSpec, mem: Any = None):
        if not isinstance(spec, ClusterSpec):
            raise SpecError(f"{name}: spec must be a ClusterSpec, got {type(spec).__name__}")
        super().__init__(parent, name, clock=Clock(name, int(spec.freq_hz)), spec=spec)
        self.mem = mem
        self.ctrl = Core(self, "ctrl")
        self.cores = [Core(self, f"core{i}") for i in range(spec.n_cores)]
        self._queue = JobQueue(self, "jobs", self._serve)
        self._idle_since: int | None = 0    # ps; None while a job runs
        self._slept_ps = 0                  # cluster sleep time of past idle gaps
        self._fp_extra_pj = 0.0             # FP kernels' energy above integer core cycles

    @property
    def area_mm2(self) -> float:
        """Silicon area of the cores and event unit (mm^2, see :class:`ClusterSpec`)."""
        return float(self.spec.area_mm2)

    @property
    def energy_pj(self) -> float:
        """Energy so far (pJ): the cores' busy cycles, plus :attr:`static_energy_pj`."""
        busy = sum(c.busy_ps for c in (self.ctrl, *self.cores))
        return (self.clock.cycles(busy) * self.spec.energy_pj_per_core_cycle
                + self._fp_extra_pj + self.static_energy_pj)

    @property
    def static_energy_pj(self) -> float:
        """Energy so far (pJ) of the cores while not computing: idle and asleep. A running
        job's core time counts as idle until the job books it (at its barrier)."""
        spec, now = self.spec, self.sim.now
        cores = (self.ctrl, *self.cores)
        asleep = self._slept_ps
        if self._idle_since is not None:
            asleep += self._sleep_ps(now - self._idle_since)
        idle = len(cores) * (now - asleep) - sum(c.busy_ps for c in cores)
        return (idle * spec.idle_power_uw + len(cores) * asleep * spec.sleep_power_uw) * 1e-6

    def _sleep_ps(self, gap: int) -> int:
        """The part of an idle gap of ``gap`` ps the cluster sleeps."""
        after = self.spec.sleep_after_cycles
        return max(0, gap - self.clock.ps(after)) if after else 0

    def submit(self, job: KernelJob | FpJob) -> simpy.Event:
        """Queue ``job``; the event succeeds with its :class:`JobTiming` when it is done."""
        if not isinstance(job, KernelJob | FpJob):
            raise SpecError(f"{self.path}: submit() takes a KernelJob or an FpJob, got "
                            f"{type(job).__name__}")
        return self._queue.put(job)

    def run(self, job: KernelJob | FpJob) -> Generator[simpy.Event, Any, JobTiming]:
        """Submit ``job`` and wait for it: ``timing = yield from cluster.run(job)``."""
        timing: JobTiming = yield self.submit(job)
        return timing

    def _serve(self, job: KernelJob | FpJob) -> Generator[simpy.Event, Any, JobTiming]:
        env, clock, spec = self.env, self.clock, self.spec
        eu = spec.event_unit
        k0 = clock.edge_index(env.now)
        t0 = clock.ps(k0)
        if t0 > env.now:
            yield env.timeout(t0 - env.now)
        started = self.begin()
        if self._idle_since is not None:
            self._slept_ps += self._sleep_ps(started - self._idle_since)
            self._idle_since = None
        ctrl = self.ctrl.begin()
        yield env.timeout(clock.ps(k0 + eu.fork_cycles) - t0)
        self.ctrl.end(ctrl, "ctrl", f"fork {job.label}", "sync")
        k_run = k0 + eu.fork_cycles + eu.wakeup_cycles
        t_run = clock.ps(k_run)
        yield env.timeout(t_run - env.now)
        works = spec.works(job)
        n_busy = sum(1 for w in works if w.items)
        work = [spec.work_cycles(w, n_busy) for w in works]
        rd = sum(w.read_bytes for w in works)
        wr = sum(w.write_bytes for w in works)
        if self.mem is not None:
            if rd:
                yield from l1_traffic(self.mem, job.in_addr, rd, False, self.path)
            if wr:
                yield from l1_traffic(self.mem, job.out_addr, wr, True, self.path)
        t_mem = clock.next_edge(env.now)
        t_last = max(clock.ps(k_run + max(work)), t_mem)
        if t_last > env.now:
            yield env.timeout(t_last - env.now)
        busy_ps = self._record_cores(job, works, work, k_run, t_mem)
        if isinstance(job, FpJob):  # floating-point cycles cost more than integer ones
            fp = spec.fp
            rate = fp.energy_pj_per_fp16_cycle if job.simd else fp.energy_pj_per_fp_cycle
            self._fp_extra_pj += clock.cycles(busy_ps) * (rate - spec.energy_pj_per_core_cycle)
        end = clock.ps(clock.edge_index(t_last) + eu.barrier_cycles)
        yield env.timeout(end - env.now)
        self.counters["jobs"] += 1
        self.counters["macs"] += job.macs
        self.counters["bytes_read"] += rd
        self.counters["bytes_written"] += wr
        if self._tracer is not None:
            self.end(started, "jobs", job.label, "compute",
                     {"op": job.op, "layer": job.layer, "tile": job.tile, "macs": job.macs,
                      "bytes": rd + wr, "cycles": clock.edge_index(end) - k0})
        else:
            self.end(started, "jobs", job.label, "compute")
        if job.compute is not None:
            job.compute(self)
        self._idle_since = end
        return JobTiming(t0, end)

    def _record_cores(self, job: KernelJob | FpJob, works: list[CoreWork], work: list[int],
                      k_run: int, t_mem: int) -> int:
        """Each busy core's interval: its compute, or its share of the memory time;
        returns the cores' busy time (ps)."""
        clock = self.clock
        t_run = clock.ps(k_run)
        most = max(w.read_bytes + w.write_bytes for w in works) or 1
        tracing = self._tracer is not None
        busy = 0
        for core, w, cycles in zip(self.cores, works, work, strict=True):
            if not w.items:
                continue
            mem_end = t_run + (t_mem - t_run) * (w.read_bytes + w.write_bytes) // most
            end = max(clock.ps(k_run + cycles), clock.next_edge(mem_end))
            core.counters["macs"] += w.macs
            args = None
            if tracing:
                args = {"op": job.op, "layer": job.layer, "tile": job.tile, "items": w.items,
                        "macs": w.macs, "cycles": clock.edge_index(end) - k_run}
            core.record(t_run, end, job.label, job.category or job.op, args)
            busy += end - t_run
        return busy
