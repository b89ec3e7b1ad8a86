"""DRAM controller timing engine: JEDEC bank timing, FR-FCFS scheduling, refresh.

Pure Python, integer cycles of the DRAM command clock (tCK), no SimPy. The engine jumps
from one cycle at which something can happen (a command becomes legal, a transaction can
move, the front end can accept, a refresh falls due) to the next: idle cycles cost nothing.

Controller (one channel), per cycle ``t`` in this order:

1. refresh: ranks are refreshed in turn, one every ``tREFI / ranks`` cycles, the first at
   ``tREFI / 2``. From that cycle the rank's command queues are frozen; its open banks are
   precharged as soon as legal, then REF is issued once every bank is closed and ``tRP``
   has passed; ACT on that rank waits ``tRFC``.
2. command issue: at most one command per cycle. Refresh commands first; otherwise the
   per-bank command queues are visited round robin (from the one after the last issuer);
   inside a queue the first command whose next step (ACT, PRE, READ or WRITE) is legal
   goes (FR-FCFS: row hits overtake an older row miss). A row miss may precharge only from
   the queue head, and only when no queued command hits the open row or that row already
   served ``row_hit_cap`` column commands. A write never overtakes a read of its address.
3. transaction scheduling: at most one request per cycle moves from the read queue (or the
   write buffer while draining) into its bank's command queue, the oldest whose queue has
   room. Writes drain when the write buffer is full, or when it holds more than
   ``write_drain_threshold`` writes and every command queue is empty; a drain moves as many
   writes as were buffered when it started. A write whose address an older pending read
   still has to read stops the drain, and reads move instead.
4. front end: at most one request per cycle enters, in order per stream, when its queue
   has room. It is visible to step 3 from the next cycle (``added = t + 1``). A read of a
   buffered write is served from the buffer (1 cycle); a read of an address already being
   read joins it; a write to a buffered address merges. Writes are posted: acknowledged
   one cycle after they enter.

Timing rules (cycles; ``burst = BL/2``, ``RL = CL``, ``WL = CWL``)::

    ACT  -> RD/WR same bank           tRCD          ACT -> PRE same bank      tRAS
    PRE  -> ACT/REF same bank         tRP           REF -> ACT same rank      tRFC
    ACT  -> ACT same / other group    tRRD_L / tRRD_S, and at most 4 ACTs per tFAW
    RD   -> RD  same / other group    max(burst, tCCD_L) / max(burst, tCCD_S)
    WR   -> WR  same / other group    max(burst, tCCD_L) / max(burst, tCCD_S)
    RD   -> WR  same rank             RL + burst + tRTRS - WL
    WR   -> RD  same / other group    WL + burst + tWTR_L / WL + burst + tWTR_S
    RD   -> RD other rank             burst + tRTRS (another device drives the bus)
    WR   -> WR other rank             burst (the controller keeps driving the bus)
    RD   -> WR, WR -> RD other rank   RL + burst + tRTRS - WL,  WL + burst + tRTRS - RL
    RD   -> PRE                       tRTP          WR -> PRE   WL + burst + tWR
    PRE  -> PRE same rank             tPPD (LPDDR4)

A read completes (last data beat) ``RL + burst`` after its READ, so the unloaded latency
from entering the queue is ``1 + RL + burst`` on a row hit, ``+ tRCD`` on a closed bank and
``+ tRP + tRCD`` on a row conflict (DDR4-3200: 27 / 49 / 71 cycles). With the closed page
policy every column command auto-precharges: the bank closes at the earliest legal PRE
time and may be activated ``tRP`` later.

Power states (per rank): a rank is idle while none of its banks has a command queued and
no refresh of it is pending. An idle rank powers down (CKE low) ``powerdown_after`` cycles
after it became idle, and not before its last command is done (a READ's data, a WRITE's
recovery, a REF's tRFC); it enters self-refresh (banks precharged, no REF needed)
``self_refresh_after`` cycles after. Nothing is simulated while it sleeps: when a command
is queued for it or a refresh falls due, the cycles since entry are booked from the gap
and its next command waits ``tXP`` (``tXS`` from self-refresh). A refresh falling due in
self-refresh is skipped. Without a policy (the defaults) no rank ever powers down.

Energy (pJ) = ACTs * E_act + READs * E_read + WRITEs * E_write + REFs * E_ref
+ sum over ranks and power states of cycles in the state * its power * tCK
(active / precharge standby: a bank open / none; active / precharge power-down;
self-refresh).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from desim.hw.dram.spec import DramSpec

INF = 1 << 62
_CLOSED = (-1, -1, False)


@dataclass(frozen=True)
class Location:
    """Where an address lands: rank, bank group, bank, row and column (burst index)."""

    rank: int
    bank_group: int
    bank: int
    row: int
    column: int


def address_fields(spec: DramSpec) -> dict[str, tuple[int, int]]:
    """(shift, mask) of each address field of the spec's mapping, above the burst offset."""
    shift = spec.txn_bytes.bit_length() - 1  # the burst's offset bits
    fields: dict[str, tuple[int, int]] = {}
    for name, bits in reversed(spec.field_bits()):
        fields[name] = (shift, (1 << bits) - 1)
        shift += bits
    return fields


def decode(fields: dict[str, tuple[int, int]], addr: int) -> Location:
    """The rank, bank group, bank, row and column ``addr`` maps to under ``fields``."""
    return Location(*(((addr >> fields[k][0]) & fields[k][1])
                      for k in ("ra", "bg", "ba", "ro", "co")))


def rank_states(until: int, active: int, is_open: bool, booked: tuple[int, int, int],
                asleep: tuple[int, int]) -> dict[str, int]:
    """Cycles of one rank in each power state before ``until``, from its cycles with a bank
    open (``active``), its booked (active power-down, precharge power-down, self-refresh)
    cycles, and the (power-down, self-refresh) cycles of the idle period it is still in."""
    apd, ppd, sref = booked
    n_pd, n_sr = asleep
    if is_open:
        apd += n_pd
        active -= n_sr  # its banks were precharged on entering self-refresh
    else:
        ppd += n_pd
    sref += n_sr
    return {"act_standby": active - apd, "pre_standby": until - active - ppd - sref,
            "act_powerdown": apd, "pre_powerdown": ppd, "self_refresh": sref}


def energy(spec: DramSpec, commands: tuple[int, int, int, int],
           states: list[dict[str, int]]) -> dict[str, float]:
    """Energy by component (pJ) of (ACT, READ, WRITE, REF) counts and per-rank state cycles."""
    s = spec
    power = {"act_standby": s.power_active_standby_mw,
             "pre_standby": s.power_precharge_standby_mw,
             "act_powerdown": s.power_active_powerdown_mw,
             "pre_powerdown": s.power_precharge_powerdown_mw,
             "self_refresh": s.power_self_refresh_mw}
    n_act, n_rd, n_wr, n_ref = commands
    out = {"act": n_act * s.energy_act_pj, "read": n_rd * s.energy_read_pj,
           "write": n_wr * s.energy_write_pj, "refresh": n_ref * s.energy_ref_pj}
    total = sum(out.values())
    for state, mw in power.items():
        out[state] = sum(r[state] for r in states) * mw * s.tCK_ns
    out["background"] = sum(out[state] for state in power)
    out["total"] = total + out["background"]
    return out


def command_stats(burst: int, **c: int) -> dict[str, Any]:
    """The stats() dictionary: the counts plus the row-hit rate and bus busy cycles."""
    cols = c["read"] + c["write"]
    return {
        "act": c["act"], "pre": c["pre"], "read": c["read"], "write": c["write"],
        "ref": c["ref"], "row_hits": c["row_hits"], "row_misses": c["row_misses"],
        "row_conflicts": c["row_conflicts"],
        "row_hit_rate": c["row_hits"] / cols if cols else 0.0,
        "forwarded_reads": c["forwarded_reads"], "merged_reads": c["merged_reads"],
        "bus_busy_cycles": cols * burst,
        "powerdown_exits": c["powerdown_exits"], "self_refresh_exits": c["self_refresh_exits"],
    }


class _Stream:
    """Requests a master offers in order: addresses, directions and arrival cycles."""

    __slots__ = ("tag", "addrs", "writes", "arrivals", "pos", "n", "pending", "done")

    def __init__(self, tag: Any, addrs: Sequence[int], writes: bool | Sequence[bool],
                 arrivals: int | Sequence[int]):
        self.tag, self.addrs, self.writes, self.arrivals = tag, addrs, writes, arrivals
        self.pos = 0                 # next request to offer
        self.n = len(addrs)
        self.pending = self.n        # requests not yet completed
        self.done = 0                # latest completion cycle so far

    def copy(self) -> _Stream:
        twin = _Stream.__new__(_Stream)
        for name in _Stream.__slots__:
            setattr(twin, name, getattr(self, name))
        return twin


class DramEngine:
    """The controller and its devices; drive it with :meth:`submit` and :meth:`advance`.

    ``now`` is the first cycle not yet simulated. Requests are offered by streams
    (:meth:`submit`); a stream completes when its last read returned its data and its last
    write was acknowledged. :meth:`next_event` tells the next cycle the controller can act,
    :meth:`advance` simulates up to a cycle, :meth:`run_until_output` up to the next stream
    completion, :meth:`pop_done` collects completed streams with their completion cycle,
    :meth:`finish` runs until everything (writes included) is done. :meth:`fork` copies the
    state; :meth:`lookahead` runs a copy to the next completion and :meth:`commit` adopts it.
    """

    def __init__(self, spec: DramSpec, log: bool = False):
        self.spec = s = spec
        #: with ``log``: every command issued, as (cycle, "ACT"|"PRE"|"RD"|"WR"|"REF", bank,
        #: row); bank is the rank for REF, row -1 for PRE and REF
        self.log: list[tuple[int, str, int, int]] | None = [] if log else None
        nb = s.banks
        self.nbanks = nb
        self.banks_per_rank = bpr = s.bank_groups * s.banks_per_group
        self.rank_of = [b // bpr for b in range(nb)]
        self.bg_of = [b // s.banks_per_group for b in range(nb)]  # global bank-group index
        self.rr_order = [[(p + 1 + i) % nb for i in range(nb)] for p in range(nb)]
        self._mapping(s)
        # timing constants (cycles)
        burst = s.burst_cycles
        self.burst = burst
        self.read_delay = s.CL + burst
        self.write_delay = s.CWL + burst
        self.ccd_l = max(burst, s.tCCD_L)
        self.ccd_s = max(burst, s.tCCD_S)
        self.rd_to_rd_o = burst + s.tRTRS
        self.rd_to_wr = s.CL + burst + s.tRTRS - s.CWL
        self.wr_to_rd_l = s.CWL + burst + s.tWTR_L
        self.wr_to_rd_s = s.CWL + burst + s.tWTR_S
        self.wr_to_rd_o = s.CWL + burst + s.tRTRS - s.CL
        self.wr_to_pre = s.CWL + burst + s.tWR
        self.closed_page = s.page_policy == "closed"
        self.ref_interval = s.tREFI // s.ranks
        self.pd_after = s.powerdown_after
        self.sr_after = s.self_refresh_after
        self.lowpower = bool(s.powerdown_after or s.self_refresh_after)
        # -- state (everything below is copied by fork) --------------------------------
        self.now = 0
        self.open_row = [-1] * nb      # open row per bank, -1 when closed
        self.hits = [0] * nb           # column commands since the row's ACT
        self.conflict = [False] * nb   # closed by a row conflict (vs refresh or initial)
        self.b_act = [0] * nb          # earliest ACT (and REF) from same-bank constraints
        self.b_col = [0] * nb          # earliest READ/WRITE from the bank's ACT
        self.b_pre = [0] * nb          # earliest PRE
        ngroups = s.ranks * s.bank_groups
        self.g_rd = [0] * ngroups      # earliest READ in a bank group
        self.g_wr = [0] * ngroups
        self.g_act = [0] * ngroups
        self.r_rd = [0] * s.ranks      # earliest READ in a rank
        self.r_wr = [0] * s.ranks
        self.r_act = [0] * s.ranks
        self.r_pre = [0] * s.ranks
        self.faw: list[list[int]] = [[] for _ in range(s.ranks)]  # last four ACT cycles
        self.cmdq: list[list[tuple[int, int, bool, int]]] = [[] for _ in range(nb)]
        self.lb = [INF] * nb           # lower bound of the bank's next command cycle
        self.cand: list[tuple[int, int, bool] | None] = [None] * nb  # see _candidates
        self.n_cmd = 0
        self.rq: list[tuple[int, int, bool, int]] = []   # (bank, row, write, addr)
        self.wq: list[tuple[int, int, bool, int]] = []
        self.rqc = [0] * nb            # read-queue entries per bank
        self.wqc = [0] * nb
        self.rq_mov = 0                # read-queue entries whose bank queue has room
        self.wq_mov = 0
        self.pending_reads: dict[int, list[tuple[int, int]]] = {}  # addr -> [(added, sid)]
        self.pending_writes: set[int] = set()
        self.drain = 0
        self.closed = False            # no more input: drain leftover writes when idle
        self.move_blocked = False
        self.move_at = INF
        self.fe_at = INF
        self.fe: list[int] = []        # streams with requests still to offer
        self.fe_ptr = 0
        self.streams: dict[int, _Stream] = {}
        self.next_sid = 0
        self.done_heap: list[tuple[int, int, Any]] = []
        self.ptr = nb - 1              # round-robin pointer: the last queue that issued
        self.ref_next = s.tREFI // 2 if s.refresh else INF
        self.ref_rank = 0
        self.ref_pending: deque[int] = deque()
        self.open_cnt = [0] * s.ranks
        self.active_since = [0] * s.ranks
        self.active_cycles = [0] * s.ranks
        # power states (with a power-down or self-refresh policy)
        self.r_cmds = [0] * s.ranks      # commands queued for the rank's banks
        self.idle_since = [0] * s.ranks  # cycle the rank's last queued command issued
        self.pde = [0] * s.ranks         # earliest power-down entry after its commands
        self.pd_act = [0] * s.ranks      # cycles powered down with a bank open
        self.pd_pre = [0] * s.ranks      # cycles powered down with all banks closed
        self.sr_cycles = [0] * s.ranks   # cycles in self-refresh
        self.n_pdx = self.n_srx = 0      # power-down and self-refresh exits
        # statistics
        self.n_act = self.n_pre = self.n_rd = self.n_wr = self.n_ref = 0
        self.rd_hits = self.wr_hits = self.misses = self.conflicts = 0
        self.n_forwarded = self.n_merged = 0
        self.lat_hist: dict[int, int] = {}
        self.last_data_end = 0
        self._ahead: DramEngine | None = None  # the copy lookahead() ran

    # -- address mapping -------------------------------------------------------------

    def _mapping(self, s: DramSpec) -> None:
        self.fields = fields = address_fields(s)
        (self.s_ro, self.m_ro), (self.s_ra, self.m_ra) = fields["ro"], fields["ra"]
        (self.s_bg, self.m_bg), (self.s_ba, self.m_ba) = fields["bg"], fields["ba"]

    def decode(self, addr: int) -> Location:
        """The rank, bank group, bank, row and column an address maps to."""
        return decode(self.fields, addr)

    def locate(self, addr: int) -> tuple[int, int]:
        """(bank index, row) of an address; banks are numbered rank, group, bank."""
        bank = (((addr >> self.s_ra) & self.m_ra) * self.banks_per_rank
                + ((addr >> self.s_bg) & self.m_bg) * self.spec.banks_per_group
                + ((addr >> self.s_ba) & self.m_ba))
        return bank, (addr >> self.s_ro) & self.m_ro

    # -- public API ------------------------------------------------------------------

    def submit(self, addrs: Sequence[int], writes: bool | Sequence[bool],
               arrivals: int | Sequence[int], tag: Any = None) -> int:
        """Add a stream of requests (byte addresses, aligned to a transaction).

        ``writes`` and ``arrivals`` are one value for all requests or one per request;
        request ``i`` is offered from cycle ``arrivals[i]`` on, after request ``i - 1``.
        Returns the stream id. An empty stream completes at once.
        """
        sid = self.next_sid
        self.next_sid += 1
        st = _Stream(tag, addrs, writes, arrivals)
        if st.n == 0:
            heapq.heappush(self.done_heap, (self.now, sid, tag))
            return sid
        self.streams[sid] = st
        self.fe.append(sid)
        first = arrivals if isinstance(arrivals, int) else arrivals[0]
        self.fe_at = min(self.fe_at, max(first, self.now))
        return sid

    def close_input(self) -> None:
        """No more streams will come: leftover buffered writes drain once queues are empty."""
        self.closed = True

    def next_event(self) -> int | None:
        """Next cycle at which the controller can act (a command, a transaction move, an
        arrival, a refresh); None if it never will. Idle cycles before it change nothing."""
        t = min(self.ref_next, self.move_at, self.fe_at, self._cmd_next())
        return None if t >= INF else max(t, self.now)

    def advance(self, until: int) -> None:
        """Simulate every cycle before ``until``."""
        self._run(until, False)

    def run_until_output(self, limit: int = INF) -> int | None:
        """Simulate until a stream completion is known; return its cycle.

        None when no stream is incomplete (nothing will ever be output) or ``limit`` is
        reached first. Afterwards ``now`` is at most the returned cycle, so nothing earlier
        than it can still happen.
        """
        if not self.streams and not self.done_heap:
            return None
        self._run(limit, True)
        if self.done_heap and self.done_heap[0][0] <= self.now:
            return self.done_heap[0][0]
        return None

    def pop_done(self, until: int) -> list[tuple[int, Any]]:
        """Remove and return ``(cycle, tag)`` of the streams completed by ``until``."""
        out = []
        heap = self.done_heap
        while heap and heap[0][0] <= until:
            cycle, _, tag = heapq.heappop(heap)
            out.append((cycle, tag))
        return out

    def finish(self) -> int:
        """Close the input and simulate until every request is served; return the cycle."""
        self.close_input()
        self.move_at = self.now
        self._run(INF, False, idle_stop=True)
        return self.now

    def fork(self) -> DramEngine:
        """An independent copy of the engine in its current state."""
        twin = DramEngine.__new__(DramEngine)
        twin.__dict__.update(self.__dict__)
        for name, value in self.__dict__.items():
            if name in _CONSTANT:
                continue
            if isinstance(value, list):
                value = [list(v) for v in value] if name in ("faw", "cmdq") else list(value)
            elif isinstance(value, dict):
                if name == "pending_reads":
                    value = {k: list(v) for k, v in value.items()}
                elif name == "streams":
                    value = {k: v.copy() for k, v in value.items()}
                else:
                    value = dict(value)
            elif isinstance(value, set | deque):
                value = type(value)(value)
            setattr(twin, name, value)
        twin._ahead = None
        return twin

    def lookahead(self, limit: int = INF) -> int | None:
        """Run a copy of the engine to the next stream completion and return its cycle (as
        :meth:`run_until_output` would); :meth:`commit` makes that copy the engine."""
        self._ahead = self.fork()
        return self._ahead.run_until_output(limit)

    def offer(self, until: int, first: int, n: int, stride: int, write: bool, tag: Any
              ) -> int | None:
        """Advance to cycle ``until``, offer ``n`` requests from address ``first``,
        ``stride`` apart, arriving then (one stream, ``tag``), and return
        :meth:`lookahead`: what a memory access asks of the engine."""
        self.advance(until)
        self.submit(range(first, first + n * stride, stride), write, self.now, tag)
        return self.lookahead()

    def complete(self, until: int) -> tuple[list[Any], int | None]:
        """:meth:`commit`, then the tags of the streams done by ``until`` (in completion
        order) and :meth:`lookahead`'s next completion: what a planned completion asks."""
        self.commit()
        done = [tag for _, tag in self.pop_done(until)]
        return done, self.lookahead()

    def commit(self) -> None:
        """Continue from the copy the last :meth:`lookahead` ran."""
        if self._ahead is None:
            raise RuntimeError("DRAM engine: commit() needs a lookahead() first")
        self.__dict__.update(self._ahead.__dict__)

    # -- statistics ------------------------------------------------------------------

    @property
    def queue_depth(self) -> int:
        """Requests inside the controller: read queue, write buffer and command queues."""
        return len(self.rq) + len(self.wq) + self.n_cmd

    def active_cycles_of(self, rank: int, until: int) -> int:
        """Cycles before ``until`` during which ``rank`` had a bank open."""
        extra = until - self.active_since[rank] if self.open_cnt[rank] else 0
        return self.active_cycles[rank] + extra

    def state_cycles(self, until: int | None = None) -> list[dict[str, int]]:
        """Cycles each rank spent in each power state before ``until`` (default: now):
        ``act_standby``, ``pre_standby``, ``act_powerdown``, ``pre_powerdown``,
        ``self_refresh``; a rank still asleep is counted as asleep up to ``until``."""
        until = self.now if until is None else until
        return [rank_states(until, self.active_cycles_of(r, until), self.open_cnt[r] > 0,
                            (self.pd_act[r], self.pd_pre[r], self.sr_cycles[r]),
                            self._asleep(r, until) if self.lowpower else (0, 0))
                for r in range(self.spec.ranks)]

    def energy_pj(self, until: int | None = None) -> dict[str, float]:
        """Energy by component (pJ) up to cycle ``until`` (default: now): per command kind,
        background per power state, their sum ``background``, and ``total``."""
        return energy(self.spec, (self.n_act, self.n_rd, self.n_wr, self.n_ref),
                      self.state_cycles(until))

    def stats(self) -> dict[str, Any]:
        """Command counts, row-buffer outcomes and data-bus busy cycles so far."""
        return command_stats(
            self.burst, act=self.n_act, pre=self.n_pre, read=self.n_rd, write=self.n_wr,
            ref=self.n_ref, row_hits=self.rd_hits + self.wr_hits, row_misses=self.misses,
            row_conflicts=self.conflicts, forwarded_reads=self.n_forwarded,
            merged_reads=self.n_merged, powerdown_exits=self.n_pdx,
            self_refresh_exits=self.n_srx)

    # -- main loop -------------------------------------------------------------------

    def _cmd_next(self) -> int:
        """Lower bound of the next cycle a command may issue."""
        lb = self.lb
        if not self.ref_pending:
            return min(lb)
        r = self.ref_pending[0]
        lo = r * self.banks_per_rank
        hi = lo + self.banks_per_rank
        m = self._refresh_ready(r)
        if lo:
            m = min(m, min(lb[:lo]))
        if hi < self.nbanks:
            m = min(m, min(lb[hi:]))
        return m

    def _run(self, until: int, stop_on_output: bool, idle_stop: bool = False) -> None:
        heap = self.done_heap
        while True:
            now = self.now
            if idle_stop and not (self.streams or self.rq or self.wq or self.n_cmd):
                return
            cn = self._cmd_next() if self.ref_pending else min(self.lb)
            t = min(self.ref_next, self.move_at, self.fe_at, cn)
            if t < now:
                t = now
            if stop_on_output and heap and heap[0][0] <= min(t, until):
                # nothing happens before this completion: stop exactly at it
                self.now = max(now, heap[0][0])
                return
            if t >= until:
                if now < until < INF:
                    self.now = until
                elif idle_stop:
                    raise RuntimeError("DRAM engine: requests left but nothing can happen")
                return
            self._tick(t, cn)

    def _tick(self, t: int, cn: int) -> None:
        """Simulate cycle ``t``: refresh trigger, one command, one move, one arrival."""
        if t == self.ref_next:
            r = self.ref_rank
            if not self.lowpower or self._wake(r, t, refresh=True):
                self.ref_pending.append(r)
                cn = t
            self.ref_rank = (r + 1) % self.spec.ranks
            self.ref_next += self.ref_interval
        column = False
        if cn <= t:
            column = self._issue(t)
        moved = False
        if column or self.move_at <= t:
            moved = self._move(t)
        accepted = False
        if moved or self.fe_at <= t:
            accepted = self._front(t)
        if column or moved or accepted or self.move_at <= t:
            self.move_at = t + 1 if self._move_pending() else INF
        self.now = t + 1

    # -- command issue ---------------------------------------------------------------

    def _issue(self, t: int) -> bool:
        """Issue at most one command at cycle ``t``; True if it was a READ or WRITE."""
        lo = hi = -1
        if self.ref_pending:
            r = self.ref_pending[0]
            if self._refresh_step(r, t):
                return False
            lo = r * self.banks_per_rank
            hi = lo + self.banks_per_rank
        lb = self.lb
        try_bank = self._try_bank
        for b in self.rr_order[self.ptr]:
            if lb[b] <= t and not lo <= b < hi:
                kind = try_bank(b, t)
                if kind:
                    self.ptr = b
                    return kind == 2
        return False

    def _candidates(self, b: int) -> tuple[int, int, bool]:
        """Scan bank ``b``'s queue: (first read hit, first write hit, head may precharge).

        Indices are -1 when absent; a write hit that would overtake a read of its address
        does not count. A closed bank returns (-1, -1, False): its head needs an ACT.
        """
        q = self.cmdq[b]
        row = self.open_row[b]
        if row < 0:
            return _CLOSED
        i_rd = i_wr = -1
        hit = False
        for i, e in enumerate(q):
            if e[1] != row:
                continue
            hit = True
            if not e[2]:
                if i_rd < 0:
                    i_rd = i
            elif i_wr < 0 and not any(x[3] == e[3] and not x[2] for x in q[:i]):
                i_wr = i
        pre = q[0][1] != row and (not hit or self.hits[b] >= self.spec.row_hit_cap)
        return i_rd, i_wr, pre

    def _times(self, b: int, c: tuple[int, int, bool]) -> tuple[int, int, int]:
        """Earliest legal cycles of bank ``b``'s candidates (INF when absent): the ACT of a
        closed bank or the head's PRE, the first read hit, the first write hit."""
        r = self.rank_of[b]
        g = self.bg_of[b]
        if c is _CLOSED:
            ta = max(self.b_act[b], self.g_act[g], self.r_act[r])
            f = self.faw[r]
            if len(f) == 4 and f[0] + self.spec.tFAW > ta:
                ta = f[0] + self.spec.tFAW
            return ta, INF, INF
        i_rd, i_wr, pre = c
        return (max(self.b_pre[b], self.r_pre[r]) if pre else INF,
                max(self.b_col[b], self.g_rd[g], self.r_rd[r]) if i_rd >= 0 else INF,
                max(self.b_col[b], self.g_wr[g], self.r_wr[r]) if i_wr >= 0 else INF)

    def _try_bank(self, b: int, t: int) -> int:
        """Issue the first legal command of bank ``b``: 0 none, 1 ACT/PRE, 2 READ/WRITE.

        In queue order the head's ACT or PRE comes first, then the first read or write hit
        whose command is legal; otherwise ``lb[b]`` becomes the earliest cycle one can be.
        """
        c = self.cand[b]
        if c is None:
            c = self.cand[b] = self._candidates(b)
        first, trd, twr = self._times(b, c)
        if first <= t:
            if c is _CLOSED:
                self._activate(b, self.cmdq[b][0][1], t)
            else:
                self._precharge(b, t, True)
            return 1
        if trd <= t:
            self._column(b, c[1] if twr <= t and c[1] < c[0] else c[0], t)
            return 2
        if twr <= t:
            self._column(b, c[1], t)
            return 2
        self.lb[b] = min(first, trd, twr)
        return 0

    def _bound(self, b: int, t: int) -> None:
        """After bank ``b`` changed at cycle ``t``: its next command's earliest cycle."""
        if not self.cmdq[b]:
            self.lb[b] = INF
            self.cand[b] = None
            return
        c = self.cand[b] = self._candidates(b)
        self.lb[b] = max(t + 1, min(self._times(b, c)))

    def _activate(self, b: int, row: int, t: int) -> None:
        s = self.spec
        r = self.rank_of[b]
        g = self.bg_of[b]
        if self.log is not None:
            self.log.append((t, "ACT", b, row))
        self.open_row[b] = row
        self.hits[b] = 0
        self.b_col[b] = t + s.tRCD
        self.b_pre[b] = max(self.b_pre[b], t + s.tRAS)
        self.g_act[g] = max(self.g_act[g], t + s.tRRD_L)
        self.r_act[r] = max(self.r_act[r], t + s.tRRD_S)
        f = self.faw[r]
        f.append(t)
        if len(f) > 4:
            del f[0]
        if not self.open_cnt[r]:
            self.active_since[r] = t
        self.open_cnt[r] += 1
        self.n_act += 1
        self._bound(b, t)

    def _precharge(self, b: int, t: int, on_demand: bool) -> None:
        s = self.spec
        r = self.rank_of[b]
        if self.log is not None:
            self.log.append((t, "PRE", b, -1))
        self.open_row[b] = -1
        self.hits[b] = 0
        self.conflict[b] = on_demand
        self.b_act[b] = max(self.b_act[b], t + s.tRP)
        if s.tPPD:
            self.r_pre[r] = max(self.r_pre[r], t + s.tPPD)
        self._close(r, t)
        self.n_pre += 1
        self._bound(b, t)

    def _close(self, r: int, t: int) -> None:
        self.open_cnt[r] -= 1
        if not self.open_cnt[r]:
            self.active_cycles[r] += t - self.active_since[r]

    def _column(self, b: int, i: int, t: int) -> None:
        """Issue the READ or WRITE of command-queue entry ``i`` of bank ``b``."""
        q = self.cmdq[b]
        e = q[i]
        if self.log is not None:
            self.log.append((t, "WR" if e[2] else "RD", b, e[1]))
        if len(q) == self.spec.cmd_queue_depth:
            self.rq_mov += self.rqc[b]
            self.wq_mov += self.wqc[b]
        del q[i]
        self.n_cmd -= 1
        self.move_blocked = False
        r = self.rank_of[b]
        g = self.bg_of[b]
        h = self.hits[b]
        if not h:
            if self.conflict[b]:
                self.conflicts += 1
            else:
                self.misses += 1
        self.hits[b] = h + 1
        addr = e[3]
        g_rd, g_wr, r_rd, r_wr = self.g_rd, self.g_wr, self.r_rd, self.r_wr
        if e[2]:
            if h:
                self.wr_hits += 1
            self.n_wr += 1
            self.pending_writes.discard(addr)
            g_wr[g] = max(g_wr[g], t + self.ccd_l)
            r_wr[r] = max(r_wr[r], t + self.ccd_s)
            g_rd[g] = max(g_rd[g], t + self.wr_to_rd_l)
            r_rd[r] = max(r_rd[r], t + self.wr_to_rd_s)
            for o in range(len(r_rd)):
                if o != r:
                    r_wr[o] = max(r_wr[o], t + self.burst)
                    r_rd[o] = max(r_rd[o], t + self.wr_to_rd_o)
            self.b_pre[b] = max(self.b_pre[b], t + self.wr_to_pre)
            end = t + self.write_delay
        else:
            if h:
                self.rd_hits += 1
            self.n_rd += 1
            g_rd[g] = max(g_rd[g], t + self.ccd_l)
            r_rd[r] = max(r_rd[r], t + self.ccd_s)
            r_wr[r] = max(r_wr[r], t + self.rd_to_wr)
            for o in range(len(r_rd)):
                if o != r:
                    r_rd[o] = max(r_rd[o], t + self.rd_to_rd_o)
                    r_wr[o] = max(r_wr[o], t + self.rd_to_wr)
            self.b_pre[b] = max(self.b_pre[b], t + self.spec.tRTP)
            end = t + self.read_delay
            hist = self.lat_hist
            for added, sid in self.pending_reads.pop(addr):
                lat = end - added
                hist[lat] = hist.get(lat, 0) + 1
                self._resolve(sid, end)
        if end > self.last_data_end:
            self.last_data_end = end
        if self.closed_page:
            # auto-precharge at the earliest legal PRE cycle; ACT may follow tRP later
            self.open_row[b] = -1
            self.hits[b] = 0
            self.conflict[b] = False
            self.b_act[b] = max(self.b_act[b], self.b_pre[b] + self.spec.tRP)
            self._close(r, t)
            self.n_pre += 1
        if self.lowpower:
            # power-down waits for the read data, the write recovery, an auto-precharge
            done = t + self.wr_to_pre if e[2] else end
            if self.closed_page:
                done = max(done, self.b_pre[b])
            self.pde[r] = max(self.pde[r], done + 1)
            self.r_cmds[r] -= 1
            if not self.r_cmds[r]:
                self.idle_since[r] = t
        self._bound(b, t)

    # -- power states ----------------------------------------------------------------

    def _sleep_at(self, r: int) -> tuple[int, int]:
        """Cycles at which rank ``r`` enters power-down and self-refresh if nothing comes
        (INF: never, or the rank is busy: a command queued or its refresh pending)."""
        if self.r_cmds[r] or r in self.ref_pending:
            return INF, INF
        since, ready = self.idle_since[r], self.pde[r]
        pd = max(since + self.pd_after, ready) if self.pd_after else INF
        sr = max(since + self.sr_after, ready) if self.sr_after else INF
        return pd, sr

    def _asleep(self, r: int, until: int) -> tuple[int, int]:
        """(power-down, self-refresh) cycles of the current idle period before ``until``."""
        pd, sr = self._sleep_at(r)
        return max(0, min(until, sr) - pd), max(0, until - sr)

    def _wake(self, r: int, t: int, refresh: bool = False) -> bool:
        """Rank ``r`` is needed at cycle ``t``: book the cycles it slept and hold its next
        command for tXP (tXS). With ``refresh`` (its REF falls due), a rank in self-refresh
        stays there and False is returned: it refreshes itself."""
        n_pd, n_sr = self._asleep(r, t)
        if n_sr and refresh:
            return False
        if not (n_pd or n_sr):
            return True
        if self.open_cnt[r]:
            self.pd_act[r] += n_pd
        else:
            self.pd_pre[r] += n_pd
        s = self.spec
        if n_sr:
            self.sr_cycles[r] += n_sr
            self._precharge_rank(r, t - n_sr)
            self.n_srx += 1
            ready = t + s.tXS
        else:
            self.n_pdx += 1
            ready = t + s.tXP
        lo = r * self.banks_per_rank
        for b in range(lo, lo + self.banks_per_rank):
            if self.b_act[b] < ready:
                self.b_act[b] = ready
        self.r_pre[r] = max(self.r_pre[r], ready)
        self.r_rd[r] = max(self.r_rd[r], ready)
        self.r_wr[r] = max(self.r_wr[r], ready)
        return True

    def _precharge_rank(self, r: int, t: int) -> None:
        """Close every open bank of rank ``r`` at cycle ``t`` (the precharge-all that
        precedes self-refresh entry)."""
        lo = r * self.banks_per_rank
        for b in range(lo, lo + self.banks_per_rank):
            if self.open_row[b] >= 0:
                self.open_row[b] = -1
                self.hits[b] = 0
                self.conflict[b] = False
                self.b_act[b] = max(self.b_act[b], t + self.spec.tRP)
                self._close(r, t)
                self.n_pre += 1

    # -- refresh ---------------------------------------------------------------------

    def _refresh_ready(self, r: int) -> int:
        """Earliest cycle the refresh of rank ``r`` can take its next step."""
        lo = r * self.banks_per_rank
        pre = INF
        ref = 0
        for b in range(lo, lo + self.banks_per_rank):
            if self.open_row[b] >= 0:
                pre = min(pre, self.b_pre[b])
            else:
                ref = max(ref, self.b_act[b])
        return max(pre, self.r_pre[r]) if pre < INF else ref

    def _refresh_step(self, r: int, t: int) -> bool:
        """Precharge an open bank of rank ``r``, or refresh it when all are closed."""
        lo = r * self.banks_per_rank
        hi = lo + self.banks_per_rank
        all_closed = True
        for b in range(lo, hi):
            if self.open_row[b] >= 0:
                all_closed = False
                if max(self.b_pre[b], self.r_pre[r]) <= t:
                    self._precharge(b, t, False)
                    return True
        if not all_closed or max(self.b_act[lo:hi]) > t:
            return False
        if self.log is not None:
            self.log.append((t, "REF", r, -1))
        self.r_act[r] = max(self.r_act[r], t + self.spec.tRFC)
        if self.pde[r] < t + self.spec.tRFC:
            self.pde[r] = t + self.spec.tRFC
        self.n_ref += 1
        self.ref_pending.popleft()
        for b in range(lo, hi):
            self.lb[b] = 0 if self.cmdq[b] else INF
        return True

    # -- transaction scheduling ------------------------------------------------------

    def _drain_due(self) -> bool:
        n = len(self.wq)
        return bool(n >= self.spec.write_buffer_depth
                or (not self.n_cmd and (n > self.spec.write_drain_threshold
                                        or (n and self.closed and not (self.fe or self.rq)))))

    def _move_pending(self) -> bool:
        """Whether step 3 of the next cycle can change anything."""
        if self.move_blocked:
            return False
        if self.drain:
            return self.wq_mov > 0
        return self._drain_due() or self.rq_mov > 0

    def _move(self, t: int) -> bool:
        """Move one request from the write buffer (draining) or the read queue into its
        bank's command queue: the oldest whose bank queue has room."""
        if not self.drain and self._drain_due():
            self.drain = len(self.wq)
        depth = self.spec.cmd_queue_depth
        cmdq = self.cmdq
        if self.drain:
            if not self.wq_mov:
                return False
            wq = self.wq
            i = next(i for i, e in enumerate(wq) if len(cmdq[e[0]]) < depth)
            e = wq[i]
            if e[3] not in self.pending_reads:
                self.drain -= 1
                self.wqc[e[0]] -= 1
                self.wq_mov -= 1
                del wq[i]
                self._enqueue(e, t)
                return True
            # an older read of this address must go first: stop draining, move reads
            self.drain = 0
            if not self.rq_mov:
                self.move_blocked = True  # until that read issues or a request arrives
                return False
        elif not self.rq_mov:
            return False
        rq = self.rq
        i = next(i for i, e in enumerate(rq) if len(cmdq[e[0]]) < depth)
        e = rq[i]
        self.rqc[e[0]] -= 1
        self.rq_mov -= 1
        del rq[i]
        self._enqueue(e, t)
        return True

    def _enqueue(self, e: tuple[int, int, bool, int], t: int) -> None:
        b = e[0]
        q = self.cmdq[b]
        q.append(e)
        self.n_cmd += 1
        if self.lowpower:
            r = self.rank_of[b]
            if not self.r_cmds[r]:
                self._wake(r, t)
            self.r_cmds[r] += 1
        if len(q) == self.spec.cmd_queue_depth:
            self.rq_mov -= self.rqc[b]
            self.wq_mov -= self.wqc[b]
        self._bound(b, t)

    # -- front end -------------------------------------------------------------------

    def _front(self, t: int) -> bool:
        """Accept at most one request at the end of cycle ``t`` (it enters at ``t + 1``)."""
        fe = self.fe
        n = len(fe)
        accepted = False
        for k in range(n):
            idx = (self.fe_ptr + k) % n
            st = self.streams[fe[idx]]
            i = st.pos
            arr = st.arrivals if isinstance(st.arrivals, int) else st.arrivals[i]
            if arr > t:
                continue
            write = st.writes if isinstance(st.writes, bool) else st.writes[i]
            if len(self.wq if write else self.rq) >= (self.spec.write_buffer_depth if write
                                                      else self.spec.read_queue_depth):
                continue
            self._accept(fe[idx], st.addrs[i], write, t + 1)
            st.pos = i + 1
            if st.pos == st.n:
                del fe[idx]
                self.fe_ptr = idx % len(fe) if fe else 0
            else:
                self.fe_ptr = (idx + 1) % n
            accepted = True
            break
        self._plan_front(t)
        return accepted

    def _plan_front(self, t: int) -> None:
        """Earliest cycle the front end may accept again (INF: waits for queue room)."""
        at = INF
        nr = len(self.rq) < self.spec.read_queue_depth
        nw = len(self.wq) < self.spec.write_buffer_depth
        for sid in self.fe:
            st = self.streams[sid]
            i = st.pos
            write = st.writes if isinstance(st.writes, bool) else st.writes[i]
            if nw if write else nr:
                arr = st.arrivals if isinstance(st.arrivals, int) else st.arrivals[i]
                at = min(at, max(arr, t + 1))
        self.fe_at = at

    def _accept(self, sid: int, addr: int, write: bool, added: int) -> None:
        self.move_blocked = False
        b, row = self.locate(addr)
        if write:
            self._resolve(sid, added + 1)
            if addr in self.pending_writes:
                return  # merges with the buffered write
            self.pending_writes.add(addr)
            self.wq.append((b, row, True, addr))
            self.wqc[b] += 1
            if len(self.cmdq[b]) < self.spec.cmd_queue_depth:
                self.wq_mov += 1
        elif addr in self.pending_writes:
            self.n_forwarded += 1
            self.lat_hist[1] = self.lat_hist.get(1, 0) + 1
            self._resolve(sid, added + 1)
        elif addr in self.pending_reads:
            self.n_merged += 1
            self.pending_reads[addr].append((added, sid))
        else:
            self.pending_reads[addr] = [(added, sid)]
            self.rq.append((b, row, False, addr))
            self.rqc[b] += 1
            if len(self.cmdq[b]) < self.spec.cmd_queue_depth:
                self.rq_mov += 1

    def _resolve(self, sid: int, cycle: int) -> None:
        st = self.streams[sid]
        st.pending -= 1
        if cycle > st.done:
            st.done = cycle
        if not st.pending:
            heapq.heappush(self.done_heap, (st.done, sid, st.tag))
            del self.streams[sid]


#: attributes fixed at construction (shared by forks)
_CONSTANT = frozenset({
    "spec", "nbanks", "banks_per_rank", "rank_of", "bg_of", "rr_order", "fields",
    "s_ro", "m_ro", "s_ra", "m_ra", "s_bg", "m_bg", "s_ba", "m_ba",
    "burst", "read_delay", "write_delay", "ccd_l", "ccd_s", "rd_to_rd_o",
    "rd_to_wr", "wr_to_rd_l", "wr_to_rd_s", "wr_to_rd_o", "wr_to_pre", "closed_page",
    "ref_interval", "pd_after", "sr_after", "lowpower",
})
