"""Burst runs: a DMA channel's bursts from the DRAM into an SRAM, replayed compiled while
the channel has the DRAM, its link and the SRAM's port to itself.

Burst by burst (:mod:`desim.hw.dma`) a burst of a DRAM-to-SRAM copy costs six events:
the DRAM's completion timer and event, the crossing's end and arrival, the port write's
end and arrival. While no other master uses the DRAM controller, the crossing link or the
SRAM port, the pipeline of the channel's W slots is a function of the channel alone. A
run replays it in one compiled loop (:mod:`desim.hw.burst_run_jit`): the same steps in
the order the kernel would take them (time, then the order they were scheduled in), the
DRAM engine offered and completing accesses as the DRAM component does, the link and
port booked as the interconnect books a one-chunk transfer, counters and energy added as
burst by burst adds them. It keeps one event: the moment it hands the pipeline back to the
slots, strictly between two of its steps: the last such moment before the job's last step
(which ends burst by burst, with the job).

Anything else that uses the link or the port, accesses the DRAM or reads its state cuts
the run back first: the loop is replayed from the run's start up to that moment and the
slots go on from there, as burst by burst would have them. The one difference: the run's
own steps of that very picosecond come after the newcomer.

A run forms when every slot of the channel waits on a DRAM access, the DRAM holds no
other access, the link and port carry nothing, the DRAM's requests are not recorded, and
at least ``2 W`` bursts are left. Traced, the loop logs the records burst by burst makes
(the DRAM's queue depth and bus intervals, the link's and port's bookings and bandwidth)
and the run adds them to the trace when it hands back, in the same order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from desim.hw import burst_run_jit as jit
from desim.hw.dram.jit import INF
from desim.hw.interconnect import Link, adopt, bandwidth_idle, bandwidth_samples, succeed_at
from desim.kernel.clock import PS_PER_S

if TYPE_CHECKING:
    from desim.hw.dma import Dma, _Channel, _Slot
    from desim.hw.dram.fast import FastDramEngine


class _State:
    """Where a replay stands: the arrays :func:`burst_run_jit.replay` advances."""

    __slots__ = ("V", "H", "SL", "F", "IDLE", "WR", "TL")

    def __init__(self, V: np.ndarray, H: np.ndarray, SL: np.ndarray, W: int, nb: int,
                 traced: bool):
        self.V, self.H, self.SL = V.copy(), H.copy(), SL.copy()
        self.F = np.zeros((2, W), np.int64)
        self.IDLE = np.zeros(W, np.int64)
        self.WR = np.zeros(nb, np.int64)
        #: the trace records of the steps taken (at most seven a burst, and completions)
        self.TL = np.zeros((8 * nb + 64 if traced else 1, 5), np.int64)


class BurstRun:
    """The bursts of one channel's job between two hand-offs (see the module)."""

    def __init__(self, dma: Dma, ch: _Channel, slots: list[_Slot],
                 bursts: list[tuple[int, int, int]]):
        job = ch.job
        assert job is not None
        self.dma, self.ch, self.slots = dma, ch, slots
        #: the bursts go from the SRAM to the DRAM (else from the DRAM to the SRAM)
        self.write = ch.runs == "dst"
        self.dram, self.sram = ((job.dst.target, job.src.target) if self.write
                                else (job.src.target, job.dst.target))
        self.env = dma.env
        self.t0: int = self.env._now  # type: ignore[attr-defined,assignment]
        hop = dma.ic.route(job.src.node, job.dst.node)
        self.routes = (hop, self.sram._route)
        self.links: tuple[Link, Link] = (hop.links[0], self.sram.port)
        self.rank = dma.ic.rank(ch.master)
        self.tracer = dma._tracer
        #: the bursts the slots hold, then those the channel has yet to take
        self.rows = [s.burst for s in slots] + bursts
        dram, engine = self.dram, self.dram.engine
        self.timer0: simpy.Event | None = dram._timer
        self.snapshot = _fork(engine)
        self.K, self.B = self._constants()
        W = len(slots)
        V = np.zeros(jit.NV, np.int64)
        H = np.zeros((16 * W + 64, 5), np.int64)
        V[jit.V_NOW], V[jit.V_SEQ] = self.t0, 1
        V[jit.V_DUE] = -1 if dram._due is None else dram._due
        if dram._due is not None:  # the component's own timer, set before the run
            H[0] = (dram.clock.ps(dram._due), 0, jit.TIMER, 0, 0)
            V[jit.V_HEAP] = 1
        V[jit.V_ACTIVE], V[jit.V_SINCE] = dram._active, dram._busy_since
        V[jit.V_FREE0], V[jit.V_FREE1] = (link.free_at for link in self.links)
        V[jit.V_NEXT], V[jit.V_LEFT] = W, ch.left
        V[jit.V_SID] = engine.next_sid
        SL = np.zeros((W, jit.NSL), np.int64)
        sid_of = {id(ev): sid for sid, ev in engine._tags.items()}
        for j, s in enumerate(slots):
            access: Any = s.access  # the DRAM's _Access: its start is the offer's time
            SL[j] = (j, jit.AT_DRAM, sid_of[id(access)], access.start)
        self.start = (V, H, SL)
        self.end: _State | None = None
        self.timer: simpy.Event | None = None

    def _constants(self) -> tuple[np.ndarray, np.ndarray]:
        dram, links = self.dram, self.links
        f = dram.clock.freq_hz
        K = np.zeros(jit.NK, np.int64)
        K[jit.K_W], K[jit.K_NB], K[jit.K_TXN] = len(self.slots), len(self.rows), dram._txn
        K[jit.K_WRITE] = self.write
        K[jit.K_LAT0], K[jit.K_LAT1] = (route.latency_ps for route in self.routes)
        K[jit.K_F], K[jit.K_QA], K[jit.K_QB] = f, PS_PER_S // f, PS_PER_S % f
        K[jit.K_TIMER0] = self.timer0 is not None
        K[jit.K_TRACE] = self.tracer is not None
        txn = dram._txn
        rows = np.asarray(self.rows, np.int64)
        offset = rows[:, 1 if self.write else 0] - dram.base
        n = rows[:, 2]
        sizes, which = np.unique(n, return_inverse=True)  # (bursts come in a few sizes)
        B = np.empty((len(rows), jit.NBF), np.int64)
        B[:, jit.B_FIRST] = offset // txn * txn
        B[:, jit.B_COUNT] = ((offset + n - 1) // txn * txn - B[:, jit.B_FIRST]) // txn + 1
        B[:, jit.B_BYTES] = n
        for k, link in enumerate(links):
            B[:, jit.B_D0 + k] = np.asarray([link.dur(int(b)) for b in sizes], np.int64)[which]
        return K, B

    # -- forming -------------------------------------------------------------------------

    @classmethod
    def form(cls, dma: Dma, ch: _Channel, slots: list[_Slot]) -> BurstRun | None:
        """A run for ``ch``'s job from now, or None when it cannot run one (see the
        module)."""
        job = ch.job
        if job is None or ch.bursts is None:
            return None
        dram, sram = ((job.dst.target, job.src.target) if ch.runs == "dst"
                      else (job.src.target, job.dst.target))
        engine = dram.engine
        tags = getattr(engine, "_tags", None)  # (the compiled engine's)
        if tags is None or len(tags) != len(slots) or sram.port.active or dram._log is not None:
            return None
        hop = dma.ic.route(job.src.node, job.dst.node)
        if len(hop.links) != 1:
            ch.runs = None  # (the same for the rest of the job)
            return None
        links = (hop.links[0], sram.port)
        if links[0] is links[1] or any(
                link.active or link.bulk is not None or link.burst_run is not None
                or link.fixed for link in links):
            return None
        waits = {id(ev) for ev in tags.values()}
        if any(s.job is not job or id(s.access) not in waits for s in slots):
            return None
        bursts = list(ch.bursts)
        ch.bursts = iter(bursts)
        if len(bursts) < 2 * len(slots) or max(b[2] for b in bursts) > min(
                hop.chunk_bytes, sram._route.chunk_bytes):
            ch.runs = None  # too few bursts left, or too large: for the rest of the job
            return None
        run = cls(dma, ch, slots, bursts)
        end = run._replay(engine, jit.NO_LIMIT)
        if end is None:  # no moment to hand back at before the job's end
            dram.engine = run.snapshot
            ch.runs = None
            return None
        run.end = end
        run._hold()
        return run

    def _hold(self) -> None:
        """Take the resources: guards on, the component's timer set aside, the hand-back
        timer set."""
        assert self.end is not None
        dram = self.dram
        dram._burst_run = self
        dram._timer = None  # it may fire during the run: stale then
        for link in self.links:
            link.burst_run = self
        for s in self.slots:
            s.access = None
        self.dma.sim.ahead.add(self.cut)
        self.timer = ev = simpy.Event(self.env)
        ev.callbacks.append(self._hand_back)
        succeed_at(ev, int(self.end.V[jit.V_NOW]) - self.t0)

    # -- the replay ----------------------------------------------------------------------

    def _replay(self, engine: FastDramEngine, limit: int) -> _State | None:
        """Replay the run's steps from its start on ``engine``: those before ``limit``;
        with NO_LIMIT, up to the last moment to hand back at (see the module). None: the
        job would end first (or the run outgrew its arrays: no run)."""
        W, nb = len(self.slots), len(self.rows)
        r = _State(*self.start, W, nb, self.tracer is not None)
        V = r.V
        V[jit.V_TIMER0_FIRED] = self.timer0 is not None and self.timer0.callbacks is None
        dram = self.dram
        # where the last moment to hand back at is kept (a cut's replay keeps none); the
        # engine's arrays are made there when first needed
        kept = (r.V.copy(), r.H.copy(), r.SL.copy(), r.F.copy())
        none = np.empty(0, np.int64)
        while True:
            outcome, S, A = jit.replay(engine._S, engine._scratch(), engine._R, engine._out,
                                       self.K, self.B, V, r.H, r.SL, r.F, r.IDLE, r.WR,
                                       r.TL, limit, none, none, *kept)
            engine._S, engine._ahead = S, A
            if outcome != jit.PYTHON:
                break
            engine.next_sid = int(V[jit.V_SID])
            if V[jit.V_PY] == jit.PY_OFFER:
                i = int(r.SL[V[jit.V_SLOT], jit.SL_ITEM])
                first, count = int(self.B[i, jit.B_FIRST]), int(self.B[i, jit.B_COUNT])
                cycle = engine.offer(dram.clock.edge_index(int(V[jit.V_NOW])), first, count,
                                     dram._txn, self.write, None)
                V[jit.V_SID] = engine.next_sid
                if self.tracer is not None:  # the depth the offer left, as the run logs it
                    r.TL[V[jit.V_NTL]] = (jit.T_DEPTH, V[jit.V_NOW], engine.queue_depth, 0, 0)
                    V[jit.V_NTL] += 1
            else:
                cycle = engine._looked(int(V[jit.V_CODE]), INF)
            V[jit.V_ARG] = -1 if cycle is None else cycle
        engine.next_sid = int(V[jit.V_SID])
        return None if outcome in (jit.JOB_ENDS, jit.FULL) else r  # (FULL: no run)

    # -- handing back ----------------------------------------------------------------------

    def _hand_back(self, ev: simpy.Event) -> None:
        if ev is self.timer and self.end is not None:
            self._release(self.end)

    def cut(self) -> None:
        """Bring the pipeline to now and hand it back to the slots (something else is
        about to use one of the run's resources)."""
        now: int = self.env._now  # type: ignore[attr-defined,assignment]
        assert self.end is not None
        if now == self.end.V[jit.V_NOW]:
            self._release(self.end)
            return
        self.dram.engine = engine = self.snapshot
        r = self._replay(engine, now)
        assert r is not None
        self._release(r)

    def _release(self, r: _State) -> None:
        """Hand the pipeline back as it stands in ``r`` (at the current time)."""
        now: int = self.env._now  # type: ignore[attr-defined,assignment]
        dram, sram, ch, ic = self.dram, self.sram, self.ch, self.dma.ic
        V, SL = r.V, r.SL
        self.timer = None
        self.end = None
        dram._burst_run = None
        for link in self.links:
            link.burst_run = None
        self.dma.sim.ahead.discard(self.cut)
        # counters, energy and busy time, in the order burst by burst adds them
        dram.counters["bytes_written" if self.write else "bytes_read"] += int(V[jit.V_MOVED])
        dram.counters["accesses"] += int(V[jit.V_ACCESSES])
        dram.counters["transactions"] += int(V[jit.V_TXNS])
        dram._active, dram._busy_since = int(V[jit.V_ACTIVE]), int(V[jit.V_SINCE])
        dram.busy_ps += int(V[jit.V_DRAM_BUSY])
        dram._synced = (None, -1)
        for n in r.WR[:V[jit.V_NWR]].tolist():
            sram.account(n, not self.write)
        ic.counters["bytes"] += int(V[jit.V_CBYTES])
        ic.counters["transfers"] += int(V[jit.V_CROSSED])
        for k, link in enumerate(self.links):
            link.free_at = int(V[jit.V_FREE0 + k])
            if self.tracer is not None:
                continue  # accounted with the trace below
            busy = int(V[jit.V_BUSY0 + k])
            link.bytes += int(V[jit.V_NB0 + k])
            link.busy_ps += busy
            if link.account is not None:
                link.account.busy_ps += busy
        if self.tracer is not None:
            self._trace(r.TL[:V[jit.V_NTL]].tolist())
        # the slots, where the replay left them
        slots, master, rows = self.slots, ch.master, self.rows
        W = len(slots)
        for j, s in enumerate(slots):
            s.job, s.burst = ch.job, rows[SL[j, jit.SL_ITEM]]
        engine = dram.engine
        engine._tags = {}
        for j, s in enumerate(slots):
            if SL[j, jit.SL_PHASE] == jit.AT_DRAM:
                src, dst, n = s.burst
                s.access = engine._tags[int(SL[j, jit.SL_SID])] = dram.access_event(
                    dst if self.write else src, n, self.write, master,
                    int(SL[j, jit.SL_START]), self._after(k=2, j=j))
        # pending steps become events, in the order they were scheduled
        dram._due = None if V[jit.V_DUE] < 0 else int(V[jit.V_DUE])
        H = r.H[:V[jit.V_HEAP]]
        for t, _, kind, a, b in H[np.argsort(H[:, 1])].tolist():
            if kind == jit.TIMER:
                if a != V[jit.V_GEN]:
                    continue
                if a == 0 and self.timer0 is not None:
                    dram._timer = self.timer0  # still in the queue: its place kept
                else:
                    dram._timer = dram.arm(t - now)
            elif kind == jit.END:
                self._adopt(a, b, t, now)
            elif kind == jit.ARRIVE:
                ev = simpy.Event(self.env)
                ev.callbacks.append(self._after(a, b))
                succeed_at(ev, t - now)
            else:
                raise AssertionError("a DRAM access is done but not taken up")
        for k in (0, 1):  # the transfers waiting behind the one booked
            head = int(V[jit.V_HEAD0 + k])
            for i in range(1, int(V[jit.V_LEN0 + k])):
                self._adopt(k, int(r.F[k, (head + i) % W]), None, now)
        ch.left = int(V[jit.V_LEFT])
        ch.bursts = iter(rows[V[jit.V_NEXT]:])
        for j in r.IDLE[:V[jit.V_NIDLE]].tolist():
            ev = simpy.Event(self.env)
            ch.idle.append(ev)
            ev.callbacks.append(slots[j].take)

    def _adopt(self, k: int, j: int, end: int | None, now: int) -> None:
        """Slot ``j``'s transfer on link ``k`` as a real one: booked until ``end``, or
        (None) waiting behind the one ahead of it."""
        rank = self.rank if k == 0 else 0
        src, dst, n = self.slots[j].burst
        name, args = self._label(k, src, dst) if self.tracer is not None else ("", None)
        done = adopt(self.env, self.routes[k], n, self.ch.master, rank, end, now,
                     self.tracer, name, args)
        done.callbacks.append(self._after(k, j))

    def _label(self, k: int, src: int, dst: int) -> tuple[str, dict[str, Any]]:
        """Trace name and arguments of a burst's transfer on link ``k``, as the
        interconnect (0) or the SRAM (1) labels it."""
        master = self.ch.master
        if k == 0:
            route = self.routes[0]
            job = self.ch.job
            name = (job.name if job is not None else "") or f"{route.src}->{route.dst}"
            return name, {"src": route.src, "dst": route.dst, "master": master}
        return ("read" if self.write else "write",
                {"master": master, "addr": src if self.write else dst})

    def _trace(self, log: list[list[int]]) -> None:
        """Record the run's steps in the trace, as burst by burst records them (each
        booking as :func:`~desim.hw.interconnect.book_account` does), handed to the
        recorder together."""
        tracer, dram, rows, links = self.tracer, self.dram, self.rows, self.links
        assert tracer is not None
        op = "write" if self.write else "read"
        master, write, path = self.ch.master, self.write, dram.path
        cross = self._label(0, 0, 0)
        port = "read" if write else "write"
        by = {"master": master}  # the DRAM's and the port's records: plus addr and bytes
        intervals: list[tuple[Any, ...]] = []
        samples: list[tuple[str, str, int, float]] = []

        def counter(p: str, name: str, t: int, value: float) -> None:
            samples.append((p, name, t, value))

        nbytes, busy = [0, 0], [0, 0]
        for kind, t, end, a, b in log:
            if kind == jit.T_DEPTH:
                samples.append((path, "queue_depth", t, end))
            elif kind == jit.T_BUS:
                src, dst, n = rows[a]
                intervals.append((path, "bus", op, "dram", t, end, by, n,
                                  dst if write else src))
            elif kind == jit.T_BOOK:
                src, dst, n = rows[b]
                link = links[a]
                nbytes[a] += n
                busy[a] += end - t
                if link.traced:
                    if a == 0:
                        intervals.append((link.owner, link.lane, cross[0], link.cat, t, end,
                                          cross[1], n))
                    else:
                        intervals.append((link.owner, link.lane, port, link.cat, t, end, by,
                                          n, src if write else dst))
                    bandwidth_samples(link, t, end, n, counter)
            else:  # the link is left with nothing on it
                bandwidth_idle(links[a], counter)
        tracer.add(intervals, samples)
        for k, link in enumerate(links):
            link.bytes += nbytes[k]
            link.busy_ps += busy[k]
            if link.account is not None:
                link.account.busy_ps += busy[k]

    def _after(self, k: int, j: int) -> Any:
        """What slot ``j`` does when its step ends on link ``k`` (0: the interconnect, 1:
        the port, 2: the DRAM)."""
        s = self.slots[j]
        if k == 0:
            return s._crossed
        if (k == 1) == self.write:
            return s._read
        return s._written


def _fork(engine: FastDramEngine) -> FastDramEngine:
    """A copy of ``engine`` with its look ahead: a completion planned from it commits the
    same state."""
    twin = engine.fork()
    if engine._ahead is not None:
        twin._ahead = engine._ahead.copy()
    return twin
