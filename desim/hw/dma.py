"""DMA engine: strided copies between memory targets across the interconnect.

Software queues a descriptor (1D, 2D or 3D strided, as PULP mchan and iDMA describe
copies) on a channel. The channel serves its queue in order: it pays ``setup_cycles``,
then moves the descriptor's bytes from the source target, across the interconnect, to
the destination target. Each channel is one master (``<dma>.ch<i>``): its traffic keeps
its order at every port and link, and channels share them by arbitration.

The copy is a pipeline of bursts of b = min(max_burst_bytes, first row) bytes through
three stages s = read, transfer, write, of latency a_s and burst time t_s; a burst's
round trip is R = sum_s (a_s + t_s) and the slowest stage takes P = max_s t_s per burst.
On idle resources a descriptor of N bytes in m bursts takes (cycles)

    T = setup + R + (m - 1) * P
      = setup + sum_s a_s + (sum_s t_s - P) + N / min_s bandwidth_s

while the in-flight window covers a burst's round trip, W * P >= R (W = ``outstanding``);
back to back, n descriptors take n * T. A smaller window lets W bursts leave the slowest
stage P apart and each slot return one round trip later: burst j ends at
(j // W) * R + (j % W) * P + R, so

    T = setup + ((m - 1) // W) * R + ((m - 1) % W) * P + R        (W * P < R)

Three ways to run it, which agree on these formulas:

- streamed (both targets expose their ``port`` link, as an Sram does, and the window
  covers the round trip): the descriptor is one cut-through transfer over the source
  port, the interconnect path and the destination port
  (:func:`desim.hw.interconnect.stream`), arbitrated chunk by chunk, with the pipeline
  fill R - P added to the path latency. A few events per descriptor.
- paced (the same targets, a window that does not cover the round trip, and bursts all
  of one size): one transfer of chunks of W bursts over the same links plus the
  channel's window link, which a chunk of r bursts holds for (R - W * P) + r * P, so
  that chunks start one round trip apart; the path latency is (W - 1) * P. A few events
  per descriptor alone, one per W bursts while a link is shared.
- burst by burst (any other target, e.g. the DRAM model, a copy within one memory, or a
  limiting window over bursts of mixed sizes): each burst calls source.access(read),
  interconnect.transfer and destination.access(write) in turn, with up to
  ``outstanding`` bursts in flight (one slot each, advanced in callbacks). A few events
  per burst; inside ``with burst_by_burst():`` every descriptor runs so, the event-level
  model the other two stand for.
"""

from __future__ import annotations

import contextlib
from collections import Counter, deque
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import simpy

from desim.errors import SpecError
from desim.hw.interconnect import Interconnect, Link, Route, stream
from desim.kernel import Clock, Component
from desim.spec import Spec, param

_MCHAN = "gvsoc-pulp pulp/mchan/mchan_v7.py"

#: whether descriptors between two memory ports run as one transfer, and DRAM reads as
#: burst runs (see :func:`burst_by_burst`)
_STREAM = True
_RUNS = True


@contextlib.contextmanager
def burst_by_burst() -> Iterator[None]:
    """While the block runs, every descriptor goes burst by burst, one event per step: the
    event-level model that the streamed and paced transfers and the burst runs
    (:mod:`desim.hw.burst_run`) reproduce (tests and benchmarks run both on the same
    copies)."""
    global _STREAM, _RUNS
    was = _STREAM, _RUNS
    _STREAM = _RUNS = False
    try:
        yield
    finally:
        _STREAM, _RUNS = was


@dataclass(frozen=True)
class DmaSpec(Spec):
    """A multi-channel DMA engine; the defaults describe the PULP cluster mchan."""

    channels: int = param(
        1, ge=1, le=64, doc="independent channels, each with its own queue, served in "
        "parallel; at most 64, far above the few channels of MCU-class DMA engines",
        source="one cluster DMA engine per PULP cluster (gvsoc pulp_open cluster.py)")
    queue_depth: int = param(
        2, ge=1, le=1024, doc="descriptors waiting per channel; a submit blocks while it is full",
        source=f"mchan v7 core queue depth 2 ({_MCHAN})")
    max_burst_bytes: int = param(
        256, unit="B", ge=1, doc="largest burst: sets the pipeline fill, and the modelled "
                                 "transaction when copying burst by burst",
        source=f"mchan v7 max_burst_length 256 B ({_MCHAN})")
    outstanding: int = param(
        8, ge=1, le=256, doc="bursts in flight per channel; at most 256, far above mchan's 8",
        source=f"mchan v7 up to 8 outstanding external reads and 8 writes ({_MCHAN})")
    setup_cycles: int = param(
        12, unit="cycles", ge=0, doc="per-descriptor programming and start cost",
        source="estimate: mchan 2D command = 1 counter read + 5 register writes "
               f"({_MCHAN}, MAX_CMD_WORDS) at ~2 cycles each on the peripheral bus")
    area_mm2: float = param(
        0.01, unit="mm^2", ge=0, doc="silicon area of the engine (queues, burst and address "
                                     "logic); its links are the interconnect's",
        source="assumed: about 50 kGE at about 0.2 um^2 per gate equivalent in 22 nm; no "
               "published mchan area")


# -- descriptors ------------------------------------------------------------------------

def _check(desc: Any, **fields: int) -> None:
    for name, value in fields.items():
        least = 1 if name in ("nbytes", "row_bytes", "rows", "planes") else 0
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise SpecError(f"{type(desc).__name__}.{name} = {value!r}: give an integer "
                            f">= {least}")


@dataclass(frozen=True)
class Copy1D:
    """``nbytes`` contiguous bytes from ``src`` to ``dst``."""

    src: int
    dst: int
    nbytes: int

    def __post_init__(self) -> None:
        _check(self, src=self.src, dst=self.dst, nbytes=self.nbytes)

    def spans(self) -> Iterator[tuple[int, int, int]]:
        """(source address, destination address, bytes) of every row, in order."""
        yield self.src, self.dst, self.nbytes

    @property
    def total_bytes(self) -> int:
        return self.nbytes

    def extent(self) -> tuple[int, int]:
        """Bytes spanned at the source and at the destination (first to last byte)."""
        return self.nbytes, self.nbytes


@dataclass(frozen=True)
class Copy2D:
    """``rows`` rows of ``row_bytes``; row r starts at ``src + r * src_stride`` and lands
    at ``dst + r * dst_stride``."""

    src: int
    dst: int
    row_bytes: int
    rows: int
    src_stride: int
    dst_stride: int

    def __post_init__(self) -> None:
        _check(self, src=self.src, dst=self.dst, row_bytes=self.row_bytes, rows=self.rows,
               src_stride=self.src_stride, dst_stride=self.dst_stride)

    def spans(self) -> Iterator[tuple[int, int, int]]:
        for r in range(self.rows):
            yield self.src + r * self.src_stride, self.dst + r * self.dst_stride, self.row_bytes

    @property
    def total_bytes(self) -> int:
        return self.rows * self.row_bytes

    def extent(self) -> tuple[int, int]:
        last = self.rows - 1
        return last * self.src_stride + self.row_bytes, last * self.dst_stride + self.row_bytes


@dataclass(frozen=True)
class Copy3D:
    """``planes`` planes of a 2D copy; plane p is offset by ``p * src_plane_stride`` at the
    source and ``p * dst_plane_stride`` at the destination."""

    src: int
    dst: int
    row_bytes: int
    rows: int
    planes: int
    src_stride: int
    dst_stride: int
    src_plane_stride: int
    dst_plane_stride: int

    def __post_init__(self) -> None:
        _check(self, src=self.src, dst=self.dst, row_bytes=self.row_bytes, rows=self.rows,
               planes=self.planes, src_stride=self.src_stride, dst_stride=self.dst_stride,
               src_plane_stride=self.src_plane_stride, dst_plane_stride=self.dst_plane_stride)

    def spans(self) -> Iterator[tuple[int, int, int]]:
        for p in range(self.planes):
            s0, d0 = self.src + p * self.src_plane_stride, self.dst + p * self.dst_plane_stride
            for r in range(self.rows):
                yield s0 + r * self.src_stride, d0 + r * self.dst_stride, self.row_bytes

    @property
    def total_bytes(self) -> int:
        return self.planes * self.rows * self.row_bytes

    def extent(self) -> tuple[int, int]:
        lp, lr = self.planes - 1, self.rows - 1
        return (lp * self.src_plane_stride + lr * self.src_stride + self.row_bytes,
                lp * self.dst_plane_stride + lr * self.dst_stride + self.row_bytes)


Descriptor = Copy1D | Copy2D | Copy3D


def _burst_shape(desc: Descriptor, max_burst: int) -> tuple[int, int, bool]:
    """(bursts, bytes of the first burst, whether every burst has that size) of ``desc``
    when each of its runs is cut into bursts of at most ``max_burst`` bytes."""
    if isinstance(desc, Copy1D):
        lengths = {desc.nbytes: 1}
    elif isinstance(desc, Copy2D) and desc.src_stride == desc.row_bytes == desc.dst_stride:
        lengths = {desc.total_bytes: 1}  # every row continues the previous one
    elif isinstance(desc, Copy2D):
        lengths = {desc.row_bytes: desc.rows}
    else:
        lengths = Counter(n for _, _, n in runs(desc))
    bursts = sum(-(-n // max_burst) * k for n, k in lengths.items())
    if len(lengths) == 1:
        (n,) = lengths
        return bursts, min(n, max_burst), n <= max_burst or n % max_burst == 0
    return bursts, min(next(runs(desc))[2], max_burst), False


def runs(desc: Descriptor) -> Iterator[tuple[int, int, int]]:
    """Contiguous (src, dst, bytes) runs of ``desc``: rows that continue the previous row
    at both ends are merged."""
    cur: list[int] | None = None
    for s, d, n in desc.spans():
        if cur is not None and s == cur[0] + cur[2] and d == cur[1] + cur[2]:
            cur[2] += n
            continue
        if cur is not None:
            yield cur[0], cur[1], cur[2]
        cur = [s, d, n]
    if cur is not None:
        yield cur[0], cur[1], cur[2]


# -- address map ------------------------------------------------------------------------

@dataclass(frozen=True)
class Region:
    """An address range served by a memory target attached at an interconnect node.

    ``target`` implements ``access(addr, nbytes, write, master)`` (an Sram, the DRAM
    model, ...)."""

    name: str
    base: int
    size: int
    target: Any = field(repr=False, compare=False)
    node: str

    @classmethod
    def of(cls, mem: Any, node: str) -> Region:
        """The region of a memory that knows its ``base`` and ``size`` (e.g. an Sram)."""
        return cls(mem.name, mem.base, mem.size, mem, node)

    def contains(self, addr: int, nbytes: int) -> bool:
        return self.base <= addr and addr + nbytes <= self.base + self.size


@dataclass
class DmaRecord:
    """What a completed descriptor did: the value of its completion event."""

    name: str
    channel: int
    nbytes: int
    src: str
    dst: str
    start_ps: int
    end_ps: int
    #: the (path, lane) trace track of the descriptor, for drawing flows to it
    track: tuple[str, str]
    flow: int | None = None


@dataclass
class _Job:
    desc: Descriptor
    name: str
    src: Region
    dst: Region
    bursts: int
    #: bytes of the first burst, and whether every burst has that size
    burst: int
    uniform: bool
    done: simpy.Event
    flow: int | None


class _Channel:
    """One queue, its server loop and the state its burst slots share."""

    def __init__(self, index: int, master: str):
        self.index = index
        self.lane = f"ch{index}"
        self.master = master
        self.queue: deque[_Job] = deque()
        self.space: deque[simpy.Event] = deque()  # submitters waiting for a queue slot
        self.wakeup: simpy.Event | None = None  # the server, waiting for work
        self.idle: deque[simpy.Event] = deque()  # slots waiting for bursts
        self.job: _Job | None = None
        self.bursts: Iterator[tuple[int, int, int]] | None = None
        self.left = 0
        self.finished: simpy.Event | None = None
        #: paced routes through this channel's window, by (source, destination, burst)
        self.paced: dict[tuple[str, str, int], Route] = {}
        #: the job's burst steps, resolved once per job: the source's and destination's
        #: request (None: the target has only access()), the interconnect crossing
        self.read: Request | None = None
        self.write: Request | None = None
        self.cross: Callable[[int], simpy.Event | None] = _no_cross
        self.slots: list[_Slot] = []
        #: the end of the job that is a DRAM controller ("src" or "dst") when the other is
        #: a memory with a port: its bursts may run compiled (:mod:`desim.hw.burst_run`)
        self.runs: str | None = None


@dataclass(frozen=True)
class _Plan:
    """How descriptors between two memories with one burst size run: ``route`` when the
    window covers the round trip (streamed), else the figures that pace them."""

    route: Route | None
    links: tuple[Link, ...]
    round_trip_ps: int
    slowest_ps: int


class _Window(Link):
    """A channel's outstanding-burst window as the last link of its paced route: a chunk
    of r bursts holds it for ``gap_ps + r * slowest_ps``, so chunks of W bursts start one
    round trip apart. It paces the channel and carries nothing, so it is not traced."""

    __slots__ = ("burst", "slowest_ps", "gap_ps")

    def __init__(self, owner: str, clock: Clock, burst: int, window: int, slowest_ps: int,
                 round_trip_ps: int):
        rate = window * burst * clock.period_ps / round_trip_ps  # B/cycle it sustains
        super().__init__("window", owner, "window", "dma", clock, rate, 0, window * burst)
        self.traced = False
        self.burst, self.slowest_ps = burst, slowest_ps
        self.gap_ps = round_trip_ps - window * slowest_ps

    def dur(self, nbytes: int, competing: int = 1) -> int:
        """Picoseconds a chunk of ``nbytes`` (whole bursts) holds the window."""
        return self.gap_ps + -(-nbytes // self.burst) * self.slowest_ps


class Dma(Component):
    """A DMA engine moving descriptors between the regions of its address map."""

    kind = "dma"

    def __init__(self, parent: Component, name: str, ic: Interconnect,
                 regions: Sequence[Region], spec: DmaSpec | None = None):
        spec = spec or DmaSpec()
        super().__init__(parent, name, spec=spec)
        self.ic = ic
        self.regions = tuple(sorted(regions, key=lambda r: r.base))
        self._check_regions()
        self._setup_ps = self.clock.ps(spec.setup_cycles)
        self._burst = spec.max_burst_bytes
        #: how descriptors run (None: burst by burst) by (source, destination, burst bytes)
        self._plans: dict[tuple[str, str, int], _Plan | None] = {}
        self.channels = [_Channel(i, f"{self.path}.ch{i}") for i in range(spec.channels)]
        for ch in self.channels:
            self.process(self._serve(ch), f"{ch.lane}.server", daemon=True)
            ch.slots = [_Slot(self, ch) for _ in range(spec.outstanding)]
            for slot in ch.slots:
                slot.take()

    @property
    def area_mm2(self) -> float:
        """Silicon area of the engine (mm^2, see :class:`DmaSpec`)."""
        return float(self.spec.area_mm2)

    def _check_regions(self) -> None:
        prev = None
        for r in self.regions:
            if not callable(getattr(r.target, "access", None)):
                raise SpecError(f"{self.path}: region '{r.name}' target has no "
                                "access(addr, nbytes, write, master) method")
            if r.node not in self.ic.graph:
                raise SpecError(f"{self.path}: region '{r.name}' is attached at node "
                                f"'{r.node}', which {self.ic.path} does not have")
            if prev is not None and r.base < prev.base + prev.size:
                raise SpecError(f"{self.path}: regions '{prev.name}' and '{r.name}' overlap "
                                f"at {r.base:#x}; give disjoint address ranges")
            prev = r
        nodes = list(dict.fromkeys(r.node for r in self.regions))
        self.ic.check_routes((a, b) for a in nodes for b in nodes if a != b)

    def region(self, addr: int, nbytes: int = 1) -> Region:
        """The region holding ``[addr, addr + nbytes)`` (SpecError when none does)."""
        for r in self.regions:
            if r.contains(addr, nbytes):
                return r
        known = ", ".join(f"{r.name} [{r.base:#x}, {r.base + r.size:#x})" for r in self.regions)
        raise SpecError(f"{self.path}: no region holds [{addr:#x}, {addr + nbytes:#x}); "
                        f"regions: {known}")

    # -- software interface --------------------------------------------------------------

    def submit(self, desc: Descriptor, channel: int = 0, name: str = "",
               flow: int | None = None) -> Generator[simpy.Event, Any, simpy.Event]:
        """Queue ``desc`` on ``channel``, waiting while its queue is full.

        Use as ``done = yield from dma.submit(desc)``; ``done`` triggers with a
        :class:`DmaRecord` when the last byte is written. ``flow`` (a trace flow id of the
        caller's) is recorded with the transfer.
        """
        if not 0 <= channel < len(self.channels):
            raise SpecError(f"{self.path}: channel {channel} does not exist; this DMA has "
                            f"{len(self.channels)} (set dma.channels)")
        src_span, dst_span = desc.extent()
        src, dst = self.region(desc.src, src_span), self.region(desc.dst, dst_span)
        bursts, first, uniform = _burst_shape(desc, self._burst)
        job = _Job(desc, name or "dma", src, dst, bursts, first, uniform,
                   self.sim.event(f"{self.path} done"), flow)
        ch = self.channels[channel]
        while len(ch.queue) >= self.spec.queue_depth:
            ev = self.sim.event(f"a free slot in {self.path} {ch.lane} queue")
            ch.space.append(ev)
            yield ev
        ch.queue.append(job)
        if ch.wakeup is not None:
            ch.wakeup.succeed()
            ch.wakeup = None
        return job.done

    def copy(self, desc: Descriptor, channel: int = 0, name: str = "",
             flow: int | None = None) -> Generator[simpy.Event, Any, DmaRecord]:
        """Submit ``desc`` and wait for it: ``record = yield from dma.copy(desc)``."""
        done = yield from self.submit(desc, channel, name, flow)
        record: DmaRecord = yield done
        return record

    # -- server loops --------------------------------------------------------------------

    def _serve(self, ch: _Channel) -> Generator[simpy.Event, Any, None]:
        env = self.env
        while True:
            while not ch.queue:
                ch.wakeup = env.event()
                yield ch.wakeup
            job = ch.queue.popleft()
            if ch.space:
                ch.space.popleft().succeed()
            start = self.begin()
            if self._setup_ps:
                yield env.timeout(self._setup_ps)
            n = job.desc.total_bytes
            route = self._route(ch, job) if _STREAM else None
            if route is not None:
                yield from self._stream(ch, job, route, n)
            else:
                ch.job, ch.left = job, job.bursts
                ch.bursts = iter(self._bursts(job.desc))
                ch.read = getattr(job.src.target, "request", None)
                ch.write = getattr(job.dst.target, "request", None)
                ch.cross = self.ic.sender(job.src.node, job.dst.node, ch.master, job.name)
                ch.runs = _dram_side(job) if _RUNS else None
                ch.finished = finished = env.event()
                for _ in range(min(job.bursts, len(ch.idle))):
                    ch.idle.popleft().succeed()
                yield finished
                ch.job = ch.bursts = None
            self.counters["bytes"] += n
            self.counters["bytes_read"] += n  # as a master: read from the source,
            self.counters["bytes_written"] += n  # written to the destination
            self.counters["descriptors"] += 1
            src = f"{job.src.name}@{job.desc.src:#x}"
            dst = f"{job.dst.name}@{job.desc.dst:#x}"
            if self._tracer is not None:
                args: dict[str, Any] = {"bytes": n, "src": src, "dst": dst}
                if job.flow is not None:
                    args["flow"] = job.flow
                self.end(start, ch.lane, job.name, "dma", args)
            else:
                self.end(start, ch.lane, job.name, "dma")
            job.done.succeed(DmaRecord(job.name, ch.index, n, src, dst, start, self.sim.now,
                                       (self.path, ch.lane), job.flow))

    def _route(self, ch: _Channel, job: _Job) -> Route | None:
        """The route ``job`` streams over (source port, interconnect path, destination
        port, and the channel's window when it limits), or None: burst by burst."""
        key = (job.src.name, job.dst.name, job.burst)
        plan = self._plans[key] if key in self._plans else self._plan(job, key)
        if plan is None or plan.route is not None or not job.uniform:
            return None if plan is None else plan.route
        route = ch.paced.get(key)
        if route is None:
            w, slowest = self.spec.outstanding, plan.slowest_ps
            window = _Window(ch.master, self.clock, job.burst, w, slowest, plan.round_trip_ps)
            route = ch.paced[key] = Route(job.src.node, job.dst.node, (*plan.links, window),
                                          (w - 1) * slowest, window.chunk_bytes)
        return route

    def _plan(self, job: _Job, key: tuple[str, str, int]) -> _Plan | None:
        """The :class:`_Plan` of ``job``'s memories and burst, None when a target has no
        port of its own (burst by burst)."""
        sport = getattr(job.src.target, "port", None)
        dport = getattr(job.dst.target, "port", None)
        plan = None
        if (isinstance(sport, Link) and isinstance(dport, Link) and sport is not dport
                and callable(getattr(job.src.target, "account", None))
                and callable(getattr(job.dst.target, "account", None))):
            burst = job.burst
            path = self.ic.route(job.src.node, job.dst.node)
            links = (sport, *path.links, dport)
            stages = (sport.dur(burst), max((ln.dur(burst) for ln in path.links), default=0),
                      dport.dur(burst))
            slowest = max(stages)
            trip = sport.latency_ps + path.latency_ps + dport.latency_ps + sum(stages)
            route = None
            if self.spec.outstanding * slowest >= trip:
                route = Route(job.src.node, job.dst.node, links, trip - slowest,
                              min(link.chunk_bytes for link in links))
            plan = _Plan(route, links, trip, slowest)
        self._plans[key] = plan
        return plan

    def _stream(self, ch: _Channel, job: _Job, route: Route, nbytes: int
                ) -> Generator[simpy.Event, Any, None]:
        ic = self.ic
        ic.counters["bytes"] += nbytes
        ic.counters["transfers"] += 1
        tracer = self._tracer
        args = ({"src": route.src, "dst": route.dst, "master": ch.master}
                if tracer is not None else None)
        yield from stream(self.env, route, nbytes, ch.master, ic.rank(ch.master), tracer,
                          job.name, args)
        job.src.target.account(nbytes, False)
        job.dst.target.account(nbytes, True)

    def _bursts(self, desc: Descriptor) -> list[tuple[int, int, int]]:
        """(source, destination, bytes) of every burst of ``desc``, in order."""
        burst = self._burst
        return [(s + off, d + off, min(burst, n - off))
                for s, d, n in runs(desc) for off in range(0, n, burst)]


class _Slot:
    """One outstanding-burst slot of a channel: read, cross, write, one burst at a time.
    It advances in callbacks of each step's completion, in the order a process looping
    over the same steps would (it needs no process of its own)."""

    __slots__ = ("dma", "ch", "job", "burst", "access")

    def __init__(self, dma: Dma, ch: _Channel):
        self.dma, self.ch = dma, ch
        self.job: _Job | None = None
        self.burst: tuple[int, int, int] = (0, 0, 0)
        #: the DRAM access this slot waits on, in a job whose bursts may run compiled
        self.access: simpy.Event | None = None

    def take(self, _: Any = None) -> None:
        """Start the channel's next burst, or wait for one."""
        ch = self.ch
        job = ch.job
        item = next(ch.bursts, None) if ch.bursts is not None else None
        if item is None or job is None:
            ev = simpy.Event(self.dma.env)
            ch.idle.append(ev)
            ev.callbacks.append(self.take)
            return
        self.job, self.burst = job, item
        done = _step(ch.read, job.src.target, item[0], item[2], False, ch.master, self._read)
        if ch.runs == "src" and done is not None:
            self.access = done
            self._run()

    def _run(self) -> None:
        """Every slot of the channel waits on a step: replay its bursts compiled from
        here, when they may (:mod:`desim.hw.burst_run`)."""
        ch = self.ch
        for slot in ch.slots:
            if slot.access is None:
                return
        from desim.hw.burst_run import BurstRun  # imports numba: only when used

        BurstRun.form(self.dma, ch, ch.slots)

    def _read(self, _: Any = None) -> None:
        self.access = None
        done = self.ch.cross(self.burst[2])
        if done is None:
            self._crossed()
        else:
            done.callbacks.append(self._crossed)

    def _crossed(self, _: Any = None) -> None:
        ch, (_, addr, n) = self.ch, self.burst
        done = _step(ch.write, self.job.dst.target,  # type: ignore[union-attr]
                     addr, n, True, ch.master, self._written)
        if ch.runs == "dst" and done is not None:
            self.access = done
            self._run()

    def _written(self, _: Any = None) -> None:
        self.access = None
        ch = self.ch
        ch.left -= 1
        if not ch.left:
            ch.finished.succeed()  # type: ignore[union-attr]
        self.take()


def _dram_side(job: _Job) -> str | None:
    """The end of ``job`` ("src" or "dst") that is a DRAM controller (it makes the access
    events of a run's bursts, ``access_event``) when the other is a memory with a port of
    its own: the copies a burst run replays. None otherwise."""
    src, dst = job.src.target, job.dst.target
    if callable(getattr(src, "access_event", None)) and hasattr(dst, "port"):
        return "src"
    if callable(getattr(dst, "access_event", None)) and hasattr(src, "port"):
        return "dst"
    return None


#: a memory's request(addr, bytes, write, master): its completion event (None: done)
Request = Callable[[int, int, bool, str], "simpy.Event | None"]


def _no_cross(nbytes: int) -> simpy.Event | None:
    raise AssertionError("a burst crossing outside a job")


def _step(request: Request | None, target: Any, addr: int, nbytes: int, write: bool,
          master: str, then: Callable[[Any], None]) -> simpy.Event | None:
    """Access ``target`` now and call ``then`` when done: through its ``request`` (None:
    by advancing its ``access`` generator as a process would). Returns the request's
    event ``then`` waits on (None: done already, or driven)."""
    if request is None:
        _drive(target.access(addr, nbytes, write, master), None, then=then)
        return None
    done = request(addr, nbytes, write, master)
    if done is None:
        then(None)
    else:
        done.callbacks.append(then)
    return done


def _drive(gen: Generator[simpy.Event, Any, None], ev: simpy.Event | None, *,
           then: Callable[[Any], None]) -> None:
    """Advance ``gen`` past ``ev`` (None: start it) as a process running it would, and call
    ``then`` once it returns."""
    while True:
        try:
            if ev is None:
                ev = next(gen)
            elif ev._ok:  # type: ignore[attr-defined]
                ev = gen.send(ev._value)  # type: ignore[attr-defined]
            else:
                ev._defused = True  # type: ignore[attr-defined]
                ev = gen.throw(ev._value)  # type: ignore[attr-defined]
        except StopIteration:
            then(None)
            return
        if ev.callbacks is not None:  # not processed yet: wait for it
            ev.callbacks.append(partial(_drive, gen, then=then))
            return
