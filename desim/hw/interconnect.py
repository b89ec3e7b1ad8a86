"""Interconnect: a graph of links whose bandwidth concurrent transfers share.

The platform's interconnect is a networkx ``DiGraph``: nodes are component ports, routers
and buses; every edge is a link described by a :class:`LinkSpec`. A transfer follows the
lowest-latency path between two nodes (fewest hops on ties, cached per pair) and streams
through every link of the path at once (cut-through), chunk by chunk.

Timing (each link's cycles converted to integer picoseconds through its clock):

    d_i(n)  = ceil(n * period_i / bandwidth_i)        ps for n bytes on link i
    D       = max_i d_i(c)                            ps per chunk of c bytes on the path
    idle path, N bytes in m = ceil(N / c) chunks:
    T       = sum_i latency_i + (m - 1) * D + max_i d_i(N - (m - 1) * c)
            = latency + N / min_i bandwidth_i         (cycles, when c divides N)

Contention: a link is granted one chunk at a time. A transfer reserves a chunk on every
link of its path at ``s = max(now, free_at of each link)``, occupying link i for
``[s, s + d_i(n))``, and asks for its next chunk when the slowest link is done; transfers
of different masters therefore alternate chunk by chunk (round robin), and on a
``fixed_priority`` link a master waits while a higher-priority master has a transfer on
that link. Transfers of one master are served in issue order on each link. So a link
never carries more than its bandwidth: its reservations never overlap and each lasts at
least n / bandwidth cycles.

Events grow with transfers, not with chunks or cycles: a transfer alone on its links
reserves all its chunks at once (one event) and is cut back to its chunk in progress when
a competitor arrives (or, on a fixed-priority link, a higher-priority one, even waiting
elsewhere). Transfers that compete are booked together the same way, up to the first
one's end (:mod:`desim.hw.sharing` replays their alternation without events), and cut
back alike. Both give the chunk-by-chunk timeline that ``chunk_by_chunk()`` runs. A
transfer advances in callbacks of its own events; its caller resumes once, when the last
byte arrives. The path latency is a pure delay added once after the last chunk (it
occupies no link).

Memory ports (:mod:`desim.hw.memory`) are links too and reuse :func:`stream`.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import networkx as nx
import simpy

from desim.errors import SpecError
from desim.hw.sharing import Group, State, Stretch
from desim.kernel import Clock, Component, timer
from desim.spec import Spec, param

ARBITRATIONS = ("round_robin", "fixed_priority")

#: whether a transfer alone on its links books all its chunks at once, and transfers
#: competing for links book them together (see :func:`chunk_by_chunk`)
_BULK = True
#: the most transfers booked together; a larger group goes chunk by chunk
_GROUP_MAX = 16
#: the fewest requests a group booked together must be expected to make before its first
#: end: a shorter run saves fewer events than setting up the booking costs
_GROUP_WORTH = 8
#: the order timers are set in, which is the order the kernel serves timers of one time
_ORDER = itertools.count()


@contextlib.contextmanager
def chunk_by_chunk() -> Iterator[None]:
    """While the block runs, every transfer books one chunk at a time, alone or not: the
    event-level model that the one-event bookings of lone transfers reproduce (tests and
    benchmarks run both on the same traffic)."""
    global _BULK
    was, _BULK = _BULK, False
    try:
        yield
    finally:
        _BULK = was


@dataclass(frozen=True)
class LinkSpec(Spec):
    """One directed link: bandwidth, latency, arbitration and clock domain."""

    bandwidth_bytes_per_cycle: float = param(
        8.0, unit="B/cycle", gt=0, doc="peak bytes carried per cycle of the link's clock",
        source="PULP cluster <-> SoC AXI port, 64-bit data (gvsoc pulp_open cluster.py)")
    latency_cycles: int = param(
        2, unit="cycles", ge=0, doc="delay of the first byte across the link",
        source="cluster -> SoC router latency, 2 cycles (gvsoc pulp_open cluster.py)")
    arbitration: str = param(
        "round_robin", choices=ARBITRATIONS,
        doc="how masters share the link: chunk-by-chunk round robin, or fixed priority "
            "(order set by InterconnectSpec.priority)",
        source="GVSoC router arbitrates bursts between input ports (models/interco/router.py)")
    clock: str = param(
        "", doc="clock domain of the link (a name passed to Interconnect(clocks=...)); "
                "empty: the interconnect's clock",
        source="platform layout")
    chunk_bytes: int = param(
        256, unit="B", ge=1, doc="arbitration granularity: bytes granted to a master at once",
        source="mchan v7 maximum burst length, 256 B (gvsoc-pulp pulp/mchan/mchan_v7.py)")


@dataclass(frozen=True)
class InterconnectSpec(Spec):
    """Interconnect-wide settings."""

    priority: tuple[str, ...] = param(
        (), doc="masters from highest to lowest priority on fixed_priority links; an entry "
                "also covers the masters below its path (\"soc.dma\" covers \"soc.dma.ch0\"); "
                "unlisted masters rank lowest",
        source="platform choice")


def add_link(g: nx.DiGraph, a: str, b: str, spec: LinkSpec | None = None,
             bidirectional: bool = True) -> nx.DiGraph:
    """Add the link ``a -> b`` (and ``b -> a`` when bidirectional) to ``g``; returns ``g``.

    Each edge carries ``spec`` and, for reading the graph, its ``bandwidth`` (B/cycle),
    ``latency`` (cycles), ``arbitration`` and ``clock``.
    """
    spec = spec or LinkSpec()
    attrs = {"spec": spec, "bandwidth": spec.bandwidth_bytes_per_cycle,
             "latency": spec.latency_cycles, "arbitration": spec.arbitration,
             "clock": spec.clock}
    g.add_edge(a, b, **attrs)
    if bidirectional:
        g.add_edge(b, a, **attrs)
    return g


# -- arbitrated links and the transfers that stream through them ------------------------

class Link:
    """One arbitrated bandwidth resource: a graph edge or a memory port.

    ``free_at`` is the end of the latest reservation; ``active`` lists the transfers using
    the link in arrival order; ``bulk`` is the transfer holding an uncontended multi-chunk
    reservation, if any. ``bytes`` and ``busy_ps`` count what was reserved so far.
    ``traced`` False keeps the link's bookings out of the trace (a link that paces a
    master rather than carrying bytes, such as a DMA channel's window).
    """

    __slots__ = ("name", "owner", "lane", "cat", "clock", "ps_per_byte", "latency_ps",
                 "chunk_bytes", "fixed", "stretch", "account", "free_at", "active", "bulk",
                 "bytes", "busy_ps", "zero_at", "rate", "counter_path", "bandwidth", "traced",
                 "_durs", "groups", "gap_at", "burst_run")

    def __init__(self, name: str, owner: str, lane: str, cat: str, clock: Clock,
                 bandwidth: float, latency_cycles: int, chunk_bytes: int,
                 fixed: bool = False, stretch: Callable[[int], float] | None = None,
                 account: Component | None = None):
        self.name, self.owner, self.lane, self.cat = name, owner, lane, cat
        self.clock = clock
        self.bandwidth = bandwidth
        self.ps_per_byte = clock.period_ps / bandwidth
        self.latency_ps = clock.ps(latency_cycles)
        self.chunk_bytes = chunk_bytes
        self.fixed = fixed
        #: contention stretch factor as a function of the number of competing masters
        self.stretch = stretch
        #: a component whose busy time is this link's busy time (a memory's port)
        self.account = account
        self.free_at = 0
        self.active: list[_Transfer] = []
        self.bulk: _Transfer | _Shared | None = None
        self.bytes = 0
        self.busy_ps = 0
        # trace state of the bandwidth counter: end of the last booking, last value
        self.zero_at: int | None = None
        self.rate = 0.0
        self.counter_path = f"{owner}.{lane}"
        self.traced = True
        self._durs: dict[int, int] = {}  # dur(n) of one master, by n (a few sizes recur)
        #: the groups of transfers booked together that start here, by their routes' ids
        self.groups: dict[tuple[int, ...], Group] = {}
        #: end of the latest chunk booked in a gap of a lone or group booking (see _fit)
        self.gap_at = 0
        #: a DMA burst run holding this link (:mod:`desim.hw.burst_run`): a newcomer cuts
        #: it back first
        self.burst_run: Any = None

    def dur(self, nbytes: int, competing: int = 1) -> int:
        """Picoseconds to carry ``nbytes`` while ``competing`` masters share the link."""
        if competing > 1 and self.stretch is not None:
            d = nbytes * self.ps_per_byte * self.stretch(competing)
            return math.ceil(d - 1e-6)  # tolerate float noise on exact products
        ps = self._durs.get(nbytes)
        if ps is None:
            ps = self._durs[nbytes] = math.ceil(nbytes * self.ps_per_byte - 1e-6)
        return ps

    def __repr__(self) -> str:
        return f"<Link {self.owner}:{self.name}>"


@dataclass(frozen=True)
class Route:
    """The links a transfer crosses, their summed latency and the path's chunk size."""

    src: str
    dst: str
    links: tuple[Link, ...]
    latency_ps: int
    chunk_bytes: int

    @cached_property
    def pace_ps(self) -> int:
        """ps per chunk alone on the path: a chunk's time on its slowest link."""
        return max(link.dur(self.chunk_bytes) for link in self.links)


class _Transfer:
    """State of one transfer in flight. It advances in callbacks of its own timer event,
    so that a chunk costs one event and the caller resumes once, at the end."""

    __slots__ = ("env", "route", "master", "rank", "remaining", "blocked", "timer", "done",
                 "res", "split", "shared", "at", "order", "name", "args", "tracer")

    def __init__(self, env: simpy.Environment, route: Route, master: Any, rank: int,
                 nbytes: int, name: str, args: dict[str, Any] | None, tracer: Any):
        self.env, self.route, self.master, self.rank = env, route, master, rank
        self.remaining = nbytes
        self.blocked = False
        self.timer: simpy.Event | None = None
        self.done = simpy.Event(env)
        #: an uncommitted multi-chunk reservation: (start ps, bytes, ps per chunk)
        self.res: tuple[int, int, int] | None = None
        #: the reservation is what follows a split (see _split): its first chunk is asked
        #: for at its start, not before
        self.split = False
        #: the group booking this transfer belongs to, if any
        self.shared: _Shared | None = None
        #: when the pending timer fires, and its place among timers of that time
        self.at = 0
        self.order = 0
        self.name, self.args, self.tracer = name, args, tracer

    def step(self, ev: simpy.Event) -> None:
        """The booked chunk(s) ended: book more, or leave the links and finish."""
        if ev is not self.timer:  # a timer replaced by a truncation is stale
            return
        if self.shared is not None:
            _settle(self.shared)
        if self.res is not None:
            _commit(self, self.tracer)
        if self.remaining:
            _advance(self)
            return
        _leave(self, self.tracer)
        if self.route.latency_ps:
            succeed_at(self.done, self.route.latency_ps)
        else:
            self.done.succeed()

    def leave(self, _ev: simpy.Event) -> None:
        _leave(self, self.tracer)


def stream(env: simpy.Environment, route: Route, nbytes: int, master: str, rank: int,
           tracer: Any, name: str, args: dict[str, Any] | None
           ) -> Generator[simpy.Event, Any, None]:
    """Move ``nbytes`` through every link of ``route``; returns when the last byte arrives.

    ``master`` names the issuing port (empty: the transfer is a master of its own);
    ``rank`` is its priority on fixed-priority links (higher wins); ``args`` are the trace
    arguments of each reservation (``bytes`` is added), used only when ``tracer`` is set.
    """
    yield launch(env, route, nbytes, master, rank, tracer, name, args)


def launch(env: simpy.Environment, route: Route, nbytes: int, master: str, rank: int,
           tracer: Any, name: str, args: dict[str, Any] | None) -> simpy.Event:
    """Start moving ``nbytes`` through every link of ``route`` now (as :func:`stream`
    does); the returned event triggers when the last byte arrives."""
    links = route.links
    for link in links:
        if link.burst_run is not None:
            link.burst_run.cut()
    xf = _Transfer(env, route, master or object(), rank, nbytes, name, args, tracer)
    idle = _BULK and nbytes <= route.chunk_bytes and not any(link.active for link in links)
    for link in links:
        link.active.append(xf)
    if idle:  # one chunk on links nobody else uses: no blocking, holder or group to mind
        now: int = env._now  # type: ignore[attr-defined,assignment]
        _booked(xf, _reserve(xf, now, tracer, False), now)
    else:
        _advance(xf)
    return xf.done


def adopt(env: simpy.Environment, route: Route, nbytes: int, master: str, rank: int,
          end: int | None, now: int, tracer: Any = None, name: str = "",
          args: dict[str, Any] | None = None) -> simpy.Event:
    """A one-chunk transfer of ``master`` that another model advanced so far, as
    :func:`launch` would have left it: booked until ``end`` (its links already hold the
    booking, accounted), or, with None, waiting behind its master's older transfer on the
    links. Returns its completion event."""
    xf = _Transfer(env, route, master, rank, nbytes, name, args, tracer)
    for link in route.links:
        link.active.append(xf)
    if end is None:
        xf.blocked = True
    else:
        xf.remaining = 0
        _booked(xf, end, now)
    return xf.done


def _advance(xf: _Transfer) -> None:
    """Book ``xf``'s next chunk(s) now, or mark it blocked: the transfer whose leaving
    unblocks it will call this again."""
    if _blocked(xf):
        xf.blocked = True
        _hold_back_lower(xf)
        return
    env = xf.env
    now: int = env._now  # type: ignore[attr-defined,assignment]
    end = None
    if _BULK and xf.remaining <= xf.route.chunk_bytes:
        end = _fit(xf, now)
    if end is None:
        for link in xf.route.links:
            holder = link.bulk
            if holder is not None and holder is not xf:
                _cut_back(holder, now, xf.tracer)
        alone = False
        if _BULK and xf.remaining > xf.route.chunk_bytes:
            alone = _alone(xf)
            if not alone and _share(xf, now):
                return
        end = _reserve(xf, now, xf.tracer, alone)
    _booked(xf, end, now)


def _booked(xf: _Transfer, end: int, now: int) -> None:
    """``xf`` is booked until ``end``: wake it then, or, for its last chunk, final and
    without latency, end it with the caller's own event (leaving the links first)."""
    if not xf.remaining and xf.res is None and not xf.route.latency_ps:
        xf.done.callbacks.insert(0, xf.leave)
        succeed_at(xf.done, end - now)
        return
    _wake(xf, end, now)


def _wake(xf: _Transfer, at: int, now: int) -> None:
    """Set ``xf``'s timer to fire at ``at`` (any earlier timer of it goes stale)."""
    xf.timer = timer(xf.env, at - now, xf.step)
    xf.at, xf.order = at, next(_ORDER)


def _cut_back(holder: _Transfer | _Shared, now: int, tracer: Any) -> None:
    """End a lone or group booking at ``now``: a competitor is about to book."""
    if isinstance(holder, _Shared):
        _cut(holder, now)
    else:
        _truncate(holder, now, tracer)


def _hold_back_lower(xf: _Transfer) -> None:
    """A waiting transfer still keeps lower-priority masters off a fixed-priority link from
    their next chunk on: cut back such a lone or group booking to its chunks in progress."""
    rank = xf.rank
    for link in xf.route.links:
        holder = link.bulk
        if link.fixed and holder is not None and holder.rank < rank:
            _cut_back(holder, xf.env._now, xf.tracer)  # type: ignore[attr-defined,arg-type]


def succeed_at(ev: simpy.Event, delay: int) -> None:
    """``ev.succeed()`` taking effect ``delay`` ps from now: what ``succeed`` and SimPy's
    ``Timeout`` do, for an event the caller already waits on (saves a relay event)."""
    ev._ok = True  # type: ignore[attr-defined]
    ev._value = None  # type: ignore[attr-defined]
    ev.env.schedule(ev, delay=delay)


def _blocked(xf: _Transfer) -> bool:
    """Must ``xf`` wait? Behind an older transfer of its master on one of its links, or
    behind a higher-priority master on a fixed-priority link."""
    master, rank = xf.master, xf.rank
    for link in xf.route.links:
        fixed = link.fixed
        older = True
        for other in link.active:
            if other is xf:
                if not fixed:
                    break
                older = False
            elif (older and other.master == master) or (fixed and other.rank > rank):
                return True
    return False


def _fit(xf: _Transfer, now: int) -> int | None:
    """Book ``xf``'s last chunk in the gap that the lone or group bookings holding its
    links leave there, when it ends before any of them asks for one of those links again:
    then none of them would move chunk by chunk either, and they stand. Returns the end;
    None (nothing booked) when no booking holds a link of ``xf`` or it would move one.
    Traced, the bookings' intervals end at the gap and go on after it (:func:`_split`)."""
    links = xf.route.links
    start, ask = now, math.inf
    held = False
    for link in links:
        holder = link.bulk
        if holder is None or holder is xf:
            free = link.free_at
        else:
            held = True
            if isinstance(holder, _Shared):
                free, nxt = _probe(holder, link, now)
            else:
                free, nxt = _lone_at(holder, link, now)
            if link.gap_at > free:
                free = link.gap_at
            if nxt < ask:
                ask = nxt
        if free > start:
            start = free
    if not held or start >= ask:
        return None
    n = xf.remaining
    durs = [link.dur(n) if link.stretch is None else link.dur(n, _competing(link))
            for link in links]
    end = start + max(durs)
    if end >= ask:
        return None
    tracer = xf.tracer
    if tracer is not None:
        for holder in {id(link.bulk): link.bulk for link in links if link.bulk is not None
                       and link.bulk is not xf}.values():
            _split(holder, now)  # type: ignore[arg-type]
    for link, d in zip(links, durs, strict=True):
        e = start + d
        if e > link.free_at:
            link.free_at = e
        if link.bulk is not None and e > link.gap_at:
            link.gap_at = e
        book_account(link, xf.name, xf.args, start, e, n, d, tracer)
    xf.remaining = 0
    return end


def _split(holder: _Transfer | _Shared, now: int) -> None:
    """Record a lone or group booking up to its requests made by ``now`` and let it go on
    from there as a booking of its own, on the same timeline and timers: its trace
    intervals then end before a gap booked at ``now`` and start again after it."""
    if isinstance(holder, _Shared):
        stretches: list[Stretch] = []
        state = holder.group.run(*holder.start, stop=now, stretches=stretches)
        _record(holder, stretches)
        holder.start = (state.rem, state.nxt, state.seq, state.free)
        holder.probe = None
        holder.stretches = []
        holder.state = holder.group.run(*holder.start, stretches=holder.stretches)
        return
    start, n, per_chunk = holder.res  # type: ignore[misc]
    if holder.split and now < start:  # split here already
        return
    c = holder.route.chunk_bytes
    j = (now - start) // per_chunk if now > start else 0
    kept = (j + 1) * c
    if kept >= n:  # its last chunk is in progress: nothing after the gap
        return
    holder.res = (start, kept, per_chunk)
    _commit(holder, holder.tracer)
    holder.res = (start + (j + 1) * per_chunk, n - kept, per_chunk)
    holder.split = True


def _lone_at(holder: _Transfer, link: Link, now: int) -> tuple[int, float]:
    """A lone booking's end on ``link`` of its chunk in progress at ``now``, and when it
    asks for its next chunk (inf: it has none)."""
    start, n, per_chunk = holder.res  # type: ignore[misc]
    c = holder.route.chunk_bytes
    if holder.split and now < start:  # the chunk before the split is its latest
        return start - per_chunk + link.dur(c), start
    chunks = -(-n // c)
    j = (now - start) // per_chunk if now > start else 0
    if j >= chunks - 1:
        return start + (chunks - 1) * per_chunk + link.dur(n - (chunks - 1) * c), math.inf
    return start + j * per_chunk + link.dur(c), start + (j + 1) * per_chunk


def _probe(sh: _Shared, link: Link, now: int) -> tuple[int, float]:
    """A group's end of booking on ``link`` as of ``now``, and the first request of a
    member on it after ``now`` (-1 when a member's end is due at ``now``: no gap)."""
    probe = sh.probe
    if probe is None:
        sh.probe = probe = (now, sh.group.run(*sh.start, stop=now))
    elif probe[0] != now and probe[1].finisher is None:  # go on from the last probe
        was = probe[1]
        state = sh.group.run(was.rem, was.nxt, was.seq, was.free, stop=now)
        state.nbytes = [a + b for a, b in zip(was.nbytes, state.nbytes, strict=True)]
        state.busy = [a + b for a, b in zip(was.busy, state.busy, strict=True)]
        sh.probe = probe = (now, state)
    state = probe[1]
    if state.finisher is not None:
        return 0, -1
    k = sh.links.index(link)
    ask = math.inf
    for j, path in enumerate(sh.group.paths):
        if state.rem[j] and k in path and state.nxt[j] < ask:
            ask = state.nxt[j]
    return state.free[k], ask


def _alone(xf: _Transfer) -> bool:
    """No other transfer is ready to compete on any link of ``xf``'s path."""
    for link in xf.route.links:
        for other in link.active:
            if other is not xf and not other.blocked:
                return False
    return True


def _reserve(xf: _Transfer, now: int, tracer: Any, alone: bool) -> int:
    """Book the next chunk (or, ``alone`` with more than a chunk left, every remaining
    chunk: ``xf.res`` is then set); return the end of the booking on the slowest link."""
    route = xf.route
    links = route.links
    start = now
    for link in links:
        if link.free_at > start:
            start = link.free_at
    c = route.chunk_bytes
    n = xf.remaining
    if alone:
        chunks = -(-n // c)
        per_chunk = max(link.dur(c) for link in links)
        base = start + (chunks - 1) * per_chunk
        last = n - (chunks - 1) * c
        end = start
        for link in links:
            e = base + link.dur(last)
            link.free_at = e
            link.bulk = xf
            if e > end:
                end = e
        xf.res = (start, n, per_chunk)
        xf.remaining = 0
        return end
    if n > c:
        n = c
    xf.remaining -= n
    end = start
    for link in links:
        d = link.dur(n) if link.stretch is None else link.dur(n, _competing(link))
        e = start + d
        link.free_at = e
        book_account(link, xf.name, xf.args, start, e, n, d, tracer)
        if e > end:
            end = e
    return end


def _competing(link: Link) -> int:
    k = 0
    for other in link.active:
        if not other.blocked:
            k += 1
    return k


def _truncate(holder: _Transfer, now: int, tracer: Any) -> None:
    """Cut ``holder``'s multi-chunk reservation back to the chunk in progress at ``now``."""
    start, n, per_chunk = holder.res  # type: ignore[misc]
    c = holder.route.chunk_bytes
    for link in holder.route.links:
        link.bulk = None
    if holder.split and now < start:  # nothing after its split is asked for yet
        holder.res, holder.split = None, False
        holder.remaining += n
        for link in holder.route.links:
            e = start - per_chunk + link.dur(c)
            link.free_at = e if e > link.gap_at else link.gap_at
        _wake(holder, start, now)  # it asks at the split, as chunk by chunk
        return
    j = (now - start) // per_chunk if now > start else 0
    kept = (j + 1) * c
    if kept >= n:  # its last chunk is in progress: the booking stands as made
        _commit(holder, tracer)
        return
    base = start + j * per_chunk
    end = base
    for link in holder.route.links:
        e = base + link.dur(c)
        link.free_at = e if e > link.gap_at else link.gap_at
        if e > end:
            end = e
    holder.remaining += n - kept
    holder.res = (start, kept, per_chunk)
    _commit(holder, tracer)
    _wake(holder, end, now)  # the old timer is now stale


def _commit(xf: _Transfer, tracer: Any) -> None:
    """Account a multi-chunk reservation once its extent is final."""
    start, n, per_chunk = xf.res  # type: ignore[misc]
    xf.res, xf.split = None, False
    c = xf.route.chunk_bytes
    chunks = -(-n // c)
    last = n - (chunks - 1) * c
    for link in xf.route.links:
        full = link.dur(c)
        tail = link.dur(last)
        book_account(link, xf.name, xf.args, start, start + (chunks - 1) * per_chunk + tail,
                     n, (chunks - 1) * full + tail, tracer)


def book_account(link: Link, name: str, args: dict[str, Any] | None, start: int, end: int,
                 n: int, busy: int, tracer: Any) -> None:
    """Count a booking of ``n`` bytes on ``link`` over ``[start, end)`` (``busy`` ps of
    it carrying them) and, traced, record it and the link's bandwidth samples."""
    link.bytes += n
    link.busy_ps += busy
    if link.account is not None:
        link.account.busy_ps += busy
    if tracer is not None and link.traced:
        tracer.moved(link.owner, link.lane, name, link.cat, start, end, args, n)
        bandwidth_samples(link, start, end, n, tracer.counter)


Counter = Callable[[str, str, int, float], None]


def bandwidth_samples(link: Link, start: int, end: int, n: int, counter: Counter) -> None:
    """The bandwidth samples of a booking of ``n`` bytes on ``link`` over ``[start, end)``,
    passed to ``counter(path, name, t, value)``: a zero where the link was idle since its
    last booking, and the booking's rate where it differs from the last one."""
    zero_at = link.zero_at
    if zero_at is not None and start > zero_at:
        counter(link.counter_path, "bandwidth", zero_at, 0.0)
        link.rate = 0.0
    rate = n / link.clock.cycles(end - start)
    if rate != link.rate:  # back-to-back chunks at one rate need no new sample
        counter(link.counter_path, "bandwidth", start, rate)
        link.rate = rate
    link.zero_at = end


def bandwidth_idle(link: Link, counter: Counter) -> None:
    """``link`` carries nothing any more: its bandwidth falls to zero where its last
    booking ended (nothing when it has no booking since the last fall)."""
    if link.zero_at is not None:
        counter(link.counter_path, "bandwidth", link.zero_at, 0.0)
        link.zero_at = None
        link.rate = 0.0


class _Shared:
    """Transfers competing for links, booked together up to the first one's end: the
    chunk-by-chunk timeline without its events (:mod:`desim.hw.sharing`). ``start`` is
    the state the booking was made from; ``state`` the state it reached; traced, the
    links' stretches are recorded (one interval each, not one per chunk)."""

    __slots__ = ("members", "links", "group", "start", "state", "stretches", "tracer", "rank",
                 "probe")

    def __init__(self, members: list[_Transfer], links: list[Link], group: Group,
                 start: tuple[list[int], list[int], list[int], list[int]], tracer: Any):
        self.members, self.links, self.group, self.start = members, links, group, start
        self.tracer = tracer
        self.stretches: list[Stretch] | None = None
        self.state: State | None = None
        self.rank = min(m.rank for m in members)
        #: (moment, state) of the last run to a moment that looked for a gap (see _fit)
        self.probe: tuple[int, State] | None = None


def _share(xf: _Transfer, now: int) -> bool:
    """Book ``xf`` and every transfer competing with it, directly or through others,
    together; False (nothing booked) when one of them is blocked, the group is too large,
    or it would end too soon to pay for itself (:func:`_worth`). A competitor whose last
    chunk is booked joins too: the group ends when it leaves."""
    members = [xf]
    index: dict[Link, int] = {}
    links: list[Link] = []
    soon = now + _GROUP_WORTH // 2 * xf.route.pace_ps
    for m in members:  # grows as competitors are found
        for link in m.route.links:
            if link in index:
                continue
            index[link] = len(links)
            links.append(link)
            for other in link.active:
                if other.blocked or other in members:
                    continue
                if (other.res is not None or other.shared is not None
                        or len(members) == _GROUP_MAX
                        or not (other.remaining or other.route.latency_ps)):
                    return False  # (the last: its caller's own event ends it, no timer)
                if not other.remaining and other.at < soon:
                    return False  # it leaves, ending the group, before it could pay
                members.append(other)
    if not _worth(members, now):
        return False
    for m in members[1:]:
        if _blocked(m):
            return False
    key = tuple(id(m.route) for m in members)  # routes live as long as the links
    groups = xf.route.links[0].groups
    group = groups.get(key)
    if group is None:
        group = groups[key] = Group(
            links, [tuple(index[link] for link in m.route.links) for m in members],
            [m.route.chunk_bytes for m in members], [_competing(ln) for ln in links])
    start = ([m.remaining for m in members], [now] + [m.at for m in members[1:]],
             [-1] + [m.order for m in members[1:]], [link.free_at for link in links])
    sh = _Shared(members, links, group, start, xf.tracer)
    _apply(sh, now, None)
    return True


def _worth(members: list[_Transfer], now: int) -> bool:
    """Estimate the requests ``members`` (the first asking now, the others at their timers)
    make before the first of them ends, each at its pace alone on its path: at least
    ``_GROUP_WORTH``?"""
    paces, ends = [], []
    for j, m in enumerate(members):
        route = m.route
        pace = route.pace_ps
        at = now if j == 0 else m.at
        paces.append((at, pace, -(-m.remaining // route.chunk_bytes)))
        ends.append(at + paces[-1][2] * pace)
    first = min(ends)
    requests = 0
    for at, pace, chunks in paces:
        if first >= at:
            requests += min(chunks, (first - at) // pace + 1)
    return requests >= _GROUP_WORTH


def _apply(sh: _Shared, now: int, stop: int | None) -> None:
    """Run ``sh``'s group from its start to its first end (or through ``stop``) and book
    the result: bytes left, links' ends of booking, and a timer for every transfer whose
    next request moved."""
    was = sh.state
    sh.stretches = [] if sh.tracer is not None else None
    probe = sh.probe  # a run to ``stop`` made already (see _probe)
    if probe is not None and stop is not None and probe[0] == stop and sh.tracer is None:
        state = probe[1]
    else:
        state = sh.group.run(*sh.start, stop=stop, stretches=sh.stretches)
    sh.state = state
    for j, m in enumerate(sh.members):
        m.remaining = state.rem[j]
        m.shared = sh
    for k, link in enumerate(sh.links):
        free = state.free[k]
        link.free_at = free if free > link.gap_at else link.gap_at
        link.bulk = sh
    # timers already set right stay, up to the first that must move: timers set now fire
    # after those of their time set before, which must not overtake them
    nxt, seq = (was.nxt, was.seq) if was is not None else sh.start[1:3]
    pending = [(nxt[j], seq[j]) if m.timer is not None else None
               for j, m in enumerate(sh.members)]
    due = sorted(range(len(sh.members)), key=lambda j: (state.nxt[j], state.seq[j]))
    first = next((i for i, j in enumerate(due) if (state.nxt[j], state.seq[j]) != pending[j]),
                 len(due))
    for j in due[first:]:
        m = sh.members[j]
        if stop is None and j != state.finisher:
            m.timer = None  # the first to end settles the group and wakes the others then,
            continue        # so that a cut before leaves no timer behind
        _wake(m, state.nxt[j], now)


def _cut(sh: _Shared, now: int) -> None:
    """End ``sh`` at ``now``: keep what its transfers booked until then, then book them
    one by one again."""
    _apply(sh, now, now)
    _settle(sh)


def _settle(sh: _Shared) -> None:
    """Account ``sh``'s bookings once, and release its transfers and links."""
    if sh.state is None or sh.members[0].shared is not sh:
        return
    links, state = sh.links, sh.state
    now: int = sh.members[0].env._now  # type: ignore[attr-defined,assignment]
    for j in sorted((j for j, m in enumerate(sh.members) if m.timer is None),
                    key=lambda j: (state.nxt[j], state.seq[j])):
        _wake(sh.members[j], state.nxt[j], now)
    for m in sh.members:
        m.shared = None
    for link in links:
        if link.bulk is sh:
            link.bulk = None
    if sh.stretches is not None:
        _record(sh, sh.stretches)
        return
    for k, link in enumerate(links):
        busy = state.busy[k]
        link.bytes += state.nbytes[k]
        link.busy_ps += busy
        if link.account is not None:
            link.account.busy_ps += busy


def _record(sh: _Shared, stretches: list[Stretch]) -> None:
    """Account a group's stretches on its links (traced runs)."""
    for k, start, end, n, busy, mask in stretches:
        name, args = _stretch_label(sh.members, mask)
        book_account(sh.links[k], name, args, start, end, n, busy, sh.tracer)


def _stretch_label(members: list[_Transfer], mask: int) -> tuple[str, dict[str, Any] | None]:
    """Name and arguments of a stretch: its transfer's, or "shared" and the names and
    masters of the transfers that alternated in it."""
    who = [m for j, m in enumerate(members) if mask >> j & 1]
    if len(who) == 1:
        return who[0].name, who[0].args
    return "shared", {"transfers": " + ".join(m.name for m in who),
                      "masters": " + ".join(str((m.args or {}).get("master", "")) for m in who)}


def _leave(xf: _Transfer, tracer: Any) -> None:
    """Remove ``xf`` from its links, then book the transfers it was holding back."""
    links = xf.route.links
    for link in links:
        active = link.active
        active.remove(xf)
        if link.bulk is xf:
            link.bulk = None
        if not active and tracer is not None:
            bandwidth_idle(link, tracer.counter)
    for link in links:
        masters: list[Any] = []
        for other in link.active:
            master = other.master
            if other.blocked and master not in masters:  # else: behind its master's older
                other.blocked = False
                _advance(other)
            masters.append(master)


def instant() -> Generator[simpy.Event, Any, None]:
    """A transfer or access that takes no time (nothing to move)."""
    yield from ()


# -- the interconnect component ---------------------------------------------------------

class Interconnect(Component):
    """Transfers between the nodes of a link graph, sharing each link's bandwidth."""

    kind = "interconnect"

    def __init__(self, parent: Component, name: str, graph: nx.DiGraph,
                 spec: InterconnectSpec | None = None, clock: Clock | None = None,
                 clocks: Iterable[Clock] = ()):
        super().__init__(parent, name, clock, spec or InterconnectSpec())
        self.graph = graph
        domains = {c.name: c for c in clocks}
        self.links: dict[str, Link] = {}
        self._edge_links: dict[tuple[str, str], Link] = {}
        for a, b, data in graph.edges(data=True):
            lspec = _edge_spec(self.path, a, b, data)
            if lspec.clock and lspec.clock not in domains:
                known = ", ".join(sorted(domains)) or "none given"
                raise SpecError(f"{self.path}: link {a}->{b} uses clock '{lspec.clock}', which "
                                f"is not among the clocks passed to the interconnect ({known}); "
                                "pass it in clocks=[...] or leave LinkSpec.clock empty")
            lname = f"{a}->{b}"
            link = Link(lname, self.path, lname, "transfer",
                        domains[lspec.clock] if lspec.clock else self.clock,
                        lspec.bandwidth_bytes_per_cycle, lspec.latency_cycles,
                        lspec.chunk_bytes, fixed=lspec.arbitration == "fixed_priority")
            self.links[lname] = link
            self._edge_links[(a, b)] = link
        self._routes: dict[tuple[str, str], Route] = {}
        self._ranks: dict[str, int] = {}

    # -- routing -------------------------------------------------------------------------

    def route(self, src: str, dst: str) -> Route:
        """The lowest-latency path from ``src`` to ``dst`` (SpecError when there is none)."""
        key = (src, dst)
        route = self._routes.get(key)
        if route is not None:
            return route
        for node in key:
            if node not in self.graph:
                nodes = ", ".join(sorted(map(str, self.graph.nodes)))
                raise SpecError(f"{self.path}: unknown node '{node}'; nodes are: {nodes}")
        links = self._edge_links
        try:
            nodes = nx.shortest_path(
                self.graph, src, dst,
                weight=lambda a, b, _d: links[(a, b)].latency_ps * 1_000_000 + 1)
        except nx.NetworkXNoPath:
            reach = sorted(nx.descendants(self.graph, src))
            raise SpecError(f"{self.path}: no path from '{src}' to '{dst}' (from '{src}' one "
                            f"reaches: {', '.join(reach) or 'nothing'}); add a link with "
                            "add_link(graph, a, b, spec)") from None
        path = tuple(links[(a, b)] for a, b in zip(nodes, nodes[1:], strict=False))
        route = Route(src, dst, path, sum(link.latency_ps for link in path),
                      min((link.chunk_bytes for link in path), default=1))
        self._routes[key] = route
        return route

    def check_routes(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Validate at elaboration that every (src, dst) pair has a path."""
        for src, dst in pairs:
            self.route(src, dst)

    def idle_ps(self, src: str, dst: str, nbytes: int) -> int:
        """Duration of a transfer of ``nbytes`` on an idle path (the module's formula)."""
        route = self.route(src, dst)
        if nbytes <= 0 or not route.links:
            return 0
        c = route.chunk_bytes
        chunks = -(-nbytes // c)
        per_chunk = max(link.dur(c) for link in route.links)
        tail = max(link.dur(nbytes - (chunks - 1) * c) for link in route.links)
        return route.latency_ps + (chunks - 1) * per_chunk + tail

    # -- transfers -----------------------------------------------------------------------

    def transfer(self, src: str, dst: str, nbytes: int, master: str = "", name: str = ""
                 ) -> Generator[simpy.Event, Any, None]:
        """Move ``nbytes`` from node ``src`` to node ``dst``; use as ``yield from``.

        Returns when the last byte has arrived. ``master`` names the issuing port: its
        transfers are served in issue order, and different masters share each link by its
        arbitration (empty: this transfer is a master of its own). ``name`` labels the
        trace intervals (default ``src->dst``).
        """
        route = self._check(src, dst, nbytes)
        if nbytes == 0 or not route.links:
            return instant()
        return stream(self.env, route, nbytes, master, self.rank(master), *self._label(
            route, nbytes, master, name))

    def sender(self, src: str, dst: str, master: str = "", name: str = ""
               ) -> Callable[[int], simpy.Event | None]:
        """:meth:`transfer` from ``src`` to ``dst`` for ``master`` and ``name`` as a
        function of the bytes, started now for callers that wait through callbacks (the
        event triggers when the last byte has arrived; None: nothing to move), the path
        looked up once: for a DMA's bursts."""
        route = self._check(src, dst, 0)
        env, rank, label = self.env, self.rank(master), self._label

        def send(nbytes: int) -> simpy.Event | None:
            if not route.links or not nbytes:
                return None
            return launch(env, route, nbytes, master, rank, *label(route, nbytes, master, name))

        return send

    def _check(self, src: str, dst: str, nbytes: int) -> Route:
        route = self._routes.get((src, dst)) or self.route(src, dst)
        if not isinstance(nbytes, int) or nbytes < 0:
            raise SpecError(f"{self.path}: transfer {src}->{dst} of {nbytes!r} bytes; "
                            "give a non-negative integer byte count")
        return route

    def _label(self, route: Route, nbytes: int, master: str, name: str
               ) -> tuple[Any, str, dict[str, Any] | None]:
        """Count a transfer; its tracer, trace name and arguments."""
        self.counters["bytes"] += nbytes
        self.counters["transfers"] += 1
        tracer = self._tracer
        args = ({"src": route.src, "dst": route.dst, "master": master}
                if tracer is not None else None)
        return tracer, name or f"{route.src}->{route.dst}", args

    def rank(self, master: str) -> int:
        """Priority of ``master`` on fixed-priority links (higher wins; unlisted: 0)."""
        rank = self._ranks.get(master)
        if rank is None:
            order = self.spec.priority
            rank = 0
            for i, entry in enumerate(order):
                if master == entry or master.startswith(entry + "."):
                    rank = len(order) - i
                    break
            self._ranks[master] = rank
        return rank

    # -- statistics ----------------------------------------------------------------------

    def link_stats(self) -> dict[str, dict[str, float]]:
        """Per link: bytes carried, busy ps, and utilisation of its bandwidth so far."""
        now = self.env.now
        out = {}
        for name, link in self.links.items():
            peak = now / link.ps_per_byte if now else 0.0
            out[name] = {"bytes": link.bytes, "busy_ps": link.busy_ps,
                         "utilization": round(link.bytes / peak, 6) if peak else 0.0}
        return out


def _edge_spec(owner: str, a: str, b: str, data: dict[str, Any]) -> LinkSpec:
    """The LinkSpec of an edge: its ``spec`` attribute, or one built from plain attributes."""
    spec = data.get("spec")
    if isinstance(spec, LinkSpec):
        return spec
    if spec is not None:
        raise SpecError(f"{owner}: link {a}->{b} has spec={spec!r}; give a LinkSpec")
    names = {"bandwidth": "bandwidth_bytes_per_cycle", "latency": "latency_cycles",
             "arbitration": "arbitration", "clock": "clock", "chunk_bytes": "chunk_bytes"}
    unknown = sorted(set(data) - set(names))
    if unknown or "bandwidth" not in data:
        raise SpecError(f"{owner}: link {a}->{b} needs a 'spec' (LinkSpec) or a 'bandwidth' "
                        f"attribute; unknown attributes: {', '.join(unknown) or 'none'} "
                        f"(known: spec, {', '.join(names)})")
    try:
        return LinkSpec(**{names[k]: v for k, v in data.items()})
    except SpecError as exc:
        raise SpecError(f"{owner}: link {a}->{b}: {exc}") from None
