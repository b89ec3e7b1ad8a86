"""The simulation context: a SimPy environment whose time unit is one picosecond.

``Sim`` adds what SimPy lacks for hardware models: integer-picosecond time, a root seed
from which every component draws its own random stream, a trace recorder decided once at
construction (so a disabled trace costs nothing per event), a registry of processes for
stall detection, and run statistics (events, wall time, events/s).
"""

from __future__ import annotations

import contextlib
import gc
import heapq
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import simpy
from simpy.core import NORMAL

from desim.errors import SimulationStalled

if TYPE_CHECKING:
    from desim.kernel.component import Component
    from desim.trace.recorder import Recorder


@dataclass
class RunStats:
    """What one call of :meth:`Sim.run` cost: events processed and wall time."""

    events: int = 0
    wall_s: float = 0.0
    sim_ps: int = 0

    @property
    def events_per_s(self) -> float:
        return self.events / self.wall_s if self.wall_s > 0 else 0.0

    def to_dict(self) -> dict[str, float]:
        return {"events": self.events, "wall_s": round(self.wall_s, 6),
                "events_per_s": round(self.events_per_s, 1)}


class Sim:
    """Owns the SimPy environment, the root seed, the tracer and the component tree."""

    def __init__(self, seed: int = 0, tracer: Recorder | None = None):
        self.env = simpy.Environment()
        self.seed = int(seed)
        #: the trace recorder, or None when tracing is off (checked at each call site)
        self.tracer = tracer
        self.roots: list[Component] = []
        self._procs: list[tuple[simpy.Process, str]] = []
        self.stats = RunStats()
        #: called by a workload's driver as it advances, ``progress(sim, done, total)``
        #: (e.g. layers); None: nobody is watching
        self.progress: Callable[[Sim, int, int], None] | None = None
        #: models running ahead of the kernel (DMA burst runs), each by the call that
        #: brings it back to the current time
        self.ahead: set[Callable[[], None]] = set()

    @property
    def now(self) -> int:
        """Current simulated time in picoseconds."""
        return self.env.now  # type: ignore[return-value]

    def process(self, gen: Generator[Any, Any, Any], name: str,
                daemon: bool = False) -> simpy.Process:
        """Start ``gen`` as a process named ``name``.

        A daemon (a server loop waiting for work) may still wait when the run ends; any
        other process still waiting when no event is left is a stall.
        """
        proc = self.env.process(gen)
        if not daemon:
            self._procs.append((proc, name))
        return proc

    def events_so_far(self) -> int:
        """Events scheduled since the environment was made (for progress displays)."""
        return _peek_eid(self.env)

    def event(self, what: str = "") -> simpy.Event:
        """A plain event; ``what`` describes it in stall reports."""
        ev = simpy.Event(self.env)
        if what:
            ev.what = what  # type: ignore[attr-defined]
        return ev

    def run(self, until: int | None = None) -> RunStats:
        """Run until ``until`` ps or until no event is left; detect stalls at the end."""
        env = self.env
        eid0 = _peek_eid(env)
        t0 = time.perf_counter()
        with gc_paused():  # see gc_paused
            if until is None:
                _drain(env)
            else:
                env.run(until=until)
                self.catch_up()
        wall = time.perf_counter() - t0
        self.stats.events += _peek_eid(env) - eid0 - len(env._queue)  # type: ignore[attr-defined]
        self.stats.wall_s += wall
        self.stats.sim_ps = self.now
        if until is None:
            self._check_stall()
        return self.stats

    def catch_up(self) -> None:
        """Bring every model running ahead of the kernel back to the current time, so that
        its components' counters and state read as the event-level model's would."""
        for back in list(self.ahead):
            back()

    def _check_stall(self) -> None:
        waiting = [(name, describe_event(proc.target)) for proc, name in self._procs
                   if proc.is_alive]
        self._procs = [(p, n) for p, n in self._procs if p.is_alive]
        if waiting:
            raise SimulationStalled(self.now, waiting)


def _drain(env: simpy.Environment) -> None:
    """Process every event, as ``env.run()`` does, in one loop: the work of
    ``Environment.step`` without a call and an exception handler per event."""
    queue = env._queue  # type: ignore[attr-defined]
    pop = heapq.heappop
    while queue:
        env._now, _, _, event = pop(queue)  # type: ignore[attr-defined]
        callbacks, event.callbacks = event.callbacks, None  # type: ignore[assignment]
        for callback in callbacks:
            callback(event)
        if not event._ok and not hasattr(event, "_defused"):
            # a failure nobody handled: crash, as SimPy does, with a fresh traceback
            exc = type(event._value)(*event._value.args)
            exc.__cause__ = event._value
            raise exc


def timer(env: simpy.Environment, delay: int, callback: Callable[[Any], None]
          ) -> simpy.Timeout:
    """``env.timeout(delay)`` with ``callback`` as its only callback, scheduled as SimPy
    schedules a timeout (same place among the events of its time) without the calls of
    its constructor: hot paths set many timers."""
    ev = _new(simpy.Timeout)
    ev.env, ev.callbacks, ev._value, ev._ok = env, [callback], None, True
    ev._delay = delay  # type: ignore[attr-defined]
    heapq.heappush(env._queue,  # type: ignore[attr-defined]
                   (env._now + delay, NORMAL, next(env._eid), ev))  # type: ignore[attr-defined]
    return ev


_new = object.__new__


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a block runs.

    A run's events, transfers and trace records are freed by reference counting or kept
    on purpose, not left in cycles (a whole MobileNetV2 run leaves some 4,500 objects in
    cycles, mostly the component tree), so the collector's passes free nothing: they cost
    about a third of a traced MobileNetV2 run and of writing or reading its trace, and 5-8 %
    of an untraced one (measured).
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def _peek_eid(env: simpy.Environment) -> int:
    """Number of events scheduled so far (SimPy numbers every scheduled event)."""
    eid = env._eid  # type: ignore[attr-defined]
    # itertools.count exposes its next value through repr: "count(N)"
    return int(repr(eid)[6:-1])


def describe_event(ev: Any) -> str:
    """A readable account of what a process is waiting on, for stall reports."""
    what = getattr(ev, "what", None)
    if what:
        return what
    resource = getattr(ev, "resource", None)
    if resource is not None:
        owner = getattr(resource, "what", type(resource).__name__)
        return f"{type(ev).__name__.lower()} on {owner}"
    if isinstance(ev, simpy.Process):
        return f"process {getattr(ev, 'name', '?')}"
    if isinstance(ev, simpy.events.Condition):
        return "all/any of: " + ", ".join(describe_event(e) for e in ev._events)
    return f"an untriggered {type(ev).__name__} event"
