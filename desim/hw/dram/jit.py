"""numba-jitted DRAM controller: the model of :mod:`desim.hw.dram.controller` on one array.

The same controller, cycle for cycle (refresh, one command, one transaction move, one
arrival per simulated cycle; the same FR-FCFS, bank-group, refresh and power-state rules),
with its whole state in one int64 vector ``S`` so that the scheduler runs compiled and a
fork is one copy. The Python engine of ``controller.py`` stays the event-level reference:
property tests feed both the same random streams and compare every command, completion
and counter. (Every function takes ``S`` and plain integers: arrays passed in tuples or
sliced into views cost an atomic reference count per use, more than the work itself.)

Layout of ``S``: a header of scalars, then regions at the offsets the header holds::

    header   state scalars (NOW ...), constants (K_*: timings, geometry, flags), offsets
             and capacities of the regions (O_*, CAP_*)
    BK       per bank: open row, hits, earliest ACT/column/PRE, next-command bound, the
             cached candidates of its queue, queue lengths
    GR, RK   per bank group (earliest READ/WRITE/ACT), per rank (the same, tFAW window,
             open banks, activity and power-state bookkeeping)
    CQ       per bank command queue: (row, write, address) x cmd_queue_depth
    RQ, WQ   read queue and write buffer: (bank, row, write, address)
    HR*, HW* hash tables (linear probing, -1 empty) of the addresses with a read pending
             (value: its waiter list) and with a write pending
    REFQ     ring of ranks whose refresh is pending
    SM       one row per stream (requests to offer, completion); column S_FE holds the
             front end's round-robin list of streams
    W        waiters of pending reads (entry cycle, stream, next), a linked free list
    LAT      read latencies not yet folded into the histogram
    LOG      the command log (cycle, kind, bank, row) when logging

The last four regions grow: :func:`run` returns ``GROW`` at a cycle boundary when the next
cycle may not fit, and the caller relays the vector out (:func:`relayout`) and calls again.
Requests of streams given as lists are in a separate read-only array ``R``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

INF = 1 << 62

#: run() outcomes
OK, GROW, STALL = 0, 1, 2

# -- header: state scalars, constants, region offsets and capacities -------------------------
(NOW, N_CMD, RQ_N, WQ_N, RQ_MOV, WQ_MOV, DRAIN, CLOSED, MOVE_BLOCKED, MOVE_AT, FE_AT, FE_N,
 FE_PTR, PTR, REF_NEXT, REF_RANK, REFQ_HEAD, REFQ_N, N_STREAMS, DONE_MIN, W_FREE, W_USED,
 LAT_N, LOG_N, N_ACT, N_PRE, N_RD, N_WR, N_REF, RD_HITS, WR_HITS, MISSES, CONFLICTS, N_FWD,
 N_MERGED, LAST_DATA_END, N_PDX, N_SRX,
 K_NB, K_BPR, K_BPG, K_RANKS, K_NG, K_S_RO, K_M_RO, K_S_RA, K_M_RA, K_S_BG, K_M_BG, K_S_BA,
 K_M_BA, K_TXN_SHIFT, K_TRCD, K_TRAS, K_TRRD_L, K_TRRD_S, K_TFAW, K_TRP, K_TPPD, K_TRFC,
 K_TRTP, K_TXP, K_TXS, K_BURST, K_READ_DELAY, K_WRITE_DELAY, K_CCD_L, K_CCD_S, K_RD_TO_RD_O,
 K_RD_TO_WR, K_WR_TO_RD_L, K_WR_TO_RD_S, K_WR_TO_RD_O, K_WR_TO_PRE, K_CLOSED_PAGE,
 K_REF_INTERVAL, K_PD_AFTER, K_SR_AFTER, K_LOWPOWER, K_CMD_DEPTH, K_RQ_DEPTH, K_WB_DEPTH,
 K_DRAIN_THRESHOLD, K_ROW_HIT_CAP, K_HBITS, K_LOG_ON,
 O_BK, O_GR, O_RK, O_CQ, O_RQ, O_WQ, O_HRK, O_HRV, O_HWK, O_HWV, O_REFQ, O_SM, O_W, O_LAT,
 O_LOG, CAP_REFQ, CAP_SM, CAP_W, CAP_LAT, CAP_LOG, HEADER) = range(107)
# -- per bank (BK) -------------------------------------------------------------------------
(OPEN, HITS, CONFL, B_ACT, B_COL, B_PRE, LB, CAND, C_CLOSED, C_RD, C_WR, C_PRE, CQN, RQC,
 WQC, NBF) = range(16)
# -- per bank group (GR) -------------------------------------------------------------------
G_RD, G_WR, G_ACT, NGF = range(4)
# -- per rank (RK) -------------------------------------------------------------------------
(R_RD, R_WR, R_ACT, R_PRE, FAW_N, FAW0, FAW1, FAW2, FAW3, OPEN_CNT, ACTIVE_SINCE,
 ACTIVE_CYCLES, R_CMDS, IDLE_SINCE, PDE, PD_ACT, PD_PRE, SR_CYC, NRF) = range(19)
# -- streams (SM) --------------------------------------------------------------------------
(S_STATE, S_SID, S_N, S_POS, S_PENDING, S_DONE, S_BASE, S_STRIDE, S_WRITE, S_ARR, S_OFF,
 S_FE, NSF) = range(13)
FREE, ACTIVE, DONE = range(3)
# -- waiters (W), command log (LOG) ----------------------------------------------------------
W_ADDED, W_SLOT, W_NEXT, NWF = range(4)
ACT, PRE, RD, WR, REF = range(5)
NLF = 4

#: compiled once and cached; no reference counting (``_nrt=False``): the kernel allocates
#: nothing, and the atomic count updates on every call cost more than the scheduling
_jit = njit(cache=True, _nrt=False)  # type: ignore[call-overload]
_HASH = -7046029254386353131  # 0x9E3779B97F4A7C15 as int64: Fibonacci hashing
#: growable regions, in order at the end of S: (offset, capacity, fields per entry)
GROWABLE = ((O_SM, CAP_SM, NSF), (O_W, CAP_W, NWF), (O_LAT, CAP_LAT, 1), (O_LOG, CAP_LOG, NLF))


def build(spec, fields: dict[str, tuple[int, int]], log: bool) -> np.ndarray:
    """The state vector of an idle controller at cycle 0: every bank closed, no stream."""
    s = spec
    h = np.zeros(HEADER, np.int64)
    nb = s.banks
    burst = s.burst_cycles
    h[K_NB], h[K_BPR], h[K_BPG] = nb, s.bank_groups * s.banks_per_group, s.banks_per_group
    h[K_RANKS], h[K_NG] = s.ranks, s.ranks * s.bank_groups
    for name, (si, mi) in (("ro", (K_S_RO, K_M_RO)), ("ra", (K_S_RA, K_M_RA)),
                          ("bg", (K_S_BG, K_M_BG)), ("ba", (K_S_BA, K_M_BA))):
        h[si], h[mi] = fields[name]
    h[K_TXN_SHIFT] = s.txn_bytes.bit_length() - 1
    h[K_TRCD], h[K_TRAS], h[K_TRRD_L], h[K_TRRD_S] = s.tRCD, s.tRAS, s.tRRD_L, s.tRRD_S
    h[K_TFAW], h[K_TRP], h[K_TPPD], h[K_TRFC], h[K_TRTP] = s.tFAW, s.tRP, s.tPPD, s.tRFC, s.tRTP
    h[K_TXP], h[K_TXS] = s.tXP, s.tXS
    h[K_BURST], h[K_READ_DELAY], h[K_WRITE_DELAY] = burst, s.CL + burst, s.CWL + burst
    h[K_CCD_L], h[K_CCD_S] = max(burst, s.tCCD_L), max(burst, s.tCCD_S)
    h[K_RD_TO_RD_O] = burst + s.tRTRS
    h[K_RD_TO_WR] = s.CL + burst + s.tRTRS - s.CWL
    h[K_WR_TO_RD_L] = s.CWL + burst + s.tWTR_L
    h[K_WR_TO_RD_S] = s.CWL + burst + s.tWTR_S
    h[K_WR_TO_RD_O] = s.CWL + burst + s.tRTRS - s.CL
    h[K_WR_TO_PRE] = s.CWL + burst + s.tWR
    h[K_CLOSED_PAGE] = s.page_policy == "closed"
    h[K_REF_INTERVAL] = s.tREFI // s.ranks
    h[K_PD_AFTER], h[K_SR_AFTER] = s.powerdown_after, s.self_refresh_after
    h[K_LOWPOWER] = bool(s.powerdown_after or s.self_refresh_after)
    h[K_CMD_DEPTH], h[K_RQ_DEPTH], h[K_WB_DEPTH] = (s.cmd_queue_depth, s.read_queue_depth,
                                                    s.write_buffer_depth)
    h[K_DRAIN_THRESHOLD], h[K_ROW_HIT_CAP] = s.write_drain_threshold, s.row_hit_cap
    # every pending read (write) sits in the read queue (write buffer) or a command queue:
    # a table 1.5 times that size keeps linear probing short
    entries = max(s.read_queue_depth, s.write_buffer_depth) + nb * s.cmd_queue_depth
    h[K_HBITS] = max(4, (3 * entries // 2).bit_length())
    h[K_LOG_ON] = log
    size = 1 << int(h[K_HBITS])
    h[CAP_REFQ] = 2 * s.ranks + 2
    h[CAP_SM], h[CAP_W], h[CAP_LAT], h[CAP_LOG] = 8, 64, 1024, 1024 if log else 0
    off = HEADER
    for key, n in ((O_BK, nb * NBF), (O_GR, h[K_NG] * NGF), (O_RK, s.ranks * NRF),
                   (O_CQ, nb * s.cmd_queue_depth * 3), (O_RQ, s.read_queue_depth * 4),
                   (O_WQ, s.write_buffer_depth * 4), (O_HRK, size), (O_HRV, size),
                   (O_HWK, size), (O_HWV, size), (O_REFQ, h[CAP_REFQ])):
        h[key] = off
        off += n
    S = np.zeros(_place(h, off), np.int64)
    S[:HEADER] = h
    bk = region(S, O_BK, nb, NBF)
    bk[:, OPEN] = -1
    bk[:, LB] = INF
    S[S[O_HRK]:S[O_HRK] + size] = -1
    S[S[O_HWK]:S[O_HWK] + size] = -1
    S[MOVE_AT] = S[FE_AT] = S[DONE_MIN] = INF
    S[PTR] = nb - 1
    S[REF_NEXT] = s.tREFI // 2 if s.refresh else INF
    S[W_FREE] = -1
    link_waiters(S, 0)
    return S


def _place(h: np.ndarray, fixed: int) -> int:
    """Put the growable regions one after the other from ``fixed``; return the size."""
    off = fixed
    for o, cap, width in GROWABLE:
        h[o] = off
        off += h[cap] * width
    return off


def relayout(S: np.ndarray, caps: dict[int, int]) -> np.ndarray:
    """A copy of ``S`` whose growable regions have the capacities ``caps`` (by CAP_ index;
    the others keep theirs), their contents kept."""
    fixed = int(S[O_SM])
    h = S[:HEADER].copy()
    for cap, n in caps.items():
        h[cap] = n
    out = np.zeros(_place(h, fixed), np.int64)
    out[:HEADER] = h
    out[HEADER:fixed] = S[HEADER:fixed]
    for o, cap, width in GROWABLE:
        n = min(S[cap], h[cap]) * width
        out[h[o]:h[o] + n] = S[S[o]:S[o] + n]
    return out


def region(S: np.ndarray, offset: int, rows: int, width: int) -> np.ndarray:
    """The (rows, width) view of the region whose offset is at header index ``offset``."""
    o = int(S[offset])
    return S[o:o + rows * width].reshape(rows, width)


def link_waiters(S: np.ndarray, first: int) -> None:
    """Put waiters ``first`` .. CAP_W - 1 on the free list."""
    w = region(S, O_W, int(S[CAP_W]), NWF)
    w[first:, W_NEXT] = np.arange(first + 1, len(w) + 1)
    w[-1, W_NEXT] = S[W_FREE]
    S[W_FREE] = first


# -- address hash tables (linear probing, -1 empty, backward-shift deletion) -----------------

@_jit
def _home(S, key):
    return (((key >> S[K_TXN_SHIFT]) * _HASH) >> (64 - S[K_HBITS])) & ((1 << S[K_HBITS]) - 1)


@_jit
def _find(S, keys, key):
    """Slot of ``key`` in the table at offset ``keys``, or -1."""
    mask = (1 << S[K_HBITS]) - 1
    i = _home(S, key)
    while S[keys + i] != -1:
        if S[keys + i] == key:
            return i
        i = (i + 1) & mask
    return -1


@_jit
def _insert(S, keys, vals, key, val):
    mask = (1 << S[K_HBITS]) - 1
    i = _home(S, key)
    while S[keys + i] != -1:
        i = (i + 1) & mask
    S[keys + i] = key
    S[vals + i] = val


@_jit
def _delete(S, keys, vals, i):
    """Empty slot ``i``, moving later entries of its probe run back into the hole."""
    mask = (1 << S[K_HBITS]) - 1
    j = i
    while True:
        j = (j + 1) & mask
        key = S[keys + j]
        if key == -1:
            break
        h = _home(S, key)
        # the entry at j may fill the hole at i unless its home lies cyclically in (i, j]
        if (i < j and (h <= i or h > j)) or (j < i and h <= i and h > j):
            S[keys + i] = key
            S[vals + i] = S[vals + j]
            i = j
    S[keys + i] = -1


# -- helpers ---------------------------------------------------------------------------------

@_jit
def _locate(S, addr):
    bank = (((addr >> S[K_S_RA]) & S[K_M_RA]) * S[K_BPR]
            + ((addr >> S[K_S_BG]) & S[K_M_BG]) * S[K_BPG]
            + ((addr >> S[K_S_BA]) & S[K_M_BA]))
    return bank, (addr >> S[K_S_RO]) & S[K_M_RO]


@_jit
def _log(S, t, kind, b, row):
    if S[K_LOG_ON]:
        x = S[O_LOG] + S[LOG_N] * NLF
        S[x] = t
        S[x + 1] = kind
        S[x + 2] = b
        S[x + 3] = row
        S[LOG_N] += 1


@_jit
def _latency(S, lat):
    S[S[O_LAT] + S[LAT_N]] = lat
    S[LAT_N] += 1


@_jit
def _request(S, R, slot, i):
    """(address, write, arrival) of request ``i`` of the stream in ``slot``."""
    sm = S[O_SM] + slot * NSF
    off = S[sm + S_OFF]
    addr = S[sm + S_BASE] + i * S[sm + S_STRIDE] if off < 0 else R[off + i, 0]
    write = S[sm + S_WRITE]
    if write < 0:
        write = R[off + i, 1]
    arr = S[sm + S_ARR]
    if arr < 0:
        arr = R[off + i, 2]
    return addr, write, arr


@_jit
def _resolve(S, slot, cycle):
    sm = S[O_SM] + slot * NSF
    S[sm + S_PENDING] -= 1
    if cycle > S[sm + S_DONE]:
        S[sm + S_DONE] = cycle
    if S[sm + S_PENDING] == 0:
        S[sm + S_STATE] = DONE
        S[N_STREAMS] -= 1
        if S[sm + S_DONE] < S[DONE_MIN]:
            S[DONE_MIN] = S[sm + S_DONE]


@_jit
def _waiter(S, added, slot, nxt):
    """A waiter from the free list: the read entering at ``added`` of stream ``slot``."""
    w = S[W_FREE]
    x = S[O_W] + w * NWF
    S[W_FREE] = S[x + W_NEXT]
    S[W_USED] += 1
    S[x + W_ADDED] = added
    S[x + W_SLOT] = slot
    S[x + W_NEXT] = nxt
    return w


# -- bank state ------------------------------------------------------------------------------

@_jit
def _candidates(S, b):
    """Bank ``b``'s queue scan: first read hit, first write hit, head may precharge (see
    DramEngine._candidates); a closed bank's head needs an ACT."""
    bk = S[O_BK] + b * NBF
    row = S[bk + OPEN]
    S[bk + CAND] = 1
    if row < 0:
        S[bk + C_CLOSED] = 1
        S[bk + C_RD] = S[bk + C_WR] = -1
        S[bk + C_PRE] = 0
        return
    q = S[O_CQ] + b * S[K_CMD_DEPTH] * 3
    i_rd = i_wr = -1
    hit = False
    for i in range(S[bk + CQN]):
        e = q + 3 * i
        if S[e] != row:
            continue
        hit = True
        if S[e + 1] == 0:
            if i_rd < 0:
                i_rd = i
        elif i_wr < 0:
            blocked = False
            for x in range(q, e, 3):
                if S[x + 2] == S[e + 2] and S[x + 1] == 0:
                    blocked = True
                    break
            if not blocked:
                i_wr = i
    S[bk + C_CLOSED] = 0
    S[bk + C_RD] = i_rd
    S[bk + C_WR] = i_wr
    S[bk + C_PRE] = S[q] != row and (not hit or S[bk + HITS] >= S[K_ROW_HIT_CAP])


@_jit
def _times(S, b):
    """Earliest legal cycles of bank ``b``'s candidates: ACT or PRE, read hit, write hit."""
    bk = S[O_BK] + b * NBF
    rk = S[O_RK] + b // S[K_BPR] * NRF
    gr = S[O_GR] + b // S[K_BPG] * NGF
    if S[bk + C_CLOSED]:
        ta = max(S[bk + B_ACT], S[gr + G_ACT], S[rk + R_ACT])
        if S[rk + FAW_N] == 4 and S[rk + FAW0] + S[K_TFAW] > ta:
            ta = S[rk + FAW0] + S[K_TFAW]
        return ta, INF, INF
    first = max(S[bk + B_PRE], S[rk + R_PRE]) if S[bk + C_PRE] else INF
    trd = max(S[bk + B_COL], S[gr + G_RD], S[rk + R_RD]) if S[bk + C_RD] >= 0 else INF
    twr = max(S[bk + B_COL], S[gr + G_WR], S[rk + R_WR]) if S[bk + C_WR] >= 0 else INF
    return first, trd, twr


@_jit
def _bound(S, b, t):
    """After bank ``b`` changed at cycle ``t``: its next command's earliest cycle."""
    bk = S[O_BK] + b * NBF
    if S[bk + CQN] == 0:
        S[bk + LB] = INF
        S[bk + CAND] = 0
        return
    _candidates(S, b)
    first, trd, twr = _times(S, b)
    S[bk + LB] = max(t + 1, min(first, trd, twr))


@_jit
def _close(S, r, t):
    rk = S[O_RK] + r * NRF
    S[rk + OPEN_CNT] -= 1
    if S[rk + OPEN_CNT] == 0:
        S[rk + ACTIVE_CYCLES] += t - S[rk + ACTIVE_SINCE]


@_jit
def _activate(S, b, row, t):
    bk = S[O_BK] + b * NBF
    rk = S[O_RK] + b // S[K_BPR] * NRF
    gr = S[O_GR] + b // S[K_BPG] * NGF
    _log(S, t, ACT, b, row)
    S[bk + OPEN] = row
    S[bk + HITS] = 0
    S[bk + B_COL] = t + S[K_TRCD]
    S[bk + B_PRE] = max(S[bk + B_PRE], t + S[K_TRAS])
    S[gr + G_ACT] = max(S[gr + G_ACT], t + S[K_TRRD_L])
    S[rk + R_ACT] = max(S[rk + R_ACT], t + S[K_TRRD_S])
    n = S[rk + FAW_N]
    if n < 4:
        S[rk + FAW0 + n] = t
        S[rk + FAW_N] = n + 1
    else:
        S[rk + FAW0] = S[rk + FAW1]
        S[rk + FAW1] = S[rk + FAW2]
        S[rk + FAW2] = S[rk + FAW3]
        S[rk + FAW3] = t
    if S[rk + OPEN_CNT] == 0:
        S[rk + ACTIVE_SINCE] = t
    S[rk + OPEN_CNT] += 1
    S[N_ACT] += 1
    _bound(S, b, t)


@_jit
def _precharge(S, b, t, on_demand):
    bk = S[O_BK] + b * NBF
    r = b // S[K_BPR]
    _log(S, t, PRE, b, -1)
    S[bk + OPEN] = -1
    S[bk + HITS] = 0
    S[bk + CONFL] = on_demand
    S[bk + B_ACT] = max(S[bk + B_ACT], t + S[K_TRP])
    if S[K_TPPD]:
        rk = S[O_RK] + r * NRF
        S[rk + R_PRE] = max(S[rk + R_PRE], t + S[K_TPPD])
    _close(S, r, t)
    S[N_PRE] += 1
    _bound(S, b, t)


@_jit
def _column(S, b, i, t):
    """Issue the READ or WRITE of command-queue entry ``i`` of bank ``b``."""
    bk = S[O_BK] + b * NBF
    r = b // S[K_BPR]
    rk = S[O_RK] + r * NRF
    gr = S[O_GR] + b // S[K_BPG] * NGF
    q = S[O_CQ] + b * S[K_CMD_DEPTH] * 3
    n = S[bk + CQN]
    e = q + 3 * i
    write = S[e + 1]
    addr = S[e + 2]
    _log(S, t, WR if write else RD, b, S[e])
    if n == S[K_CMD_DEPTH]:
        S[RQ_MOV] += S[bk + RQC]
        S[WQ_MOV] += S[bk + WQC]
    for x in range(e, q + 3 * (n - 1)):
        S[x] = S[x + 3]
    S[bk + CQN] = n - 1
    S[N_CMD] -= 1
    S[MOVE_BLOCKED] = 0
    h = S[bk + HITS]
    if h == 0:
        if S[bk + CONFL]:
            S[CONFLICTS] += 1
        else:
            S[MISSES] += 1
    S[bk + HITS] = h + 1
    r0 = S[O_RK]
    if write:
        if h:
            S[WR_HITS] += 1
        S[N_WR] += 1
        slot = _find(S, S[O_HWK], addr)
        if slot >= 0:
            _delete(S, S[O_HWK], S[O_HWV], slot)
        S[gr + G_WR] = max(S[gr + G_WR], t + S[K_CCD_L])
        S[rk + R_WR] = max(S[rk + R_WR], t + S[K_CCD_S])
        S[gr + G_RD] = max(S[gr + G_RD], t + S[K_WR_TO_RD_L])
        S[rk + R_RD] = max(S[rk + R_RD], t + S[K_WR_TO_RD_S])
        for o in range(S[K_RANKS]):
            if o != r:
                ro = r0 + o * NRF
                S[ro + R_WR] = max(S[ro + R_WR], t + S[K_BURST])
                S[ro + R_RD] = max(S[ro + R_RD], t + S[K_WR_TO_RD_O])
        S[bk + B_PRE] = max(S[bk + B_PRE], t + S[K_WR_TO_PRE])
        end = t + S[K_WRITE_DELAY]
    else:
        if h:
            S[RD_HITS] += 1
        S[N_RD] += 1
        S[gr + G_RD] = max(S[gr + G_RD], t + S[K_CCD_L])
        S[rk + R_RD] = max(S[rk + R_RD], t + S[K_CCD_S])
        S[rk + R_WR] = max(S[rk + R_WR], t + S[K_RD_TO_WR])
        for o in range(S[K_RANKS]):
            if o != r:
                ro = r0 + o * NRF
                S[ro + R_RD] = max(S[ro + R_RD], t + S[K_RD_TO_RD_O])
                S[ro + R_WR] = max(S[ro + R_WR], t + S[K_RD_TO_WR])
        S[bk + B_PRE] = max(S[bk + B_PRE], t + S[K_TRTP])
        end = t + S[K_READ_DELAY]
        slot = _find(S, S[O_HRK], addr)
        w = S[S[O_HRV] + slot]
        _delete(S, S[O_HRK], S[O_HRV], slot)
        while w >= 0:
            x = S[O_W] + w * NWF
            _latency(S, end - S[x + W_ADDED])
            _resolve(S, S[x + W_SLOT], end)
            nxt = S[x + W_NEXT]
            S[x + W_NEXT] = S[W_FREE]
            S[W_FREE] = w
            S[W_USED] -= 1
            w = nxt
    if end > S[LAST_DATA_END]:
        S[LAST_DATA_END] = end
    if S[K_CLOSED_PAGE]:
        # auto-precharge at the earliest legal PRE cycle; ACT may follow tRP later
        S[bk + OPEN] = -1
        S[bk + HITS] = 0
        S[bk + CONFL] = 0
        S[bk + B_ACT] = max(S[bk + B_ACT], S[bk + B_PRE] + S[K_TRP])
        _close(S, r, t)
        S[N_PRE] += 1
    if S[K_LOWPOWER]:
        # power-down waits for the read data, the write recovery, an auto-precharge
        done = t + S[K_WR_TO_PRE] if write else end
        if S[K_CLOSED_PAGE]:
            done = max(done, S[bk + B_PRE])
        S[rk + PDE] = max(S[rk + PDE], done + 1)
        S[rk + R_CMDS] -= 1
        if S[rk + R_CMDS] == 0:
            S[rk + IDLE_SINCE] = t
    _bound(S, b, t)


# -- power states ----------------------------------------------------------------------------

@_jit
def _refresh_pending(S, r):
    for i in range(S[REFQ_N]):  # noqa: SIM110 (numba compiles no any() over a generator)
        if S[S[O_REFQ] + (S[REFQ_HEAD] + i) % S[CAP_REFQ]] == r:
            return True
    return False


@_jit
def _sleep_at(S, r):
    """Cycles at which rank ``r`` enters power-down and self-refresh if nothing comes (INF:
    never, or the rank is busy)."""
    rk = S[O_RK] + r * NRF
    if S[rk + R_CMDS] or _refresh_pending(S, r):
        return INF, INF
    since, ready = S[rk + IDLE_SINCE], S[rk + PDE]
    pd = max(since + S[K_PD_AFTER], ready) if S[K_PD_AFTER] else INF
    sr = max(since + S[K_SR_AFTER], ready) if S[K_SR_AFTER] else INF
    return pd, sr


@_jit
def asleep(S, r, until):
    """(power-down, self-refresh) cycles of rank ``r``'s current idle period before ``until``."""
    pd, sr = _sleep_at(S, r)
    return max(0, min(until, sr) - pd), max(0, until - sr)


@_jit
def _precharge_rank(S, r, t):
    """Close every open bank of rank ``r`` at ``t`` (the precharge-all of self-refresh)."""
    lo = r * S[K_BPR]
    for b in range(lo, lo + S[K_BPR]):
        bk = S[O_BK] + b * NBF
        if S[bk + OPEN] >= 0:
            S[bk + OPEN] = -1
            S[bk + HITS] = 0
            S[bk + CONFL] = 0
            S[bk + B_ACT] = max(S[bk + B_ACT], t + S[K_TRP])
            _close(S, r, t)
            S[N_PRE] += 1


@_jit
def _wake(S, r, t, refresh):
    """Rank ``r`` is needed at ``t``: book its sleep, hold its next command tXP (tXS); with
    ``refresh``, a rank in self-refresh stays there and False is returned."""
    rk = S[O_RK] + r * NRF
    n_pd, n_sr = asleep(S, r, t)
    if n_sr and refresh:
        return False
    if not (n_pd or n_sr):
        return True
    if S[rk + OPEN_CNT]:
        S[rk + PD_ACT] += n_pd
    else:
        S[rk + PD_PRE] += n_pd
    if n_sr:
        S[rk + SR_CYC] += n_sr
        _precharge_rank(S, r, t - n_sr)
        S[N_SRX] += 1
        ready = t + S[K_TXS]
    else:
        S[N_PDX] += 1
        ready = t + S[K_TXP]
    lo = r * S[K_BPR]
    for b in range(lo, lo + S[K_BPR]):
        bk = S[O_BK] + b * NBF
        if S[bk + B_ACT] < ready:
            S[bk + B_ACT] = ready
    S[rk + R_PRE] = max(S[rk + R_PRE], ready)
    S[rk + R_RD] = max(S[rk + R_RD], ready)
    S[rk + R_WR] = max(S[rk + R_WR], ready)
    return True


# -- refresh ---------------------------------------------------------------------------------

@_jit
def _refresh_ready(S, r):
    """Earliest cycle the refresh of rank ``r`` can take its next step."""
    lo = r * S[K_BPR]
    pre = INF
    ref = 0
    for b in range(lo, lo + S[K_BPR]):
        bk = S[O_BK] + b * NBF
        if S[bk + OPEN] >= 0:
            pre = min(pre, S[bk + B_PRE])
        else:
            ref = max(ref, S[bk + B_ACT])
    return max(pre, S[S[O_RK] + r * NRF + R_PRE]) if pre < INF else ref


@_jit
def _refresh_step(S, r, t):
    """Precharge an open bank of rank ``r``, or refresh it when all are closed."""
    rk = S[O_RK] + r * NRF
    lo = r * S[K_BPR]
    hi = lo + S[K_BPR]
    all_closed = True
    for b in range(lo, hi):
        bk = S[O_BK] + b * NBF
        if S[bk + OPEN] >= 0:
            all_closed = False
            if max(S[bk + B_PRE], S[rk + R_PRE]) <= t:
                _precharge(S, b, t, 0)
                return True
    if not all_closed:
        return False
    for b in range(lo, hi):
        if S[S[O_BK] + b * NBF + B_ACT] > t:
            return False
    _log(S, t, REF, r, -1)
    S[rk + R_ACT] = max(S[rk + R_ACT], t + S[K_TRFC])
    if S[rk + PDE] < t + S[K_TRFC]:
        S[rk + PDE] = t + S[K_TRFC]
    S[N_REF] += 1
    S[REFQ_HEAD] = (S[REFQ_HEAD] + 1) % S[CAP_REFQ]
    S[REFQ_N] -= 1
    for b in range(lo, hi):
        bk = S[O_BK] + b * NBF
        S[bk + LB] = 0 if S[bk + CQN] else INF
    return True


# -- command issue ---------------------------------------------------------------------------

@_jit
def cmd_next(S):
    """Lower bound of the next cycle a command may issue."""
    nb = S[K_NB]
    lb = S[O_BK] + LB
    lo = hi = 0
    m = INF
    if S[REFQ_N]:
        r = S[S[O_REFQ] + S[REFQ_HEAD]]
        lo = r * S[K_BPR]
        hi = lo + S[K_BPR]
        m = _refresh_ready(S, r)
    for b in range(nb):
        if (b < lo or b >= hi) and S[lb + b * NBF] < m:
            m = S[lb + b * NBF]
    return m


@_jit
def _try_bank(S, b, t):
    """Issue the first legal command of bank ``b``: 0 none, 1 ACT/PRE, 2 READ/WRITE."""
    bk = S[O_BK] + b * NBF
    if not S[bk + CAND]:
        _candidates(S, b)
    first, trd, twr = _times(S, b)
    if first <= t:
        if S[bk + C_CLOSED]:
            _activate(S, b, S[S[O_CQ] + b * S[K_CMD_DEPTH] * 3], t)
        else:
            _precharge(S, b, t, 1)
        return 1
    if trd <= t:
        i_rd, i_wr = S[bk + C_RD], S[bk + C_WR]
        _column(S, b, i_wr if twr <= t and i_wr < i_rd else i_rd, t)
        return 2
    if twr <= t:
        _column(S, b, S[bk + C_WR], t)
        return 2
    S[bk + LB] = min(first, trd, twr)
    return 0


@_jit
def _issue(S, t):
    """Issue at most one command at cycle ``t``; True if it was a READ or WRITE."""
    lo = hi = -1
    if S[REFQ_N]:
        r = S[S[O_REFQ] + S[REFQ_HEAD]]
        if _refresh_step(S, r, t):
            return False
        lo = r * S[K_BPR]
        hi = lo + S[K_BPR]
    nb = S[K_NB]
    p = S[PTR]
    lb = S[O_BK] + LB
    for i in range(nb):
        b = (p + 1 + i) % nb
        if S[lb + b * NBF] <= t and not lo <= b < hi:
            kind = _try_bank(S, b, t)
            if kind:
                S[PTR] = b
                return kind == 2
    return False


# -- transaction scheduling ------------------------------------------------------------------

@_jit
def _drain_due(S):
    n = S[WQ_N]
    return (n >= S[K_WB_DEPTH]
            or (S[N_CMD] == 0 and (n > S[K_DRAIN_THRESHOLD]
                                   or (n > 0 and S[CLOSED] and S[FE_N] == 0 and S[RQ_N] == 0))))


@_jit
def _move_pending(S):
    """Whether step 3 of the next cycle can change anything."""
    if S[MOVE_BLOCKED]:
        return False
    if S[DRAIN]:
        return S[WQ_MOV] > 0
    return _drain_due(S) or S[RQ_MOV] > 0


@_jit
def _enqueue(S, b, row, write, addr, t):
    bk = S[O_BK] + b * NBF
    n = S[bk + CQN]
    e = S[O_CQ] + (b * S[K_CMD_DEPTH] + n) * 3
    S[e] = row
    S[e + 1] = write
    S[e + 2] = addr
    S[bk + CQN] = n + 1
    S[N_CMD] += 1
    if S[K_LOWPOWER]:
        r = b // S[K_BPR]
        rk = S[O_RK] + r * NRF
        if S[rk + R_CMDS] == 0:
            _wake(S, r, t, False)
        S[rk + R_CMDS] += 1
    if n + 1 == S[K_CMD_DEPTH]:
        S[RQ_MOV] -= S[bk + RQC]
        S[WQ_MOV] -= S[bk + WQC]
    _bound(S, b, t)


@_jit
def _first_movable(S, q, n):
    """Index of the oldest of the ``n`` entries of queue ``q`` whose bank queue has room."""
    depth = S[K_CMD_DEPTH]
    for i in range(n):
        if S[S[O_BK] + S[q + 4 * i] * NBF + CQN] < depth:
            return i
    return -1


@_jit
def _take(S, q, n, i, t, counter):
    """Move entry ``i`` of the ``n`` of queue ``q`` into its bank's command queue."""
    e = q + 4 * i
    b, row, write, addr = S[e], S[e + 1], S[e + 2], S[e + 3]
    for x in range(e, q + 4 * (n - 1)):
        S[x] = S[x + 4]
    S[S[O_BK] + b * NBF + counter] -= 1
    _enqueue(S, b, row, write, addr, t)


@_jit
def _move(S, t):
    """Move one request from the write buffer (draining) or the read queue into its bank's
    command queue: the oldest whose bank queue has room."""
    if not S[DRAIN] and _drain_due(S):
        S[DRAIN] = S[WQ_N]
    if S[DRAIN]:
        if not S[WQ_MOV]:
            return False
        wq = S[O_WQ]
        i = _first_movable(S, wq, S[WQ_N])
        if _find(S, S[O_HRK], S[wq + 4 * i + 3]) < 0:
            S[DRAIN] -= 1
            S[WQ_N] -= 1
            S[WQ_MOV] -= 1
            _take(S, wq, S[WQ_N] + 1, i, t, WQC)
            return True
        # an older read of this address must go first: stop draining, move reads
        S[DRAIN] = 0
        if not S[RQ_MOV]:
            S[MOVE_BLOCKED] = 1  # until that read issues or a request arrives
            return False
    elif not S[RQ_MOV]:
        return False
    rq = S[O_RQ]
    i = _first_movable(S, rq, S[RQ_N])
    S[RQ_N] -= 1
    S[RQ_MOV] -= 1
    _take(S, rq, S[RQ_N] + 1, i, t, RQC)
    return True


# -- front end -------------------------------------------------------------------------------

@_jit
def _push(S, q, n, b, row, write, addr):
    e = q + 4 * n
    S[e] = b
    S[e + 1] = row
    S[e + 2] = write
    S[e + 3] = addr


@_jit
def _accept(S, slot, addr, write, added):
    S[MOVE_BLOCKED] = 0
    b, row = _locate(S, addr)
    bk = S[O_BK] + b * NBF
    room = S[bk + CQN] < S[K_CMD_DEPTH]
    if write:
        _resolve(S, slot, added + 1)
        if _find(S, S[O_HWK], addr) >= 0:
            return  # merges with the buffered write
        _insert(S, S[O_HWK], S[O_HWV], addr, 0)
        _push(S, S[O_WQ], S[WQ_N], b, row, 1, addr)
        S[WQ_N] += 1
        S[bk + WQC] += 1
        if room:
            S[WQ_MOV] += 1
    elif _find(S, S[O_HWK], addr) >= 0:
        S[N_FWD] += 1
        _latency(S, 1)
        _resolve(S, slot, added + 1)
    else:
        i = _find(S, S[O_HRK], addr)
        if i >= 0:
            S[N_MERGED] += 1
            v = S[O_HRV] + i
            S[v] = _waiter(S, added, slot, S[v])
            return
        _insert(S, S[O_HRK], S[O_HRV], addr, _waiter(S, added, slot, -1))
        _push(S, S[O_RQ], S[RQ_N], b, row, 0, addr)
        S[RQ_N] += 1
        S[bk + RQC] += 1
        if room:
            S[RQ_MOV] += 1


@_jit
def _plan_front(S, R, t):
    """Earliest cycle the front end may accept again (INF: waits for queue room)."""
    at = INF
    room_r = S[RQ_N] < S[K_RQ_DEPTH]
    room_w = S[WQ_N] < S[K_WB_DEPTH]
    sm = S[O_SM]
    for j in range(S[FE_N]):
        slot = S[sm + j * NSF + S_FE]
        _, write, arr = _request(S, R, slot, S[sm + slot * NSF + S_POS])
        if room_w if write else room_r:
            at = min(at, max(arr, t + 1))
    S[FE_AT] = at


@_jit
def _front(S, R, t):
    """Accept at most one request at the end of cycle ``t`` (it enters at ``t + 1``)."""
    n = S[FE_N]
    sm = S[O_SM]
    accepted = False
    for j in range(n):
        idx = (S[FE_PTR] + j) % n
        slot = S[sm + idx * NSF + S_FE]
        st = sm + slot * NSF
        i = S[st + S_POS]
        addr, write, arr = _request(S, R, slot, i)
        if arr > t:
            continue
        if (S[WQ_N] if write else S[RQ_N]) >= (S[K_WB_DEPTH] if write else S[K_RQ_DEPTH]):
            continue
        _accept(S, slot, addr, write, t + 1)
        S[st + S_POS] = i + 1
        if i + 1 == S[st + S_N]:
            for x in range(idx, n - 1):
                S[sm + x * NSF + S_FE] = S[sm + (x + 1) * NSF + S_FE]
            S[FE_N] = n - 1
            S[FE_PTR] = idx % (n - 1) if n > 1 else 0
        else:
            S[FE_PTR] = (idx + 1) % n
        accepted = True
        break
    _plan_front(S, R, t)
    return accepted


# -- main loop -------------------------------------------------------------------------------

@_jit
def _tick(S, R, t, cn):
    """Simulate cycle ``t``: refresh trigger, one command, one move, one arrival."""
    if t == S[REF_NEXT]:
        r = S[REF_RANK]
        if not S[K_LOWPOWER] or _wake(S, r, t, True):
            S[S[O_REFQ] + (S[REFQ_HEAD] + S[REFQ_N]) % S[CAP_REFQ]] = r
            S[REFQ_N] += 1
            cn = t
        S[REF_RANK] = (r + 1) % S[K_RANKS]
        S[REF_NEXT] += S[K_REF_INTERVAL]
    column = False
    if cn <= t:
        column = _issue(S, t)
    moved = False
    if column or S[MOVE_AT] <= t:
        moved = _move(S, t)
    accepted = False
    if moved or S[FE_AT] <= t:
        accepted = _front(S, R, t)
    if column or moved or accepted or S[MOVE_AT] <= t:
        S[MOVE_AT] = t + 1 if _move_pending(S) else INF
    S[NOW] = t + 1


@_jit
def _room(S):
    """Whether the next cycle surely fits: a free waiter (one request may enter), latency
    slots for every pending read, a log slot (one command), a pending-refresh slot."""
    return (S[W_FREE] >= 0 and S[LAT_N] + S[W_USED] + 1 <= S[CAP_LAT]
            and (not S[K_LOG_ON] or S[LOG_N] < S[CAP_LOG]) and S[REFQ_N] < S[CAP_REFQ])


@_jit
def run(S, R, until, stop_on_output, idle_stop):
    """Simulate cycles before ``until`` (see DramEngine._run): OK when done, GROW when a
    region needs room first, STALL when requests are left but nothing can ever happen."""
    while True:
        now = S[NOW]
        if idle_stop and not (S[N_STREAMS] or S[RQ_N] or S[WQ_N] or S[N_CMD]):
            return OK
        cn = cmd_next(S)
        t = max(min(S[REF_NEXT], S[MOVE_AT], S[FE_AT], cn), now)
        done = S[DONE_MIN]
        if stop_on_output and done < INF and done <= min(t, until):
            # nothing happens before this completion: stop exactly at it
            S[NOW] = max(now, done)
            return OK
        if t >= until:
            if now < until < INF:
                S[NOW] = until
            elif idle_stop:
                return STALL
            return OK
        if not _room(S):
            return GROW
        _tick(S, R, t, cn)


#: look() outcomes besides a completion cycle; offer() adds NOT_OFFERED
NOTHING, NONE_BY_LIMIT, FOLD, NEEDS_ROOM, STALLED, NOT_OFFERED = -1, -2, -3, -4, -5, -6


@_jit
def look(S, A, R, limit):
    """Copy ``S`` into ``A`` and run ``A`` to the next stream completion (at most to
    ``limit``): its cycle, or NOTHING (no request pending; ``A`` untouched), FOLD (fold
    latencies or log out of ``S`` first; ``A`` untouched), NONE_BY_LIMIT, NEEDS_ROOM or
    STALLED (``A`` as run() left it)."""
    if not S[N_STREAMS] and S[DONE_MIN] >= INF:
        return NOTHING
    if 2 * S[LAT_N] > S[CAP_LAT] or (S[K_LOG_ON] and 2 * S[LOG_N] > S[CAP_LOG]):
        return FOLD
    for i in range(len(S)):
        A[i] = S[i]
    status = run(A, R, limit, True, False)
    if status == GROW:
        return NEEDS_ROOM
    if status == STALL:
        return STALLED
    done = A[DONE_MIN]
    return done if done <= A[NOW] else NONE_BY_LIMIT


@_jit
def offer(S, A, R, until, sid, n, base, stride, write):
    """Run ``S`` to cycle ``until``, add stream ``sid`` (``n`` requests from ``base``,
    ``stride`` apart, arriving then) and :func:`look` ahead from there; NOT_OFFERED (no
    stream added) when ``S`` needs room first."""
    if run(S, R, until, False, False) != OK:
        return NOT_OFFERED
    now = S[NOW]
    if add_stream(S, sid, n, base, stride, write, now, -1, now) < 0:
        return NOT_OFFERED
    return look(S, A, R, INF)


# -- streams (called from Python) --------------------------------------------------------------

@_jit
def add_stream(S, sid, n, base, stride, write, arr, off, first):
    """Put a stream of ``n`` requests in a free row of SM: addresses ``base + i * stride``
    (or row ``off + i`` of R when ``off >= 0``), ``write`` and ``arr`` one value for all
    (-1: per request, from R), offered from cycle ``first`` on. Returns the row, or -1 when
    none is free. An empty stream is done at once."""
    st = -1
    for slot in range(S[CAP_SM]):
        if S[S[O_SM] + slot * NSF + S_STATE] == FREE:
            st = slot
            break
    if st < 0:
        return -1
    x = S[O_SM] + st * NSF
    S[x + S_SID] = sid
    S[x + S_N] = n
    S[x + S_POS] = 0
    S[x + S_PENDING] = n
    S[x + S_DONE] = 0
    if n == 0:
        S[x + S_STATE] = DONE
        S[x + S_DONE] = S[NOW]
        S[DONE_MIN] = min(S[DONE_MIN], S[NOW])
        return st
    S[x + S_STATE] = ACTIVE
    S[x + S_BASE] = base
    S[x + S_STRIDE] = stride
    S[x + S_WRITE] = write
    S[x + S_ARR] = arr
    S[x + S_OFF] = off
    S[N_STREAMS] += 1
    S[S[O_SM] + S[FE_N] * NSF + S_FE] = st
    S[FE_N] += 1
    S[FE_AT] = min(S[FE_AT], max(first, S[NOW]))
    return st


@_jit
def complete(S, A, R, until, out):
    """:func:`pop_done` up to ``until``, then :func:`look` ahead: what a planned
    completion asks of the engine, in one call. Returns (streams done, look's outcome)."""
    n = pop_done(S, until, out)
    return n, look(S, A, R, INF)


@_jit
def pop_done(S, until, out):
    """Free the streams done by ``until``; put their (cycle, id) in ``out`` in completion
    order (ties by id) and return how many."""
    if S[DONE_MIN] > until:
        return 0
    n = 0
    rest = INF
    for slot in range(S[CAP_SM]):
        x = S[O_SM] + slot * NSF
        if S[x + S_STATE] != DONE:
            continue
        cycle, sid = S[x + S_DONE], S[x + S_SID]
        if cycle > until:
            rest = min(rest, cycle)
            continue
        S[x + S_STATE] = FREE
        i = n
        while i > 0 and (out[i - 1, 0] > cycle or (out[i - 1, 0] == cycle and out[i - 1, 1] > sid)):
            out[i, 0] = out[i - 1, 0]
            out[i, 1] = out[i - 1, 1]
            i -= 1
        out[i, 0] = cycle
        out[i, 1] = sid
        n += 1
    S[DONE_MIN] = rest
    return n
