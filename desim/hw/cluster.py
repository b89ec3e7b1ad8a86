"""The RISC-V cluster: worker cores, a controller core and an event unit, sharing L1.

A :class:`KernelJob` submitted to the cluster runs as (cycles of the cluster clock,
counted from the first clock edge at or after the job's start)::

    [0, fork)                      controller dispatches the job to the workers
    [fork, fork + wakeup)          the event unit wakes the workers
    core c busy for T_c            from fork + wakeup
    T_c      = max(work_c, L1 time of core c's traffic)
    work_c   = issue_c + ceil(accesses_c * l1_conflict_stall * (busy - 1))
    barrier  = fork + wakeup + max_c T_c, released barrier cycles later (job end)

``issue_c`` and ``accesses_c`` come from the per-op models in :mod:`desim.hw.cluster_ops`
(PULP-NN's kernels and work split); ``busy`` is the number of cores with work in the
job, so a lone core sees no bank conflicts. Core c's L1 traffic (``read_c`` then ``write_c``
bytes) goes through the memory's ``access`` as master ``core.path``, so a DMA stream
into the same memory and the cores share its ports; ``l1_conflict_stall`` adds the
stall cycles of TCDM bank conflicts that a bandwidth model does not see. Jobs run one
at a time, in submission order. Events per job: a few for the controller plus a few per
busy core (its process, one access per direction, one timeout), never per instruction.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import simpy

from desim.errors import SpecError
from desim.hw.cluster_ops import CoreWork, KernelCosts, split
from desim.hw.jobs import JobQueue, JobTiming, KernelJob
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
        8, ge=1, doc="worker cores",
        source="GVSoC pulp_open cluster.json: 8 workers + 1 cluster controller")
    freq_hz: float = param(
        370e6, unit="Hz", gt=0, le=1e12, doc="cluster clock frequency (cores, event unit, "
        "and any L1 or AIMC built on the cluster's clock)",
        source="GAP9 cluster at 370 MHz (DORY GAP9 target)")
    l1_conflict_stall: float = param(
        0.031, unit="cycles/access/core", ge=0, doc="average stall per core L1 access from "
        "TCDM bank conflicts, per other busy core",
        source="calibrated: 15.5 MAC/cycle on 8 cores for a 3x3 conv, 32 -> 64 channels, "
        "16x16 output (PULP-NN peak, Garofalo et al. 2020); see docs/models/cluster.md")
    event_unit: EventUnitSpec = subspec(EventUnitSpec)
    ops: KernelCosts = subspec(KernelCosts)

    def core_cycles(self, job: KernelJob) -> list[int]:
        """Each core's compute cycles for ``job`` (0 for idle cores), memory time aside."""
        works = split(job, self.ops, self.n_cores)
        busy = sum(1 for w in works if w.items)
        return [self.work_cycles(w, busy) for w in works]

    def job_cycles(self, job: KernelJob) -> int:
        """Cycles of ``job`` when L1 bandwidth is not the limit: sync costs + slowest core."""
        eu = self.event_unit
        return (eu.fork_cycles + eu.wakeup_cycles + max(self.core_cycles(job))
                + eu.barrier_cycles)

    def work_cycles(self, work: CoreWork, busy: int) -> int:
        """Cycles of one core's share when ``busy`` cores work on the job."""
        if not work.items:
            return 0
        stall = self.l1_conflict_stall * (busy - 1)
        return work.issue_cycles + math.ceil(work.accesses * stall)


class Core(Component):
    """One RISC-V core; its busy intervals are the kernel shares it runs."""

    kind = "core"


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
        super().__init__(parent, name, clock=Clock(name, spec.freq_hz), spec=spec)
        self.mem = mem
        self.ctrl = Core(self, "ctrl")
        self.cores = [Core(self, f"core{i}") for i in range(spec.n_cores)]
        self._queue = JobQueue(self, "jobs", self._serve)

    def submit(self, job: KernelJob) -> simpy.Event:
        """Queue ``job``; the event succeeds with its :class:`JobTiming` when it is done."""
        if not isinstance(job, KernelJob):
            raise SpecError(f"{self.path}: submit() takes a KernelJob, got "
                            f"{type(job).__name__}")
        return self._queue.put(job)

    def run(self, job: KernelJob) -> Generator[simpy.Event, Any, JobTiming]:
        """Submit ``job`` and wait for it: ``timing = yield from cluster.run(job)``."""
        timing: JobTiming = yield self.submit(job)
        return timing

    def _serve(self, job: KernelJob) -> Generator[simpy.Event, Any, JobTiming]:
        env, clock, spec = self.env, self.clock, self.spec
        eu = spec.event_unit
        k0 = clock.edge_index(env.now)
        t0 = clock.ps(k0)
        if t0 > env.now:
            yield env.timeout(t0 - env.now)
        started = self.begin()
        ctrl = self.ctrl.begin()
        yield env.timeout(clock.ps(k0 + eu.fork_cycles) - t0)
        self.ctrl.end(ctrl, "ctrl", f"fork {job.label}", "sync")
        k_run = k0 + eu.fork_cycles + eu.wakeup_cycles
        yield env.timeout(clock.ps(k_run) - env.now)
        works = split(job, spec.ops, spec.n_cores)
        n_busy = sum(1 for w in works if w.items)
        busy = [self.process(self._share(core, w, spec.work_cycles(w, n_busy), job, k_run),
                             core.name)
                for core, w in zip(self.cores, works, strict=True) if w.items]
        yield env.all_of(busy)
        end = clock.ps(clock.edge_index(env.now) + eu.barrier_cycles)
        yield env.timeout(end - env.now)
        self.counters["jobs"] += 1
        self.counters["macs"] += job.macs
        if self._tracer is not None:
            self.end(started, "jobs", job.label, "compute",
                     {"op": job.op, "layer": job.layer, "tile": job.tile, "macs": job.macs,
                      "cycles": clock.edge_index(end) - k0})
        else:
            self.end(started, "jobs", job.label, "compute")
        if job.compute is not None:
            job.compute(self)
        return JobTiming(t0, end)

    def _share(self, core: Core, work: CoreWork, cycles: int, job: KernelJob,
               k_run: int) -> Generator[simpy.Event, Any, None]:
        """One core's share: its L1 traffic, then the rest of its ``cycles``."""
        env, clock, mem = self.env, self.clock, self.mem
        started = core.begin()
        if mem is not None:
            if work.read_bytes:
                yield from mem.access(job.in_addr, work.read_bytes, False, core.path)
            if work.write_bytes:
                yield from mem.access(job.out_addr, work.write_bytes, True, core.path)
        end = max(clock.ps(k_run + cycles), clock.next_edge(env.now))
        if end > env.now:
            yield env.timeout(end - env.now)
        counters = core.counters
        counters["bytes_read"] += work.read_bytes
        counters["bytes_written"] += work.write_bytes
        counters["macs"] += work.macs
        if self._tracer is not None:
            core.end(started, "exec", job.label, job.op,
                     {"op": job.op, "layer": job.layer, "tile": job.tile, "items": work.items,
                      "macs": work.macs, "cycles": clock.edge_index(end) - k_run})
        else:
            core.end(started, "exec", job.label, job.op)
