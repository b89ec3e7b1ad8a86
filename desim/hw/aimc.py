"""Analog in-memory-computing crossbars behind streaming L1 interfaces (PULP IMA, HERMES).

An :class:`MvmJob` of ``n`` matrix-vector products using ``r`` rows and ``c`` columns
of one crossbar takes (cycles of the AIMC clock, period ``T``)::

    stream_in  = ceil(ceil(r * ceil(dac_bits / 8) / port_B) / l1_ports) + fifo_cycles
    stream_out = ceil(ceil(c * ceil(adc_bits / 8) / port_B) / l1_ports) + fifo_cycles
    compute    = floor((mvm_ns + (cols_per_adc - 1) * adc_conversion_ns) / T) + 1
    pipelined, n = 1:  stream_in + compute + stream_out
    pipelined, n > 1:  stream_in + max(compute, stream_in)
                       + (n - 2) * max(compute, stream_in + stream_out)
                       + max(compute, stream_out) + stream_out
    not pipelined:     n * (stream_in + compute + stream_out)

i.e. fill + n compute slots + drain, where a slot lasts as long as the longer of the
analog evaluation and the streaming it hides (stream-in of the next vector and
stream-out of the previous one share the interface's L1 ports, so they serialise, as
in GVSoC's IMA model). The batch's L1 traffic (``n`` input and ``n`` output vectors, in
whole port words) goes through the memory's ``access`` as one read and one write
(:func:`desim.hw.jobs.l1_traffic`), so it contends with other masters; the job ends at
the later of the closed form and its traffic. An MVM costs ``2 * r * c / tops_per_w`` pJ.

Weights are written one word of ``cells_per_write`` cells of a row per write access, as
GVSoC's IMA does (a 32-bit word of eight 4-bit cells per ``plot_write_ns``). Programming
an ``r x c`` block takes::

    access  = floor(program_write_ns / T) + 1                      (GVSoC's rounding)
    words   = ceil(c / cells_per_write)                             per row
    program = r * ceil(words / program_ports) * write_verify_iterations * access

cycles (32 us per 256-cell row, 8.2 ms per 256 x 256 array at the defaults), costs
``r * c * write_verify_iterations * devices_per_weight * program_pj_per_device`` pJ and
counts one write per row (endurance).

Crossbar ``k`` is served by interface ``k % n_interfaces``; each interface runs its jobs
one after another in submission order (the pipeline drains between jobs). With
``program_parallel`` a programming job holds its crossbar only, not the interface: the
crossbars of one interface program at the same time.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from desim.errors import DesimError, SpecError
from desim.hw.analog_write import AnalogWriteSpec
from desim.hw.jobs import JobQueue, JobTiming, MvmJob, ProgramJob, l1_traffic
from desim.kernel import Clock, Component
from desim.kernel.clock import PS_PER_S
from desim.spec import Spec, param, subspec

_IMA = "GVSoC IMA model (gvsoc-pulp models/pulp/ima, commit 601e0f8)"
_HERMES = "IBM HERMES core (Khaddam-Aljameh et al., JSSC 2022)"


@dataclass(frozen=True)
class AimcSpec(Spec):
    """Analog crossbars and their streaming interfaces to L1."""

    rows: int = param(256, ge=1, le=4096, doc="crossbar rows (input vector length); at most "
                      "4096, well above the largest published array (DIANA, 1152 x 512)",
                      source=f"{_IMA}; {_HERMES}: 256 x 256")
    cols: int = param(256, ge=1, le=4096, doc="crossbar columns (outputs); at most 4096",
                      source=f"{_IMA}; {_HERMES}: 256 x 256")
    weight_bits: int = param(4, unit="bit", ge=1, le=16, doc="weight precision",
                             source=f"{_IMA}: 4-bit signed weights")
    dac_bits: int = param(8, unit="bit", ge=1, le=16, doc="input (DAC) precision",
                          source=f"{_IMA}: 8-bit DAC")
    adc_bits: int = param(8, unit="bit", ge=1, le=16, doc="output (ADC) precision",
                          source=f"{_IMA}: 8-bit ADC")
    cols_per_adc: int = param(1, ge=1, doc="columns sharing one ADC (conversions in series)",
                              source=f"{_HERMES}: one ADC per column")
    mvm_ns: float = param(130.0, unit="ns", gt=0, doc="one MVM with one ADC per column",
                          source=f"{_IMA}: eval_ns = 130, from HERMES silicon")
    adc_conversion_ns: float = param(
        2.0, unit="ns", ge=0, doc="one ADC conversion; each extra column sharing an ADC "
        "adds one", source=f"derived: 130 ns MVM - 128 ns 8-bit PWM integration ({_HERMES})")
    program_write_ns: float = param(
        1000.0, unit="ns", gt=0, doc="one write access: programs cells_per_write cells of a row",
        source=f"{_IMA}: plot_write_ns = 1000 per write access")
    cells_per_write: int = param(
        8, ge=1, doc="cells (weights) one write access programs",
        source=f"{_IMA}: one 32-bit word of eight 4-bit cells per access (exec_write_plot "
        "advances 8 cells)")
    program_ports: int = param(
        1, ge=1, doc="write accesses one crossbar serves at once (words of a row written "
        "together)", source=f"{_IMA}: one write port, one access at a time")
    program_parallel: bool = param(
        False, doc="the crossbars of one interface program at the same time (False: their "
        "programming jobs queue on the interface)",
        source=f"assumed, after the {_IMA}: one write port per interface")
    write_verify_iterations: int = param(
        1, ge=1, doc="write accesses per word (program-and-verify rounds)",
        source=f"{_IMA}: one access per word")
    n_crossbars: int = param(
        1, ge=1, le=1024, doc="crossbars; at most 1024, sixteen times the 64 cores of IBM's "
        "64-core PCM chip (Le Gallo et al., Nature Electronics 2023)",
        source="one IMA per cluster (Garofalo et al., JETCAS 2022)")
    n_interfaces: int = param(
        1, ge=1, doc="streaming interfaces (jobs on one interface run in series)",
        source="Garofalo et al., JETCAS 2022: MobileNetV2 bin-packed into 34 crossbars "
        "behind one IMA interface")
    l1_ports: int = param(32, ge=1, doc="L1 master ports of an interface",
                          source=f"{_IMA}: 32 ports")
    port_bits: int = param(32, unit="bit", ge=8, doc="width of an L1 port",
                           source=f"{_IMA}: 32-bit ports")
    fifo_cycles: int = param(2, unit="cycles", ge=0, doc="streamer FIFO latency per stream",
                             source=f"{_IMA}: +2 cycles for the streamer FIFOs")
    pipelined: bool = param(True, doc="stream-in of the next MVM overlaps the current one",
                            source=f"{_IMA}: EXEC_PIPELINED")
    tops_per_w: float = param(10.5, unit="TOPS/W", gt=0, doc="energy efficiency of an MVM",
                              source=f"{_HERMES}: 10.5 TOPS/W, 12.5 nJ per 256 x 256 MVM")
    devices_per_weight: int = param(2, ge=1, doc="PCM devices per weight",
                                    source=f"{_IMA}: signed weights as device pairs")
    program_pj_per_device: float = param(
        100.0, unit="pJ", ge=0, doc="energy to program one device in one write access "
        "(the access's program-and-verify pulses)",
        source="assumed: ~10 program-and-verify pulses of ~10 pJ (PCM RESET-class energy) "
        "within a 1000 ns access; no per-device figure is published for HERMES")
    crossbar_area_mm2: float = param(
        0.83, unit="mm^2", ge=0, doc="area of one 256 x 256 crossbar with its DACs, ADCs "
        "and streaming interface; other sizes scale with rows x cols",
        source="Garofalo et al., JETCAS 2022: a 256 x 256 IMA of about 0.83 mm^2 (PCM "
        "crossbar with its periphery)")
    write: AnalogWriteSpec = subspec(
        AnalogWriteSpec, doc="devices and write periphery of in-array weight updates "
        "(desim train --aimc-training)")

    def validate(self) -> None:
        if self.port_bits % 8:
            raise SpecError(f"port_bits must be a multiple of 8, got {self.port_bits}")
        if self.cols_per_adc > self.cols:
            raise SpecError(f"cols_per_adc ({self.cols_per_adc}) must be <= cols "
                            f"({self.cols}); set at most one ADC per column group")
        if self.n_interfaces > self.n_crossbars:
            raise SpecError(f"n_interfaces ({self.n_interfaces}) must be <= n_crossbars "
                            f"({self.n_crossbars})")

    # -- timing (cycles) ---------------------------------------------------------------

    def in_words(self, rows: int) -> int:
        """Port words holding one input vector of ``rows`` elements."""
        return -(-rows * -(-self.dac_bits // 8) // (self.port_bits // 8))

    def out_words(self, cols: int) -> int:
        """Port words holding one output vector of ``cols`` elements."""
        return -(-cols * -(-self.adc_bits // 8) // (self.port_bits // 8))

    def stream_in_cycles(self, rows: int) -> int:
        return -(-self.in_words(rows) // self.l1_ports) + self.fifo_cycles

    def stream_out_cycles(self, cols: int) -> int:
        return -(-self.out_words(cols) // self.l1_ports) + self.fifo_cycles

    def compute_cycles(self, clock: Clock) -> int:
        """Analog evaluation, ADC sharing included, rounded as GVSoC does (floor + 1)."""
        ns = self.mvm_ns + (self.cols_per_adc - 1) * self.adc_conversion_ns
        return round(ns * 1000) * clock.freq_hz // PS_PER_S + 1

    def batch_cycles(self, rows: int, cols: int, n: int, clock: Clock) -> int:
        """Cycles of ``n`` MVMs of ``rows x cols`` run as one job (module formulas)."""
        s_in, s_out = self.stream_in_cycles(rows), self.stream_out_cycles(cols)
        comp = self.compute_cycles(clock)
        if not self.pipelined:
            return n * (s_in + comp + s_out)
        if n == 1:
            return s_in + comp + s_out
        return (s_in + max(comp, s_in) + (n - 2) * max(comp, s_in + s_out)
                + max(comp, s_out) + s_out)

    def write_access_cycles(self, clock: Clock) -> int:
        """One write access, rounded as GVSoC rounds latencies (floor + 1)."""
        return round(self.program_write_ns * 1000) * clock.freq_hz // PS_PER_S + 1

    def program_cycles(self, rows: int, cols: int, clock: Clock) -> int:
        """Cycles to program a ``rows x cols`` block (module formulas)."""
        words = -(-cols // self.cells_per_write)
        return (rows * -(-words // self.program_ports) * self.write_verify_iterations
                * self.write_access_cycles(clock))

    # -- energy (pJ) -------------------------------------------------------------------

    def mvm_energy_pj(self, rows: int, cols: int) -> float:
        """One MVM over ``rows x cols`` cells: 2 * rows * cols ops at tops_per_w."""
        return 2 * rows * cols / self.tops_per_w

    def program_energy_pj(self, rows: int, cols: int) -> float:
        """Every cell's devices written once per program-and-verify round."""
        return (rows * cols * self.write_verify_iterations * self.devices_per_weight
                * self.program_pj_per_device)

    def peak_ops_per_s(self) -> float:
        """2 * rows * cols operations every mvm_ns (1.008 TOPS at the defaults)."""
        return 2 * self.rows * self.cols / (self.mvm_ns * 1e-9)


class Crossbar(Component):
    """One analog array: which weights it holds, and how often each row was written."""

    kind = "crossbar"

    def __init__(self, parent: Component, name: str, spec: AimcSpec):
        super().__init__(parent, name, spec=spec)
        #: writes per row since construction (PCM endurance)
        self.row_writes = np.zeros(spec.rows, dtype=np.int64)
        self.energy_pj = 0.0
        self._regions: dict[str, tuple[int, int, int, int]] = {}
        self._weights: dict[str, Any] = {}

    @property
    def writes(self) -> int:
        """Row writes in total."""
        return int(self.row_writes.sum())

    @property
    def tags(self) -> tuple[str, ...]:
        """Tags of the weights the array holds now."""
        return tuple(self._regions)

    def holds(self, tag: str) -> bool:
        """True when weights ``tag`` are programmed and not overwritten since."""
        return tag in self._regions

    def region(self, tag: str) -> tuple[int, int, int, int]:
        """``(row0, rows, col0, cols)`` of weights ``tag``."""
        return self._regions[tag]

    def weights(self, tag: str) -> Any:
        """The payload programmed with ``tag`` (None in timing runs)."""
        return self._weights.get(tag)

    def preload(self, job: ProgramJob) -> None:
        """Program weights before the simulated run (at deployment): the rows count as
        written, no simulated time passes."""
        self._evict(job)
        self._store(job)

    def _evict(self, job: ProgramJob) -> None:
        """Forget every tag whose cells the programming of ``job`` overwrites."""
        for tag, (r0, nr, c0, nc) in list(self._regions.items()):
            if (r0 < job.row0 + job.rows and job.row0 < r0 + nr
                    and c0 < job.col0 + job.cols and job.col0 < c0 + nc):
                del self._regions[tag]
                self._weights.pop(tag, None)

    def _store(self, job: ProgramJob) -> None:
        self.row_writes[job.row0:job.row0 + job.rows] += 1
        self._regions[job.tag] = (job.row0, job.rows, job.col0, job.cols)
        if job.weights is not None:
            self._weights[job.tag] = job.weights
        if self._tracer is not None:  # fraction of the cells holding weights
            used = sum(nr * nc for _, nr, _, nc in self._regions.values())
            self._tracer.counter(self.path, "occupancy", self.sim.now,
                                 used / (self.spec.rows * self.spec.cols))


class Aimc(Component):
    """``spec.n_crossbars`` crossbars behind ``spec.n_interfaces`` streaming interfaces.

    ``mem`` implements ``access(addr, nbytes, write, master)`` (the L1 ``Sram``); with
    ``mem=None`` streaming is bounded by the closed form only. The clock is the parent's
    (the cluster's) unless given.
    """

    kind = "aimc"

    def __init__(self, parent: Component, name: str, spec: AimcSpec, mem: Any = None,
                 clock: Clock | None = None):
        if not isinstance(spec, AimcSpec):
            raise SpecError(f"{name}: spec must be an AimcSpec, got {type(spec).__name__}")
        super().__init__(parent, name, clock=clock, spec=spec)
        self.mem = mem
        self.energy_pj = 0.0
        self.crossbars = [Crossbar(self, f"xbar{i}", spec) for i in range(spec.n_crossbars)]
        self._masters = [f"{self.path}.if{k}" for k in range(spec.n_interfaces)]
        self._queues = [JobQueue(self, f"if{k}", self._serve)
                        for k in range(spec.n_interfaces)]
        #: with program_parallel, each crossbar's programming jobs queue on their own
        self._writers = [JobQueue(self, f"{x.name}.write", self._serve)
                         for x in self.crossbars] if spec.program_parallel else []

    @property
    def area_mm2(self) -> float:
        """Silicon area of all crossbars with their periphery (mm^2): each
        ``crossbar_area_mm2 * rows * cols / 256^2``."""
        s = self.spec
        return s.n_crossbars * s.crossbar_area_mm2 * s.rows * s.cols / (256 * 256)

    def submit(self, job: MvmJob | ProgramJob) -> simpy.Event:
        """Queue ``job`` on its crossbar's interface (a programming job with
        ``program_parallel``: on its crossbar; wait for it before an MVM on its weights);
        the event succeeds with its :class:`JobTiming`. A job that does not fit the array
        raises :class:`SpecError`."""
        if not isinstance(job, MvmJob | ProgramJob):
            raise SpecError(f"{self.path}: submit() takes an MvmJob or a ProgramJob, got "
                            f"{type(job).__name__}")
        self._check_fits(job)
        if self._writers and isinstance(job, ProgramJob):
            return self._writers[job.crossbar].put(job)
        return self._queues[job.crossbar % self.spec.n_interfaces].put(job)

    def run(self, job: MvmJob | ProgramJob) -> Generator[simpy.Event, Any, JobTiming]:
        """Submit ``job`` and wait for it: ``timing = yield from aimc.run(job)``."""
        timing: JobTiming = yield self.submit(job)
        return timing

    def batch_cycles(self, rows: int, cols: int, n: int) -> int:
        """Cycles of ``n`` pipelined MVMs of ``rows x cols`` on this AIMC's clock."""
        return self.spec.batch_cycles(rows, cols, n, self.clock)

    def program_cycles(self, rows: int, cols: int) -> int:
        """Cycles to program a ``rows x cols`` block on this AIMC's clock."""
        return self.spec.program_cycles(rows, cols, self.clock)

    def _check_fits(self, job: MvmJob | ProgramJob) -> None:
        spec = self.spec
        kind = type(job).__name__
        if job.crossbar >= spec.n_crossbars:
            raise SpecError(f"{kind}.crossbar = {job.crossbar}, but {self.path} has "
                            f"{spec.n_crossbars} crossbar(s) (0..{spec.n_crossbars - 1}); "
                            "raise aimc.n_crossbars or map the job to an existing one")
        for what, start, size, limit in (("rows", job.row0, job.rows, spec.rows),
                                         ("cols", job.col0, job.cols, spec.cols)):
            if start + size > limit:
                first = "row0" if what == "rows" else "col0"
                raise SpecError(
                    f"{kind} '{job.label}' needs {what} [{start}, {start + size}) but a "
                    f"crossbar has {limit} {what}; split it into parts of at most {limit} "
                    f"{what} (or lower {first})")

    def _serve(self, job: MvmJob | ProgramJob) -> Generator[simpy.Event, Any, JobTiming]:
        env, clock = self.env, self.clock
        k0 = clock.edge_index(env.now)
        t0 = clock.ps(k0)
        if t0 > env.now:
            yield env.timeout(t0 - env.now)
        xbar = self.crossbars[job.crossbar]
        iface = job.crossbar % self.spec.n_interfaces
        if isinstance(job, ProgramJob):
            yield from self._program(job, xbar, iface, k0)
        else:
            yield from self._mvm(job, xbar, iface, k0)
        return JobTiming(t0, self.sim.now)

    def _mvm(self, job: MvmJob, xbar: Crossbar, iface: int,
             k0: int) -> Generator[simpy.Event, Any, None]:
        env, clock, spec = self.env, self.clock, self.spec
        if job.tag is not None and not xbar.holds(job.tag):
            held = ", ".join(xbar.tags) or "no weights"
            raise DesimError(f"{xbar.path} holds {held}, not '{job.tag}' needed by "
                             f"'{job.label}': submit a ProgramJob for it first")
        cycles = spec.batch_cycles(job.rows, job.cols, job.n_mvm, clock)
        port_b = spec.port_bits // 8
        rd = job.n_mvm * spec.in_words(job.rows) * port_b
        wr = job.n_mvm * spec.out_words(job.cols) * port_b
        started, busy = self.begin(), xbar.begin()
        if self.mem is not None:
            yield from l1_traffic(self.mem, job.in_addr, rd, False, self._masters[iface])
            yield from l1_traffic(self.mem, job.out_addr, wr, True, self._masters[iface])
        end = max(clock.ps(k0 + cycles), clock.next_edge(env.now))
        if end > env.now:
            yield env.timeout(end - env.now)
        energy = job.n_mvm * spec.mvm_energy_pj(job.rows, job.cols)
        xbar.energy_pj += energy
        self.energy_pj += energy
        xbar.counters["mvms"] += job.n_mvm
        xbar.counters["macs"] += job.macs
        self.counters["bytes_read"] += rd
        self.counters["bytes_written"] += wr
        self.counters["jobs"] += 1
        if self._tracer is not None:
            args = {"layer": job.layer, "tile": job.tile, "n_mvm": job.n_mvm,
                    "rows": job.rows, "cols": job.cols, "energy_pj": energy,
                    "cycles": clock.edge_index(end) - k0}
            xbar.end(busy, "mvm", job.label, "aimc", args)
            self.end(started, f"if{iface}", job.label, "aimc", args)
        else:
            xbar.end(busy, "mvm", job.label, "aimc")
            self.end(started, f"if{iface}", job.label, "aimc")
        if job.compute is not None:
            job.compute(xbar)

    def _program(self, job: ProgramJob, xbar: Crossbar, iface: int,
                 k0: int) -> Generator[simpy.Event, Any, None]:
        env, clock, spec = self.env, self.clock, self.spec
        xbar._evict(job)  # the old cells are gone as soon as writing starts
        cycles = spec.program_cycles(job.rows, job.cols, clock)
        lane = f"{xbar.name} write" if self._writers else f"if{iface}"
        rd = math.ceil(job.rows * job.cols * spec.weight_bits / 8)
        started, busy = self.begin(), xbar.begin()
        if self.mem is not None and job.src_addr is not None:
            yield from l1_traffic(self.mem, job.src_addr, rd, False, self._masters[iface])
            self.counters["bytes_read"] += rd
        end = max(clock.ps(k0 + cycles), clock.next_edge(env.now))
        if end > env.now:
            yield env.timeout(end - env.now)
        xbar._store(job)
        energy = spec.program_energy_pj(job.rows, job.cols)
        xbar.energy_pj += energy
        self.energy_pj += energy
        xbar.counters["row_writes"] += job.rows
        self.counters["programs"] += 1
        if self._tracer is not None:
            args = {"tag": job.tag, "layer": job.layer, "rows": job.rows, "cols": job.cols,
                    "energy_pj": energy, "cycles": clock.edge_index(end) - k0}
            xbar.end(busy, "program", job.label, "program", args)
            self.end(started, lane, job.label, "program", args)
        else:
            xbar.end(busy, "program", job.label, "program")
            self.end(started, lane, job.label, "program")
