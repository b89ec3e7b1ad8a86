"""DRAM controller component: the timing engine serving memory accesses of SimPy models.

Protocol shared with the on-chip SRAM (:mod:`desim.hw.memory`)::

    yield from dram.access(addr, nbytes, write, master)

returns when the whole access is done. An access of n bytes at address a is split into
the transactions (bursts of ``T = bus_width/8 * BL`` bytes) covering [a, a + n)::

    k = floor((a + n - 1) / T) - floor(a / T) + 1

and offered to the controller from the first DRAM clock edge at or after the call, in
address order, one per cycle at most (the front end of :mod:`desim.hw.dram.controller`).
A read access is done when its last burst has returned its data, a write access when its
last write has been posted to the write buffer. Concurrent accesses (from any number of
processes) contend in the controller's queues, banks and data bus; unloaded, a one-burst
read takes 1 + 27 cycles on DDR4-3200 (front end, then CL + BL/2 + 1 on a row hit).

Cost: SimPy events scale with accesses, not bursts or cycles (about 2 per access). The
engine stays at the current time. A plan runs a copy of it to the next access completion
(``lookahead``) and keeps a timer for that instant, where the engine continues from the
copy (``commit``) and the finished accesses return. A new access plans again from the
engine brought to its cycle, so every access sees the controller exactly as the
accesses issued before it left it; the timer stays when the next completion does (an
access joining the back of the queue), else a new one replaces it. The engine is the
event-level DramEngine until the first access, then the compiled FastDramEngine (same
timing; see ``fast``).

Energy (pJ): the engine's ACT/READ/WRITE/REF energies plus background power per power
state up to now; ``static_energy_pj`` is the traffic-independent part (background and
refresh).

Request log: controllers built inside ``with record_requests():`` keep every transaction
they are offered, as (byte address from the controller's base, write, arrival cycle), the
trace format of :mod:`desim.hw.dram.replay`; others keep nothing and pay nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

import simpy

from desim.errors import SpecError
from desim.hw.dram.controller import DramEngine
from desim.hw.dram.spec import DramSpec
from desim.kernel import Clock, Component, timer

if TYPE_CHECKING:
    from desim.hw.dram.fast import FastDramEngine


class _Access(simpy.Event):
    """The completion event of one access; ``of`` = (controller, offset, bytes, write)
    describes it in stall reports."""

    of: tuple[str, int, int, bool]
    #: when the access was offered (its bus interval's start when traced)
    start: int

    @property
    def what(self) -> str:
        path, offset, nbytes, write = self.of
        return f"{path}: {'write' if write else 'read'} of {nbytes} B at {offset:#x}"


@contextmanager
def record_requests() -> Iterator[None]:
    """Controllers built inside the block log their requests (``DramController.requests``),
    e.g. around ``simulate(...)`` for ``desim run --dram-trace``."""
    before = DramController.recording
    DramController.recording = True
    try:
        yield
    finally:
        DramController.recording = before


class DramController(Component):
    """One DRAM channel and its controller, mapped at ``[base_addr, base_addr + capacity)``."""

    kind = "dram"
    #: controllers built while True log their requests; set it with :func:`record_requests`
    recording: ClassVar[bool] = False
    #: controllers built while True switch to the compiled engine (FastDramEngine) at their
    #: first access, else keep the event-level Python one (DramEngine); the timing is the
    #: same, and a DRAM nobody accesses never loads numba
    fast: ClassVar[bool] = True

    def __init__(self, parent: Component, name: str, spec: DramSpec | None = None,
                 base_addr: int = 0):
        spec = spec or DramSpec()
        if base_addr < 0:
            raise SpecError(f"{name}: base_addr must be >= 0, got {base_addr}")
        super().__init__(parent, name, Clock(spec.name, spec.freq_hz), spec)
        self.base = base_addr
        self.size = spec.capacity_bytes
        self.engine: DramEngine | FastDramEngine = DramEngine(spec)
        self._compile = self.fast  # switch to the compiled engine at the first access
        self._txn = spec.txn_bytes
        self._synced: tuple[object, int] = (None, -1)  # (engine, ps) of the last _sync
        #: the cycle of the next completion the timer stands for, and the timer (another
        #: timer that fires is stale)
        self._due: int | None = None
        self._timer: simpy.Event | None = None
        #: a DMA burst run replaying this controller's accesses (desim.hw.burst_run):
        #: anything else that uses or reads the controller cuts it back first
        self._burst_run: Any = None
        #: with recording on: (arrival cycle, first offset, transactions, write) per access
        self._log: list[tuple[int, int, int, bool]] | None = [] if self.recording else None

    # -- memory-target protocol --------------------------------------------------------

    def access(self, addr: int, nbytes: int, write: bool, master: str = ""
               ) -> Generator[simpy.Event, Any, None]:
        """Read or write ``nbytes`` at ``addr``; use as ``yield from``, returns when done."""
        if self._burst_run is not None:
            self._burst_run.cut()
        self._check(addr, nbytes, write)
        return self._access(addr - self.base, nbytes, write, master)

    def request(self, addr: int, nbytes: int, write: bool, master: str = ""
                ) -> simpy.Event | None:
        """Start :meth:`access` now, for callers that wait through callbacks: the event
        triggers when it is done (None: nothing to move)."""
        if self._burst_run is not None:
            self._burst_run.cut()
        self._check(addr, nbytes, write)
        if not nbytes:
            return None
        offset = addr - self.base
        start, done = self._start(offset, nbytes, write)
        done.callbacks.append(lambda _: self._finish(start, offset, nbytes, write, master))
        return done

    def access_event(self, addr: int, nbytes: int, write: bool, master: str, start: int,
                     then: Callable[[Any], None]) -> simpy.Event:
        """The completion event :meth:`request` would have returned for an access that
        another model (a DMA burst run) offered to the engine at ``start``, ``then`` its
        caller's callback."""
        offset = addr - self.base
        done = _Access(self.env)
        done.of = (self.path, offset, nbytes, write)
        done.start = start
        done.callbacks.append(lambda _: self._finish(start, offset, nbytes, write, master))
        done.callbacks.append(then)
        return done

    def arm(self, delay: int) -> simpy.Event:
        """A completion timer ``delay`` ps from now (planned by another model)."""
        return timer(self.env, delay, self._complete)

    def _check(self, addr: int, nbytes: int, write: bool) -> None:
        if nbytes < 0 or not (self.base <= addr and addr + nbytes <= self.base + self.size):
            raise SpecError(f"{self.path}: access of {nbytes} B at {addr:#x} falls outside "
                            f"[{self.base:#x}, {self.base + self.size:#x}); check the buffer "
                            "placement")
        self.counters["bytes_written" if write else "bytes_read"] += nbytes

    def _access(self, offset: int, nbytes: int, write: bool, master: str
                ) -> Generator[simpy.Event, Any, None]:
        if not nbytes:
            return
        start, done = self._start(offset, nbytes, write)
        yield done
        self._finish(start, offset, nbytes, write, master)

    def _start(self, offset: int, nbytes: int, write: bool) -> tuple[int, simpy.Event]:
        """Offer an access to the controller now: (its start, its completion event)."""
        start = self.begin()
        if self._compile:
            self._switch()
        engine = self.engine
        cycle = self.clock.edge_index(start)
        txn = self._txn
        first = offset // txn * txn
        n = ((offset + nbytes - 1) // txn * txn - first) // txn + 1
        done = _Access(self.env)
        done.of = (self.path, offset, nbytes, write)
        done.start = start
        self._plan(engine.offer(cycle, first, n, txn, write, done))
        self._synced = (engine, start)
        self.counters["accesses"] += 1
        self.counters["transactions"] += n
        if self._log is not None:
            self._log.append((cycle, first, n, write))
        tracer = self._tracer
        if tracer is not None:
            tracer.counter(self.path, "queue_depth", start, engine.queue_depth)
        return start, done

    def _finish(self, start: int, offset: int, nbytes: int, write: bool, master: str) -> None:
        """An access is done: close its busy interval."""
        op = "write" if write else "read"
        if self._tracer is not None:
            self.end(start, "bus", op, "dram", {"master": master, "addr": offset + self.base,
                                                "bytes": nbytes})
        else:
            self.end(start, "bus", op, "dram")

    def _switch(self) -> None:
        """Continue on the compiled engine. No request has reached the controller yet, so
        its state is that of any idle engine brought to the same cycle."""
        from desim.hw.dram.fast import FastDramEngine  # imports numba: only when used

        self._compile = False
        engine = FastDramEngine(self.spec)
        engine.advance(self.engine.now)
        self.engine = engine

    def _sync(self) -> DramEngine | FastDramEngine:
        """The engine, simulated up to the current time."""
        if self._burst_run is not None:
            self._burst_run.cut()
        engine = self.engine
        now: int = self.env._now  # type: ignore[assignment]  # the property is slower
        synced_engine, synced_at = self._synced
        if synced_engine is not engine or synced_at != now:  # else: already there
            engine.advance(self.clock.edge_index(now))
            self._synced = (engine, now)
        return engine

    def _plan(self, cycle: int | None) -> None:
        """Time the next completion, at ``cycle``, unless the timer already set stands for
        that cycle."""
        if cycle == self._due:
            return
        self._due = cycle
        now: int = self.env._now  # type: ignore[assignment]
        self._timer = None if cycle is None else timer(
            self.env, self.clock.ps(cycle) - now, self._complete)

    def _complete(self, ev: simpy.Event) -> None:
        """The planned completion is due: continue from the copy, finish its accesses."""
        if ev is not self._timer:
            return  # a later plan moved the next completion
        engine = self.engine
        done, cycle = engine.complete(self._due)  # type: ignore[arg-type]
        self._due = None
        self._synced = (None, -1)
        for access in done:
            access.succeed()
        if self._tracer is not None:
            self._tracer.counter(self.path, "queue_depth", self.sim.now, engine.queue_depth)
        self._plan(cycle)

    # -- statistics --------------------------------------------------------------------

    def requests(self) -> Iterator[tuple[int, bool, int]]:
        """The requests offered so far as (byte address from ``base_addr``, write, arrival
        cycle), in order; the controller must have been built with recording on."""
        if self._log is None:
            raise SpecError(f"{self.path}: requests are not recorded; build the controller "
                            "inside 'with record_requests():'")
        txn = self._txn
        for cycle, first, n, write in self._log:
            for i in range(n):
                yield first + i * txn, write, cycle

    @property
    def energy_pj(self) -> float:
        """Energy so far (pJ): commands plus background power up to now."""
        return self.energy_breakdown()["total"]

    @property
    def static_energy_pj(self) -> float:
        """The traffic-independent part of :attr:`energy_pj` (pJ): background power in
        every power state plus refresh."""
        energy = self.energy_breakdown()
        return energy["background"] + energy["refresh"]

    def energy_breakdown(self) -> dict[str, float]:
        """Energy so far by component (pJ): act, read, write, refresh, background per power
        state (act_standby, pre_standby, act_powerdown, pre_powerdown, self_refresh), their
        sum background, and total."""
        return self._sync().energy_pj()

    def stats(self) -> dict[str, Any]:
        """Command counts, row-buffer outcomes and data-bus busy cycles so far."""
        return self._sync().stats()
