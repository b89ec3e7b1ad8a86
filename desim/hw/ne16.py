"""NE16-class convolution engine: subtile jobs timed by their phases, on one L1 port.

NE16 (pulp-platform/ne16) computes a 3x3 output patch of up to 32 output channels (16 in
depthwise mode) per pass, reading the input in 16-channel slices; that patch is one job
here (:class:`Subtile`). A job runs in three phases, in cycles of the engine's clock
(the cluster's), with ``qw`` the weight bits, ``s`` the 16-channel input slices, ``k``
the output channels, ``P`` the output pixels stored and ``B`` the L1 port's bytes per
cycle. The default timing is GVSoC's NE16 model (``timing="gvsoc"``)::

    stream-in   1 + s * (6 + L * ceil(16 / B) + h + mv + x)           job start, per slice
                L = 25 (3x3, depthwise: 5x5 input buffer), 9 (1x1: 3x3)
                h = 6 (3x3), 10 (1x1), 22 (depthwise)                  load -> matrix-vector
                mv = k * qw (3x3, bit-serial), k (1x1), 16 * qw (depthwise, one lane at a time)
                x = 6 (3x3, 1x1), 0 (depthwise)                        matrix-vector exit
    normquant   [1, per-channel shift] + ceil(k / 4) + [ceil(k / 8), with bias]
    stream-out  P * ceil(k / B) + 1                                    stores, job end

DORY's analytical model (``timing="dory"``, ``Ne16PerfModel.py``) instead charges::

    stream-in   s * (load + 6 + [k, depthwise] + mv + 6 + 2)       depthwise: s = 1
                load = 10 + 9 * ceil(16 / B) (1x1), 6 + 25 * ceil(16 / B) (3x3, depthwise)
                mv = k (1x1), k * qw (3x3, depthwise)
    normquant   [ceil(k / 4), per-channel shift] + 9 + ceil(k / 4) + [8 + ceil(k / 8), bias]
    stream-out  3 + P * ceil(k / B) + 1

GVSoC's is the default because it is a cycle-level model of the RTL's controller,
streamer and accumulators; DORY's is the tiler's estimate (it fixes ``qw`` at 8 and
rounds the FIFO latencies to 6). At stride 2 a patch is still computed at stride 1 and 4
of its 9 outputs are stored (``P <= 4``). Bytes a job moves through L1::

    read   s * L * 16  +  weights  +  k * (1 + [4, bias] + [1, per-channel shift])
           weights = s * k * qw * 18 (3x3), s * k * qw * 2 (1x1), qw * 18 (depthwise)
    write  P * k                                                     8-bit outputs

The reads go through the memory's ``access`` in one access from the start of the job, the
writes from the start of stream-out, as one master (the engine), so they contend with the
cores and the DMA: stream-in and normquant end at the later of their cycles and the reads,
the job at the later of stream-out and the writes. Alone on an L1 of 64 B/cycle the
cycles always bind (NE16 moves at most 32 B/cycle).

Jobs are programmed by a core (``program_cycles`` of its time, into one of NE16's two
register contexts) and run one after another in submission order; a context is held from
the start of its job's programming to the job's end, so job ``j + 1`` is programmed while
job ``j`` runs. A tile of ``n`` jobs of ``J_j`` cycles thus takes
``program + sum_{j < n-1} max(J_j, program) + J_{n-1}``. A handful of events per job.

Energy: the job's MACs x ``energy_pj_per_mac`` x ``qw / 8`` (bit-serial products); the
memory counts its access energy, the core its programming time.

The normquant unit's arithmetic (:func:`normquant`, :func:`scales`): ``y = clamp(zp +
floor((acc * m + 2^(n-1)) / 2^n))``, ``acc`` the int32 accumulator with the bias, ``m``
an 8-bit scale and ``n`` a shift per channel (or per layer); the output zero point and
the rounding are folded into NE16's 32-bit bias, and the sum saturates to int32.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import simpy

from desim.errors import SpecError
from desim.hw.jobs import JobQueue, JobTiming, l1_traffic
from desim.kernel import Clock, Component
from desim.spec import Spec, param

_RTL = "pulp-platform/ne16 RTL (commit 6bd7272)"
_GVSOC = "GVSoC NE16 model (gvsoc-pulp pulp/ne16, commit c309b6c)"
_DORY = "DORY Ne16PerfModel.py (pulp-platform/dory, commit be3d6dd)"

#: job shapes: 3x3 and 1x1 dense convolutions, 3x3 depthwise
MODES = ("3x3", "1x1", "dw")
#: register contexts: one job programmed while another runs (ne16_ctrl.sv)
CONTEXTS = 2
#: input channels per pass, and output channels per dense (and depthwise) pass
SLICE, DENSE_K, DW_K = 16, 32, 16
#: 8-bit normquant scales, in bits
SCALE_BITS = 8


@dataclass(frozen=True)
class Ne16Spec(Spec):
    """An NE16-class convolution engine on the cluster clock, computing out of L1."""

    weight_bits: int = param(
        8, unit="bit", ge=2, le=8, doc="weight precision: 3x3 and depthwise filters take "
        "one matrix-vector cycle per weight bit (bit-serial), 1x1 filters one for any width",
        source=f"{_RTL} README: weights of 2 to 8 bits; {_GVSOC} ne16_matrixvec.cpp")
    timing: str = param(
        "gvsoc", choices=("gvsoc", "dory"),
        doc="per-subtile phase costs: GVSoC's cycle-level model or DORY's analytical one",
        source=f"{_GVSOC}, the cycle-level model of the RTL; {_DORY} the tiler's estimate")
    port_bytes_per_cycle: int = param(
        32, unit="B/cycle", ge=1, doc="usable width of the L1 master port, shared by loads "
        "and stores", source=f"{_RTL} ne16_package.sv: a 288-bit port of 9 32-bit TCDM "
        "ports, 32 B/cycle usable; DORY's memory throughput of 256 bit/cycle")
    per_channel_shift: bool = param(
        True, doc="normquant shifts each output channel by its own amount (else one shift "
        "per layer)",
        source="assumed: TFLite's per-channel multipliers keep 8-bit precision only with a "
        f"shift per channel; the RTL has both ({_RTL} ne16_accumulator_normquant.sv)")
    program_cycles: int = param(
        45, unit="cycles", ge=0, doc="core cycles to program one job (acquire a context, "
        "24 register writes, trigger)",
        source="assumed: the middle of a 30-60 core-cycle estimate of pulp-nnx's acquire, "
        "24 register writes and trigger (ne16.c); no published count")
    energy_pj_per_mac: float = param(
        0.143, unit="pJ/MAC", ge=0, doc="energy of one MAC at 8-bit weights (bit-serial: "
        "times weight_bits / 8)",
        source="assumed: a 22 nm digital int8 array as DIANA's (Ueyoshi et al., ISSCC 2022: "
        "14 TOPS/W, 2/14 pJ per MAC); no NE16 energy figure is published")
    arithmetic: str = param(
        "tflite", choices=("tflite", "ne16"),
        doc="functional runs: tflite = TFLite's requantisation, bit-exact with the cores; "
        "ne16 = NE16's normquant (8-bit scales, shifts, rounding half up)",
        source="user choice: TFLite's requantisation is what the cores compute; NE16's "
        "differs by rounding (docs/models/ne16.md)")
    area_mm2: float = param(
        0.162, unit="mm^2", ge=0, doc="silicon area of the engine (datapath, buffers, "
        "streamer, controller)",
        source="assumed: no NE16 area is published; its 162 MAC/cycle 3x3 peak at 8-bit "
        "weights x 0.001 mm^2 per MAC lane in 22 nm (as DepthwiseSpec and MacArraySpec)")


@dataclass(frozen=True)
class Subtile:
    """The shape of one job: a patch of ``pixels`` stored outputs x ``k`` channels,
    reading ``slices`` 16-channel input slices (depthwise: one)."""

    mode: str
    k: int
    slices: int = 1
    pixels: int = 9
    bias: bool = True

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise SpecError(f"Subtile.mode must be one of {', '.join(MODES)}, got "
                            f"{self.mode!r}")
        top = DW_K if self.mode == "dw" else DENSE_K
        if not 1 <= self.k <= top:
            raise SpecError(f"Subtile.k must be in [1, {top}] for mode {self.mode}, got "
                            f"{self.k}")
        if not 1 <= self.pixels <= 9 or self.slices < 1 or (self.mode == "dw"
                                                              and self.slices != 1):
            raise SpecError(f"Subtile: pixels must be in [1, 9] and slices >= 1 (1 in "
                            f"depthwise mode), got {self.pixels} and {self.slices}")


class Phases(NamedTuple):
    """A job's cycles per phase and the bytes it reads and writes in L1."""

    stream_in: int
    normquant: int
    stream_out: int
    in_bytes: int
    weight_bytes: int
    nq_bytes: int
    out_bytes: int

    @property
    def cycles(self) -> int:
        return self.stream_in + self.normquant + self.stream_out


def phases(spec: Ne16Spec, s: Subtile) -> Phases:
    """The phases of job ``s`` (the module docstring's formulas)."""
    qw, port, k = spec.weight_bits, spec.port_bytes_per_cycle, s.k
    dw, one = s.mode == "dw", s.mode == "1x1"
    beat = -(-SLICE // port)  # cycles per 16-byte input pixel
    px_in = 9 if one else 25
    store = s.pixels * -(-k // port)
    shift = spec.per_channel_shift
    if spec.timing == "gvsoc":
        mv = k if one else (DW_K if dw else k) * qw
        per = 6 + px_in * beat + (10 if one else 22 if dw else 6) + mv + (0 if dw else 6)
        stream_in = 1 + s.slices * per
        normquant = int(shift) + -(-k // 4) + (-(-k // 8) if s.bias else 0)
        stream_out = store + 1
    else:
        load = 10 + 9 * beat if one else 6 + 25 * beat
        per = load + 6 + (k if dw else 0) + 6 + (k if one else k * qw) + 2
        stream_in = s.slices * per
        normquant = ((-(-k // 4) if shift else 0) + 9 + -(-k * (SCALE_BITS // 8) // 4)
                     + (8 + -(-k // 8) if s.bias else 0))
        stream_out = 3 + store + 1
    plane = 2 if one else 18  # one weight bit of 16 input channels: 1 or 9 taps, in bytes
    weights = qw * plane * (1 if dw else s.slices * k)
    nq = k * (SCALE_BITS // 8 + (4 if s.bias else 0) + int(shift))
    return Phases(stream_in, normquant, stream_out, s.slices * px_in * SLICE, weights, nq,
                  s.pixels * k)


def queued_cycles(program: int, jobs: list[tuple[int, int]], last: int) -> int:
    """Cycles of a tile whose jobs take ``J`` cycles ``n`` times for each ``(J, n)`` of
    ``jobs``, the last to run taking ``last``, with ``program`` cycles of programming per
    job overlapped by the second context (the module docstring's formula)."""
    total = program + sum(n * max(j, program) for j, n in jobs)
    return total - max(last, program) + last


@dataclass(frozen=True)
class Ne16Job:
    """One job: a :class:`Subtile` of a tile, its MACs and its L1 operands."""

    shape: Subtile
    macs: int = 0
    in_addr: int = 0
    w_addr: int = 0
    out_addr: int = 0
    name: str = ""
    layer: str = ""
    tile: int | None = None

    @property
    def label(self) -> str:
        return self.name or f"ne16 {self.shape.mode}"


class _Queued(NamedTuple):
    job: Ne16Job
    done: simpy.Event

    @property
    def label(self) -> str:
        return self.job.label


class Ne16(Component):
    """Runs :class:`Ne16Job` s programmed by ``programmer`` (a core; None: programming
    takes time only); their L1 traffic goes to ``mem`` (None: never memory-bound)."""

    kind = "engine"

    def __init__(self, parent: Component, name: str, spec: Ne16Spec, mem: Any = None,
                 programmer: Component | None = None, clock: Clock | None = None):
        super().__init__(parent, name, clock, spec)
        self.mem = mem
        self.programmer = programmer
        self.energy_pj = 0.0
        self._free = CONTEXTS
        self._freed: simpy.Event | None = None
        self._phases: dict[Subtile, Phases] = {}
        self._program = JobQueue(self, "program", self._serve_program)
        self._run = JobQueue(self, "run", self._serve_run)

    @property
    def area_mm2(self) -> float:
        """Silicon area of the engine (mm^2, see :class:`Ne16Spec`)."""
        return float(self.spec.area_mm2)

    def phases(self, s: Subtile) -> Phases:
        """:func:`phases` of ``s`` under this engine's spec (cached)."""
        p = self._phases.get(s)
        if p is None:
            p = self._phases[s] = phases(self.spec, s)
        return p

    def submit(self, job: Ne16Job) -> simpy.Event:
        """Queue ``job`` for programming; the event succeeds with its :class:`JobTiming`
        when it has run."""
        if not isinstance(job, Ne16Job):
            raise SpecError(f"{self.path}: submit() takes an Ne16Job, got "
                            f"{type(job).__name__}")
        done = self.sim.event(f"{job.label} on {self.path}")
        self._program.hand(_Queued(job, done))
        return done

    def run(self, job: Ne16Job) -> Generator[simpy.Event, Any, JobTiming]:
        """Submit ``job`` and wait for it: ``timing = yield from ne16.run(job)``."""
        timing: JobTiming = yield self.submit(job)
        return timing

    def _serve_program(self, q: _Queued) -> Generator[simpy.Event, Any, None]:
        """Program ``q`` into a free context, on the programming core's time."""
        env = self.env
        if not self._free:
            self._freed = env.event()
            yield self._freed
        self._free -= 1
        cycles = self.spec.program_cycles
        if cycles:
            core = self.programmer
            start = core.begin() if core is not None else 0
            yield env.timeout(self.clock.ps(cycles))
            if core is not None:
                core.end(start, "ne16", f"program {q.label}", "setup")
        self._run.hand(q)

    def _serve_run(self, q: _Queued) -> Generator[simpy.Event, Any, None]:
        env, clock, job = self.env, self.clock, q.job
        ph = self.phases(job.shape)
        k = clock.edge_index(env.now)
        t0 = clock.ps(k)
        if t0 > env.now:
            yield env.timeout(t0 - env.now)
        started = self.begin()
        reads = ph.in_bytes + ph.weight_bytes + ph.nq_bytes
        yield from self._phase(k, ph.stream_in + ph.normquant, job.in_addr, reads, False)
        end = yield from self._phase(clock.edge_index(env.now), ph.stream_out, job.out_addr,
                                     ph.out_bytes, True)
        macs = job.macs
        self.counters["jobs"] += 1
        self.counters["macs"] += macs
        self.counters["bytes_read"] += reads
        self.counters["bytes_written"] += ph.out_bytes
        self.energy_pj += macs * self.spec.energy_pj_per_mac * self.spec.weight_bits / 8
        if self._tracer is not None:
            self.end(started, "jobs", job.label, "compute",
                     {"layer": job.layer, "tile": job.tile, "mode": job.shape.mode,
                      "macs": macs, "cycles": clock.edge_index(end) - k})
        else:
            self.end(started, "jobs", job.label, "compute")
        self._free += 1
        freed = self._freed
        if freed is not None and not freed.triggered:
            freed.succeed()
        q.done.succeed(JobTiming(t0, end))

    def _phase(self, k: int, cycles: int, addr: int, nbytes: int, write: bool
               ) -> Generator[simpy.Event, Any, int]:
        """A phase of ``cycles`` from edge ``k`` whose ``nbytes`` of traffic (one access
        from ``addr``) move from its start; it ends (returns the time) at the later of the
        two, on a clock edge."""
        env, clock = self.env, self.clock
        if self.mem is not None:
            yield from l1_traffic(self.mem, addr, nbytes, write, self.path)
        end = max(clock.ps(k + cycles), clock.next_edge(env.now))
        if end > env.now:
            yield env.timeout(end - env.now)
        return end


# -- the normquant unit's arithmetic ---------------------------------------------------

def scales(multiplier: np.ndarray, shift: np.ndarray, bias: np.ndarray | None,
           zero_point: int, per_channel: bool) -> tuple[np.ndarray, np.ndarray]:
    """NE16's 8-bit scales ``m`` and shifts ``n`` for TFLite's fixed-point multipliers
    ``M = q * 2^(shift - 31)``, ``m = round(M * 2^n)`` (halves up): per channel, the largest
    ``n`` in [0, 31] whose ``m`` is below 2^8 and whose folded bias ``bias * m + (zp + 128) *
    2^n + 2^(n-1)`` fits NE16's 32-bit bias register; per layer, the smallest of those over
    the channels whose ``M`` is not 0."""
    q = np.asarray(multiplier, np.int64)
    e = np.asarray(shift, np.int64) - 31
    b = np.zeros_like(q) if bias is None else np.asarray(bias, np.int64)
    best = np.zeros_like(q)
    for n in range(32):  # m and the folded bias grow with n: keep the last n that fits
        m = _scale(q, e, n)
        folded = b * m + ((zero_point + 128) << n) + ((1 << n) >> 1)
        best = np.where((m < 1 << SCALE_BITS) & (np.abs(folded) < 2**31), n, best)
    if not per_channel:
        live = best[q != 0]
        best = np.full_like(best, live.min() if live.size else 0)
    return _scale(q, e, best), best


def _scale(q: np.ndarray, e: np.ndarray, n: np.ndarray | int) -> np.ndarray:
    """``round(q * 2^(e + n))``, halves up, in integers."""
    p = e + n
    down = np.maximum(-p, 0)
    return np.where(p >= 0, q << np.maximum(p, 0), (q + (np.left_shift(1, down) >> 1)) >> down)


def normquant(acc: np.ndarray, scale: np.ndarray, shift: np.ndarray, zero_point: int,
              act_min: int, act_max: int) -> np.ndarray:
    """int8 outputs of int32 accumulators ``acc`` (bias included; channels last), as NE16
    computes them in uint8 (the int8 code plus 128, the offset folded into its bias):
    ``clamp(floor(sat32(acc * m + (zp + 128) * 2^n + 2^(n-1)) / 2^n) - 128)``."""
    m = np.asarray(scale, np.int64)
    n = np.asarray(shift, np.int64)
    t = (np.asarray(acc, np.int64) * m + np.left_shift(zero_point + 128, n)
         + (np.left_shift(1, n) >> 1))
    t = np.clip(t, -(2**31), 2**31 - 1)
    return np.clip((t >> n) - 128, act_min, act_max).astype(np.int8)
