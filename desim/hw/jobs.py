"""Jobs the compute engines accept, and the FIFO through which each engine serves them.

A job is frozen plain data built by the mapping layer: one kernel invocation on the
RISC-V cluster (:class:`KernelJob`), one batch of matrix-vector products on a crossbar
(:class:`MvmJob`), or one weight load into a crossbar (:class:`ProgramJob`). The same
job runs in timing mode (no data) and in functional mode, where the runtime sets
``compute``: a callable the engine invokes once, when the job's simulated time has
elapsed, with the component that ran it (the cluster, or the crossbar, whose stored
weights the callable can read).

An engine's ``submit(job)`` returns an event that succeeds with a :class:`JobTiming`
when the job completes; jobs submitted to one engine (or one AIMC interface) run one
after another in submission order. :func:`l1_traffic` is how both engines put a job's
L1 traffic on the memory's port.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import simpy

from desim.errors import SpecError
from desim.kernel import Component

#: kernels the cluster runs, each with PULP-NN's work split across cores
CLUSTER_OPS = ("conv2d", "pointwise", "depthwise", "fc", "maxpool", "avgpool", "add", "requant")

#: ops whose output channels equal their input channels (``c_in`` defaults to ``c_out``)
SAME_CHANNEL_OPS = ("depthwise", "maxpool", "avgpool", "add", "requant")


class JobTiming(NamedTuple):
    """When a job held its engine: ``start`` (first clock edge it ran) and ``end``, in ps."""

    start: int
    end: int


def _positive(owner: str, **values: int) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SpecError(f"{owner}.{name} must be a positive int, got {value!r}")


def _non_negative(owner: str, **values: int | None) -> None:
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise SpecError(f"{owner}.{name} must be an int >= 0, got {value!r}")


@dataclass(frozen=True)
class KernelJob:
    """One int8 kernel on the cluster, described by its output shape (HWC layout).

    ``conv2d`` and ``pointwise`` read ``c_in`` channels through a ``k_h x k_w`` window;
    ``depthwise`` and the pools work per channel (``c_in`` equals ``c_out``); ``fc`` is
    ``c_out`` neurons of ``c_in`` inputs; ``add`` and ``requant`` are elementwise over
    ``h_out * w_out * c_out`` elements. Addresses are the L1 locations of the input,
    the weights and the output, used for the cores' L1 traffic.
    """

    op: str
    h_out: int = 1
    w_out: int = 1
    c_out: int = 1
    c_in: int = 0  # 0: same as c_out
    k_h: int = 1
    k_w: int = 1
    stride_h: int = 1
    stride_w: int = 1
    in_addr: int = 0
    w_addr: int = 0
    out_addr: int = 0
    name: str = ""
    layer: str = ""
    tile: int | None = None
    compute: Callable[[Any], None] | None = field(default=None, compare=False, repr=False)
    #: trace category of the cores' intervals (empty: the op); e.g. ``psum`` for the
    #: partial-sum accumulation of split crossbar matrices, an ``add`` in its own colour
    category: str = ""

    def __post_init__(self) -> None:
        if self.op not in CLUSTER_OPS:
            raise SpecError(f"KernelJob.op must be one of {', '.join(CLUSTER_OPS)}, "
                            f"got {self.op!r}")
        _positive("KernelJob", h_out=self.h_out, w_out=self.w_out, c_out=self.c_out,
                  k_h=self.k_h, k_w=self.k_w, stride_h=self.stride_h, stride_w=self.stride_w)
        _non_negative("KernelJob", c_in=self.c_in, in_addr=self.in_addr,
                      w_addr=self.w_addr, out_addr=self.out_addr)
        if self.c_in == 0:
            object.__setattr__(self, "c_in", self.c_out)
        op = self.op
        if op in SAME_CHANNEL_OPS and self.c_in != self.c_out:
            raise SpecError(f"KernelJob({op}): c_in ({self.c_in}) must equal c_out "
                            f"({self.c_out}); a {op} keeps its channels")
        if op in ("pointwise", "fc", "add", "requant") and (self.k_h, self.k_w) != (1, 1):
            raise SpecError(f"KernelJob({op}): k_h and k_w must be 1, got "
                            f"{self.k_h}x{self.k_w}; use op='conv2d' for a spatial kernel")
        if op == "fc" and (self.h_out, self.w_out) != (1, 1):
            raise SpecError(f"KernelJob(fc): h_out and w_out must be 1, got "
                            f"{self.h_out}x{self.w_out}; an fc has c_out neurons only")

    @property
    def label(self) -> str:
        """Name shown in traces: ``name`` if set, else the op."""
        return self.name or self.op

    @property
    def elements(self) -> int:
        """Output elements."""
        return self.h_out * self.w_out * self.c_out

    @property
    def macs(self) -> int:
        """Multiply-accumulates of the job (0 for pooling and elementwise ops)."""
        if self.op in ("conv2d", "pointwise", "fc"):
            return self.elements * self.k_h * self.k_w * self.c_in
        if self.op == "depthwise":
            return self.elements * self.k_h * self.k_w
        return 0


@dataclass(frozen=True)
class MvmJob:
    """``n_mvm`` matrix-vector products on one crossbar, pipelined as one job.

    Each product reads a ``rows``-element input vector from L1 at ``in_addr`` onwards and
    writes ``cols`` outputs at ``out_addr`` onwards, using the array's rows
    ``[row0, row0 + rows)`` and columns ``[col0, col0 + cols)``. With ``tag`` set, the
    crossbar must hold those weights (see :class:`ProgramJob`).
    """

    crossbar: int
    n_mvm: int
    rows: int
    cols: int
    row0: int = 0
    col0: int = 0
    tag: str | None = None
    in_addr: int = 0
    out_addr: int = 0
    name: str = ""
    layer: str = ""
    tile: int | None = None
    compute: Callable[[Any], None] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        _positive("MvmJob", n_mvm=self.n_mvm, rows=self.rows, cols=self.cols)
        _non_negative("MvmJob", crossbar=self.crossbar, row0=self.row0, col0=self.col0,
                      in_addr=self.in_addr, out_addr=self.out_addr)

    @property
    def label(self) -> str:
        return self.name or "mvm"

    @property
    def macs(self) -> int:
        return self.n_mvm * self.rows * self.cols


@dataclass(frozen=True)
class ProgramJob:
    """Write weights ``tag`` into rows ``[row0, row0 + rows)`` x columns
    ``[col0, col0 + cols)`` of one crossbar.

    ``src_addr`` is where the weights sit in L1 (None: they arrive from elsewhere and
    cost no L1 traffic). ``weights`` is an optional payload the crossbar keeps under
    ``tag`` for functional runs.
    """

    crossbar: int
    tag: str
    rows: int
    cols: int
    row0: int = 0
    col0: int = 0
    src_addr: int | None = None
    weights: Any = field(default=None, compare=False, repr=False)
    name: str = ""
    layer: str = ""

    def __post_init__(self) -> None:
        _positive("ProgramJob", rows=self.rows, cols=self.cols)
        _non_negative("ProgramJob", crossbar=self.crossbar, row0=self.row0, col0=self.col0,
                      src_addr=self.src_addr)
        if not isinstance(self.tag, str) or not self.tag:
            raise SpecError(f"ProgramJob.tag must be a non-empty str, got {self.tag!r}")

    @property
    def label(self) -> str:
        return self.name or f"program {self.tag}"


def l1_traffic(mem: Any, addr: int, nbytes: int, write: bool,
               master: str) -> Generator[simpy.Event, Any, None]:
    """Move ``nbytes`` of a job's L1 traffic through ``mem.access`` as ``master``.

    Kernels re-read their operands, so a job's traffic can exceed the memory's size; when
    it does not fit at ``addr`` of a memory exposing ``base`` and ``size`` (the ``Sram``),
    it is issued as sweeps over the whole memory (the words are interleaved over the
    banks: only the port time matters), each sweep adding the memory's access latency.
    """
    base, size = getattr(mem, "base", None), getattr(mem, "size", None)
    if base is None or size is None or addr + nbytes <= base + size:
        yield from mem.access(addr, nbytes, write, master)
        return
    while nbytes > 0:
        n = min(nbytes, size)
        yield from mem.access(base, n, write, master)
        nbytes -= n


class JobQueue:
    """FIFO of submitted jobs served one at a time by a daemon loop of ``owner``.

    ``serve(job)`` is a generator run with ``yield from``; its return value is the
    value of the job's completion event. An idle queue waits on one event (no polling).
    """

    def __init__(self, owner: Component, name: str,
                 serve: Callable[[Any], Generator[simpy.Event, Any, Any]]):
        self._owner = owner
        self._serve = serve
        self._jobs: deque[tuple[Any, simpy.Event | None]] = deque()
        self._wake: simpy.Event | None = None
        owner.process(self._loop(), name, daemon=True)

    def __len__(self) -> int:
        return len(self._jobs)

    def put(self, job: Any) -> simpy.Event:
        """Queue ``job``; the returned event succeeds with the job's result."""
        done = self._owner.sim.event(f"{job.label} on {self._owner.path}")
        self._queue(job, done)
        return done

    def hand(self, job: Any) -> None:
        """Queue ``job`` whose result nobody waits for (a stage passing work to the next):
        no completion event is made for it."""
        self._queue(job, None)

    def _queue(self, job: Any, done: simpy.Event | None) -> None:
        self._jobs.append((job, done))
        wake = self._wake
        if wake is not None and not wake.triggered:
            wake.succeed()

    def _loop(self) -> Generator[simpy.Event, Any, None]:
        env = self._owner.env
        jobs = self._jobs
        while True:
            if not jobs:
                self._wake = env.event()
                yield self._wake
                self._wake = None
            job, done = jobs.popleft()
            result = yield from self._serve(job)
            if done is not None:
                done.succeed(result)
