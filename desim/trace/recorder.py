"""The trace recorder: busy intervals, instants, flows and counters of one run.

Components call it only when tracing is on (``sim.tracer`` is not None), so a disabled
trace allocates nothing per event. Times are integer picoseconds; a track is a
(component path, lane) pair, e.g. ``("soc.dma", "ch0")``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple


class Interval(NamedTuple):
    """One busy interval of a track."""

    path: str
    lane: str
    name: str
    cat: str
    start: int
    end: int
    args: dict[str, Any] | None


class Instant(NamedTuple):
    path: str
    lane: str
    name: str
    t: int
    args: dict[str, Any] | None


class Flow(NamedTuple):
    """An arrow from a producer's track at ``t_src`` to a consumer's track at ``t_dst``."""

    id: int
    name: str
    src: tuple[str, str]
    t_src: int
    dst: tuple[str, str]
    t_dst: int


class CounterSample(NamedTuple):
    path: str
    name: str
    t: int
    value: float


@dataclass
class Recorder:
    """Collects a run's trace records in memory, in the order they happen.

    Records are kept as plain tuples while the run goes on (the hot path appends one
    tuple) and are named on first read (:attr:`intervals`, :attr:`counters`)."""

    _raw: list[tuple[Any, ...]] = field(default_factory=list, repr=False)
    instants: list[Instant] = field(default_factory=list)
    flows: list[Flow] = field(default_factory=list)
    #: run metadata carried into exported files (platform, workload, clock, ...)
    meta: dict[str, Any] = field(default_factory=dict)
    _next_flow: int = 0
    _done: list[Interval] = field(default_factory=list, repr=False)
    _raw_counters: list[tuple[str, str, int, float]] = field(default_factory=list, repr=False)
    _counters: list[CounterSample] = field(default_factory=list, repr=False)
    #: records kept at most (None: no cap); see :meth:`check_cap`
    cap: int | None = None
    #: records dropped once the cap was reached
    dropped: int = 0

    def interval(self, path: str, lane: str, name: str, cat: str, start: int, end: int,
                 args: dict[str, Any] | None = None) -> None:
        self._raw.append((path, lane, name, cat, start, end, args))

    def moved(self, path: str, lane: str, name: str, cat: str, start: int, end: int,
              args: dict[str, Any] | None, nbytes: int) -> None:
        """An interval that moved ``nbytes``: its args are ``args`` plus ``bytes``. ``args``
        is shared by the records of one transfer, and merged only when read."""
        self._raw.append((path, lane, name, cat, start, end, args, nbytes))

    @property
    def intervals(self) -> list[Interval]:
        """Every busy interval recorded so far, in the order they ended."""
        if self._raw:
            self._done.extend(Interval._make(t) if len(t) == 7 else _merged(t)
                              for t in self._raw)
            self._raw.clear()
        return self._done

    def raw_intervals(self) -> list[tuple[Any, ...]]:
        """The intervals as recorded, without naming them: 7-tuples as :class:`Interval`
        holds them, 8-tuples of :meth:`moved` (args without ``bytes``, then bytes) and
        9-tuples of :meth:`add` (args without ``addr`` and ``bytes``, then bytes, then
        addr). For writers that serialise millions of records once."""
        return [*self._done, *self._raw]

    @property
    def counters(self) -> list[CounterSample]:
        """Every counter sample recorded so far, in the order they were taken."""
        if self._raw_counters:
            self._counters.extend(CounterSample._make(t) for t in self._raw_counters)
            self._raw_counters.clear()
        return self._counters

    @counters.setter
    def counters(self, samples: list[CounterSample]) -> None:
        self._raw_counters.clear()
        self._counters = list(samples)

    def raw_counters(self) -> list[tuple[str, str, int, float]]:
        """The counter samples as (path, name, t, value) tuples, without naming them."""
        return [*self._counters, *self._raw_counters]

    def instant(self, path: str, lane: str, name: str, t: int,
                args: dict[str, Any] | None = None) -> None:
        self.instants.append(Instant(path, lane, name, t, args))

    def counter(self, path: str, name: str, t: int, value: float) -> None:
        self._raw_counters.append((path, name, t, value))

    def new_flow_id(self) -> int:
        self._next_flow += 1
        return self._next_flow

    def flow(self, flow_id: int, name: str, src: tuple[str, str], t_src: int,
             dst: tuple[str, str], t_dst: int) -> None:
        self.flows.append(Flow(flow_id, name, src, t_src, dst, t_dst))

    def add(self, intervals: list[tuple[Any, ...]], samples: list[tuple[str, str, int, float]]
            ) -> None:
        """Record many at once: ``intervals`` as :meth:`interval` (7-tuples) or
        :meth:`moved` (8-tuples) take them, or 9-tuples, a moved record's bytes followed
        by its address (its args are ``args`` plus ``addr`` and ``bytes``: one ``args``
        object serves many records); ``samples`` as :meth:`counter` does; each in order
        (for models that log a stretch of records and hand them over together)."""
        if self.__dict__.get("interval") == self._drop:  # past the cap: count them only
            self.dropped += len(intervals) + len(samples)
            return
        self._raw.extend(intervals)
        self._raw_counters.extend(samples)

    def check_cap(self) -> bool:
        """Once ``cap`` records are kept, keep no more: later ones are only counted in
        :attr:`dropped`, so a long run's trace cannot exhaust memory (about 170 B a record).
        Called between layers, off the hot path; True once recording has stopped."""
        if self.cap is None or self.__dict__.get("interval") == self._drop:
            return self.cap is not None
        kept = (len(self._raw) + len(self._done) + len(self._raw_counters)
                + len(self._counters) + len(self.instants) + len(self.flows))
        if kept < self.cap:
            return False
        for method in ("interval", "moved", "counter", "instant", "flow"):
            setattr(self, method, self._drop)
        return True

    def _drop(self, *record: Any) -> None:
        self.dropped += 1

    def tracks(self) -> list[tuple[str, str]]:
        """Every (path, lane) with an interval, in natural path order."""
        seen = {(iv.path, iv.lane) for iv in self.intervals}
        return sorted(seen, key=lambda t: (natural_key(t[0]), natural_key(t[1])))

    def end_ps(self) -> int:
        """Time of the last record."""
        ends = [iv.end for iv in self.intervals] + [c.t for c in self.counters]
        ends += [i.t for i in self.instants]
        return max(ends, default=0)


def _merged(t: tuple[Any, ...]) -> Interval:
    """The :class:`Interval` of a :meth:`Recorder.moved` record (or of a 9-tuple, one
    with its address)."""
    path, lane, name, cat, start, end, args, nbytes, *addr = t
    merged = {**args} if args else {}
    if addr:
        merged["addr"] = addr[0]
    merged["bytes"] = nbytes
    return Interval(path, lane, name, cat, start, end, merged)


def natural_key(text: str) -> tuple[Any, ...]:
    """Sort key placing ``core2`` before ``core10``."""
    out: list[Any] = []
    num = ""
    for ch in text:
        if ch.isdigit():
            num += ch
            continue
        if num:
            out.append((0, int(num), ""))
            num = ""
        out.append((1, 0, ch))
    if num:
        out.append((0, int(num), ""))
    return tuple(out)
