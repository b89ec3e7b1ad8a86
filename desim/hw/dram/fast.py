"""FastDramEngine: the DRAM controller engine with its command scheduler compiled by numba.

Same model, same API and the same results as :class:`desim.hw.dram.controller.DramEngine`
(the event-level reference, pure Python): the per-cycle work (refresh, command issue,
transaction moves, front end) runs in :func:`desim.hw.dram.jit.run` on the engine's state
vector; this class holds it, adds streams, makes room when the kernel asks, and answers
the statistics. A fork is one copy of the vector (40 KB for DDR4-3200, 27 KB for
LPDDR4-2400).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from desim.hw.dram import jit
from desim.hw.dram.controller import (
    INF,
    Location,
    address_fields,
    command_stats,
    decode,
    energy,
    rank_states,
)
from desim.hw.dram.spec import DramSpec

_KINDS = ("ACT", "PRE", "RD", "WR", "REF")


class FastDramEngine:
    """The controller and its devices, compiled; drive it like :class:`DramEngine`."""

    def __init__(self, spec: DramSpec, log: bool = False):
        self.spec = spec
        self.fields = address_fields(spec)
        self.burst = spec.burst_cycles
        self.lowpower = bool(spec.powerdown_after or spec.self_refresh_after)
        self._S = jit.build(spec, self.fields, log)
        self._R = np.zeros((1, 3), np.int64)  # requests of list streams (replaced, not written)
        self._out = np.empty((int(self._S[jit.CAP_SM]), 2), np.int64)  # of pop_done
        self._ahead: np.ndarray | None = None    # the state lookahead() ran
        self._hist: dict[int, int] = {}       # folded latencies (replaced, never mutated)
        self._log: list[tuple[int, str, int, int]] | None = [] if log else None
        self._tags: dict[int, Any] = {}
        self.next_sid = 0
        self.advance(0)  # the first call in a process loads the compiled kernel

    # -- public API (as DramEngine) ----------------------------------------------------

    @property
    def now(self) -> int:
        """The first cycle not yet simulated."""
        return int(self._S[jit.NOW])

    def decode(self, addr: int) -> Location:
        """The rank, bank group, bank, row and column an address maps to."""
        return decode(self.fields, addr)

    def submit(self, addrs: Sequence[int], writes: bool | Sequence[bool],
               arrivals: int | Sequence[int], tag: Any = None) -> int:
        """Add a stream of requests (see :meth:`DramEngine.submit`); returns its id."""
        sid = self.next_sid
        self.next_sid += 1
        self._tags[sid] = tag
        if type(addrs) is range and type(writes) is bool and type(arrivals) is int:
            # the component's case: consecutive transactions, one direction, one arrival
            n = len(addrs)
            while jit.add_stream(self._S, sid, n, addrs.start, addrs.step, int(writes),
                                 arrivals, -1, arrivals) < 0:
                self._grow(jit.CAP_SM)
            return sid
        n = len(addrs)
        write = int(writes) if isinstance(writes, bool | np.bool_) else -1
        arrival = int(arrivals) if isinstance(arrivals, int | np.integer) else -1
        base = stride = 0
        off = -1
        if isinstance(addrs, range) and write >= 0 and arrival >= 0:
            base, stride = addrs.start, addrs.step
        elif n:
            block = np.empty((n, 3), np.int64)
            block[:, 0] = addrs
            block[:, 1] = writes
            block[:, 2] = arrivals
            off = len(self._R)
            self._R = np.concatenate((self._R, block))  # forks keep the old array
        first = arrival if arrival >= 0 else int(block[0, 2]) if n else 0
        args = (sid, n, base, stride, write, arrival, off, first)
        while jit.add_stream(self._S, *args) < 0:
            self._grow(jit.CAP_SM)
        return sid

    def close_input(self) -> None:
        """No more streams will come: leftover buffered writes drain once queues are empty."""
        self._S[jit.CLOSED] = 1

    def next_event(self) -> int | None:
        """Next cycle at which the controller can act; None if it never will."""
        S = self._S
        t = min(S[jit.REF_NEXT], S[jit.MOVE_AT], S[jit.FE_AT], jit.cmd_next(S))
        return None if t >= INF else int(max(t, S[jit.NOW]))

    def advance(self, until: int) -> None:
        """Simulate every cycle before ``until``."""
        S = self._S
        if jit.run(S, self._R, until, False, False) != jit.OK:
            self._S = self._run(S, until, False, False)  # make room, go on

    def run_until_output(self, limit: int = INF) -> int | None:
        """Simulate until a stream completion is known; return its cycle (see
        :meth:`DramEngine.run_until_output`)."""
        S = self._S
        if not S[jit.N_STREAMS] and S[jit.DONE_MIN] >= INF:
            return None
        S = self._S = self._run(S, limit, True, False)
        done = S[jit.DONE_MIN]
        return int(done) if done <= S[jit.NOW] else None

    def pop_done(self, until: int) -> list[tuple[int, Any]]:
        """Remove and return ``(cycle, tag)`` of the streams completed by ``until``."""
        n = jit.pop_done(self._S, until, self._out)
        if not n:
            return []
        tags = self._tags
        return [(cycle, tags.pop(sid)) for cycle, sid in self._out[:n].tolist()]

    def finish(self) -> int:
        """Close the input and simulate until every request is served; return the cycle."""
        S = self._S
        S[jit.CLOSED] = 1
        S[jit.MOVE_AT] = S[jit.NOW]
        self._S = self._run(S, INF, False, True)
        return self.now

    def fork(self) -> FastDramEngine:
        """An independent copy of the engine in its current state."""
        twin = FastDramEngine.__new__(FastDramEngine)
        twin.__dict__.update(self.__dict__)
        twin._S = self._S.copy()
        twin._ahead = None
        twin._tags = dict(self._tags)
        if self._log is not None:
            twin._log = list(self._log)
        return twin

    def lookahead(self, limit: int = INF) -> int | None:
        """Run a copy of the engine to the next stream completion and return its cycle (as
        :meth:`run_until_output` would); :meth:`commit` makes that copy the engine."""
        S, ahead = self._S, self._scratch()
        return self._looked(jit.look(S, ahead, self._R, limit), limit)

    def offer(self, until: int, first: int, n: int, stride: int, write: bool, tag: Any
              ) -> int | None:
        """Advance to cycle ``until``, offer ``n`` requests from address ``first``,
        ``stride`` apart, arriving then (one stream, ``tag``), and return
        :meth:`lookahead`: what a memory access asks of the engine, in one compiled call."""
        S, ahead = self._S, self._scratch()
        sid = self.next_sid
        code = jit.offer(S, ahead, self._R, until, sid, n, first, stride, int(write))
        if code == jit.NOT_OFFERED:  # room to make first: step by step
            self.advance(until)
            self.submit(range(first, first + n * stride, stride), write, self.now, tag)
            return self.lookahead()
        self.next_sid = sid + 1
        self._tags[sid] = tag
        return self._looked(code, INF)

    def complete(self, until: int) -> tuple[list[Any], int | None]:
        """:meth:`commit`, then the tags of the streams done by ``until`` (in completion
        order) and :meth:`lookahead`'s next completion: a planned completion, in one
        compiled call."""
        self.commit()
        S, ahead = self._S, self._scratch()
        n, code = jit.complete(S, ahead, self._R, until, self._out)
        tags = self._tags
        done = [tags.pop(sid) for sid in self._out[:n, 1].tolist()] if n else []
        return done, self._looked(code, INF)

    def _scratch(self) -> np.ndarray:
        """The array a compiled look ahead copies the engine into (kept between calls)."""
        ahead = self._ahead
        if ahead is None or len(ahead) != len(self._S):
            ahead = self._ahead = self._S.copy()
        return ahead

    def _looked(self, code: int, limit: int) -> int | None:
        """The next completion from a compiled look ahead's outcome ``code``."""
        if code >= 0:
            return int(code)
        if code == jit.NOTHING:
            self._ahead = None
            return None
        S = self._S
        if code == jit.FOLD:  # here, not in the copy: it may be dropped
            if 2 * S[jit.LAT_N] > S[jit.CAP_LAT]:
                self._fold_latencies()
            if self._log is not None and 2 * S[jit.LOG_N] > S[jit.CAP_LOG]:
                self._fold_log()
            return self.lookahead(limit)
        if code == jit.STALLED:
            raise RuntimeError("DRAM engine: requests left but nothing can happen")
        ahead = self._ahead
        assert ahead is not None  # the compiled call ran it
        if code == jit.NEEDS_ROOM:
            ahead = self._ahead = self._run(self._make_room(ahead), limit, True, False)
        done = ahead[jit.DONE_MIN]
        return int(done) if done <= ahead[jit.NOW] else None

    def commit(self) -> None:
        """Continue from the copy the last :meth:`lookahead` ran."""
        if self._ahead is None:
            raise RuntimeError("DRAM engine: commit() needs a lookahead() first")
        self._S, self._ahead = self._ahead, self._S

    # -- statistics ------------------------------------------------------------------

    @property
    def lat_hist(self) -> dict[int, int]:
        """Read latencies so far, {cycles from entering the queue to the last beat: count}."""
        self._fold_latencies()
        return self._hist

    @property
    def log(self) -> list[tuple[int, str, int, int]] | None:
        """With ``log``: every command issued, as in :attr:`DramEngine.log`."""
        self._fold_log()
        return self._log

    @property
    def last_data_end(self) -> int:
        """Cycle the last data transfer (read or write) ends."""
        return int(self._S[jit.LAST_DATA_END])

    @property
    def queue_depth(self) -> int:
        """Requests inside the controller: read queue, write buffer and command queues."""
        S = self._S
        return int(S[jit.RQ_N] + S[jit.WQ_N] + S[jit.N_CMD])

    def active_cycles_of(self, rank: int, until: int) -> int:
        """Cycles before ``until`` during which ``rank`` had a bank open."""
        r = self._rank(rank)
        extra = until - r[jit.ACTIVE_SINCE] if r[jit.OPEN_CNT] else 0
        return int(r[jit.ACTIVE_CYCLES] + extra)

    def state_cycles(self, until: int | None = None) -> list[dict[str, int]]:
        """Cycles each rank spent in each power state before ``until`` (default: now)."""
        until = self.now if until is None else until
        out = []
        for r in range(self.spec.ranks):
            rk = self._rank(r)
            n_pd, n_sr = jit.asleep(self._S, r, until) if self.lowpower else (0, 0)
            out.append(rank_states(until, self.active_cycles_of(r, until),
                                   bool(rk[jit.OPEN_CNT]),
                                   (int(rk[jit.PD_ACT]), int(rk[jit.PD_PRE]),
                                    int(rk[jit.SR_CYC])), (int(n_pd), int(n_sr))))
        return out

    def energy_pj(self, until: int | None = None) -> dict[str, float]:
        """Energy by component (pJ) up to cycle ``until`` (default: now)."""
        S = self._S
        return energy(self.spec, (int(S[jit.N_ACT]), int(S[jit.N_RD]), int(S[jit.N_WR]),
                                  int(S[jit.N_REF])), self.state_cycles(until))

    def stats(self) -> dict[str, Any]:
        """Command counts, row-buffer outcomes and data-bus busy cycles so far."""
        S = self._S
        c = {name: int(S[i]) for name, i in (
            ("act", jit.N_ACT), ("pre", jit.N_PRE), ("read", jit.N_RD), ("write", jit.N_WR),
            ("ref", jit.N_REF), ("row_misses", jit.MISSES), ("row_conflicts", jit.CONFLICTS),
            ("forwarded_reads", jit.N_FWD), ("merged_reads", jit.N_MERGED),
            ("powerdown_exits", jit.N_PDX), ("self_refresh_exits", jit.N_SRX))}
        c["row_hits"] = int(S[jit.RD_HITS] + S[jit.WR_HITS])
        return command_stats(self.burst, **c)

    # -- kernel calls and room ---------------------------------------------------------

    def _run(self, S: np.ndarray, until: int, stop_on_output: bool,
             idle_stop: bool) -> np.ndarray:
        """Run the kernel on ``S`` (the engine's state or a lookahead copy), making room
        when it asks; returns ``S``, relaid out if it had to grow."""
        while True:
            status = jit.run(S, self._R, until, stop_on_output, idle_stop)
            if status == jit.OK:
                return S
            if status == jit.STALL:
                raise RuntimeError("DRAM engine: requests left but nothing can happen")
            S = self._make_room(S)

    def _make_room(self, S: np.ndarray) -> np.ndarray:
        """Room for the next cycle: a free waiter, latency and log slots. The engine's own
        state folds latencies and log into Python; a lookahead copy grows instead (it may
        be dropped)."""
        if S[jit.REFQ_N] >= S[jit.CAP_REFQ]:
            raise RuntimeError("DRAM engine: refreshes fall due faster than they can issue")
        own = S is self._S
        if S[jit.W_FREE] < 0:
            old = int(S[jit.CAP_W])
            S = jit.relayout(S, {jit.CAP_W: 2 * old})
            jit.link_waiters(S, old)
        need = int(S[jit.LAT_N] + S[jit.W_USED]) + 1
        if need > S[jit.CAP_LAT] and own:
            self._S = S
            self._fold_latencies()
            need = int(S[jit.W_USED]) + 1
        if need > S[jit.CAP_LAT]:
            S = jit.relayout(S, {jit.CAP_LAT: 2 * need})
        if self._log is not None and S[jit.LOG_N] >= S[jit.CAP_LOG]:
            if own:
                self._S = S
                self._fold_log()
            else:
                S = jit.relayout(S, {jit.CAP_LOG: 2 * int(S[jit.CAP_LOG])})
        return S

    def _grow(self, cap: int) -> None:
        """Double the capacity of a growable region of the engine's state."""
        self._S = jit.relayout(self._S, {cap: 2 * int(self._S[cap])})
        if cap == jit.CAP_SM:
            self._out = np.empty((int(self._S[cap]), 2), np.int64)

    def _rank(self, r: int) -> np.ndarray:
        o = int(self._S[jit.O_RK]) + r * jit.NRF
        return self._S[o:o + jit.NRF]

    def _fold_latencies(self) -> None:
        S = self._S
        n = int(S[jit.LAT_N])
        if not n:
            return
        hist = dict(self._hist)
        o = int(S[jit.O_LAT])
        values, counts = np.unique(S[o:o + n], return_counts=True)
        for lat, c in zip(values.tolist(), counts.tolist(), strict=True):
            hist[lat] = hist.get(lat, 0) + c
        self._hist = hist
        S[jit.LAT_N] = 0

    def _fold_log(self) -> None:
        S = self._S
        n = int(S[jit.LOG_N])
        if self._log is None or not n:
            return
        entries = jit.region(S, jit.O_LOG, n, jit.NLF).tolist()
        self._log.extend((t, _KINDS[k], b, row) for t, k, b, row in entries)
        S[jit.LOG_N] = 0
