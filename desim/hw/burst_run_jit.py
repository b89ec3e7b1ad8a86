"""The replay loop of :class:`desim.hw.burst_run.BurstRun`, compiled by numba.

A run replays one DMA channel's bursts between the DRAM and an SRAM step by step, in the
order the kernel would take the steps' events (time, then the order they were scheduled
in): the DRAM's completion timer, an access done, a transfer's end on the crossing link
or the SRAM port, an arrival after a link's latency. The DRAM is the compiled engine
itself (:func:`desim.hw.dram.jit.offer`, :func:`~desim.hw.dram.jit.complete`), called as
the DRAM component calls it, and by :func:`replay` alone (each function that calls it is
compiled with the engine's code).

Arrays (int64):

    B    per burst: first transaction's offset, transactions, bytes, ps on the crossing
         link, ps on the port; rows 0..W-1 are the bursts the W slots hold at the start
    K    constants: slots W, bursts, transaction bytes, direction (1: into the DRAM), the
         two links' latencies, the DRAM clock (frequency, 1e12 // f, 1e12 % f), whether
         the component's timer was set, whether the run is traced
    V    the run's scalars (V_* below)
    H    pending steps, a binary heap of (ps, order, kind, a, b); its last row is scratch
    SL   per slot: burst held, phase, DRAM stream id, when its DRAM access was offered
    F    per link, the slots whose transfers wait there, in order (a ring of W)
    IDLE slots left without a burst; WR bytes of each port access, in order
    TL   the trace log (T_* below), traced runs only
    C*   the state at the last moment to hand back at found so far (V, H, SL, F and the
         engine's two arrays)

:func:`replay` advances them in place; it returns to Python when the DRAM engine needs
it (room, folding, a stream the compiled offer cannot add), with the call to finish in
``V[V_PY]``: Python gives the next completion's cycle and calls again.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from desim.hw.dram import jit as dram

# -- V: the run's scalars --------------------------------------------------------------------
(V_NOW, V_SEQ, V_GEN, V_DUE, V_ACTIVE, V_SINCE, V_DRAM_BUSY, V_FREE0, V_FREE1, V_NB0, V_NB1,
 V_BUSY0, V_BUSY1, V_NEXT, V_LEFT, V_MOVED, V_ACCESSES, V_TXNS, V_CROSSED, V_CBYTES, V_NWR,
 V_HEAP, V_SID, V_HEAD0, V_HEAD1, V_LEN0, V_LEN1, V_NIDLE, V_PY, V_CODE, V_ARG, V_SLOT,
 V_TIMER0_FIRED, V_NTL, V_FULL, NV) = range(36)
# -- K: constants ----------------------------------------------------------------------------
K_W, K_NB, K_TXN, K_WRITE, K_LAT0, K_LAT1, K_F, K_QA, K_QB, K_TIMER0, K_TRACE, NK = range(12)
# -- B: per burst ----------------------------------------------------------------------------
B_FIRST, B_COUNT, B_BYTES, B_D0, B_D1, NBF = range(6)
# -- SL: per slot ----------------------------------------------------------------------------
SL_ITEM, SL_PHASE, SL_SID, SL_START, NSL = range(5)
#: slot phases: at the DRAM, crossing the interconnect, at the SRAM's port, resting
AT_DRAM, CROSSING, AT_PORT, RESTING = range(4)
#: step kinds
TIMER, DONE, END, ARRIVE = range(4)
#: trace log entries (TL rows: kind, time, end, a, b), in the order the kernel makes them:
#: the DRAM's queue depth (t, depth), a DRAM access's bus interval (start, end, burst),
#: a booking (start, end, link, burst), a link left with nothing on it (t, -, link)
T_DEPTH, T_BUS, T_BOOK, T_LEAVE = range(4)
#: replay() outcomes: stopped at the limit; a hand-back moment found; the job would end
#: first; Python must finish an offer or a completion (see V_PY); the heap or the trace
#: log ran out of room (no run then)
AT_LIMIT, HAND_BACK, JOB_ENDS, PYTHON, FULL = range(5)
#: V_PY: what Python finishes: nothing, the look ahead of an offer or a completion
#: (``V_CODE``: the engine's outcome), or the whole offer of slot ``V_SLOT`` (its burst,
#: counted and given its stream id, not yet added to the engine)
PY_NONE, PY_LOOKED, PY_OFFER = range(3)
#: ``limit`` of a replay that looks for its hand-back moment
NO_LIMIT = (1 << 63) - 1
#: a step's outcome when it asked nothing of the DRAM engine, or when it takes a burst
#: to the DRAM (slot in V_SLOT); both below the engine's codes
NO_PLAN, OFFER = -100, -101


@njit(cache=True)
def edge_ps(K, k):  # type: ignore[no-untyped-def]
    """ps of edge ``k`` of the DRAM clock, as :meth:`desim.kernel.Clock.ps` rounds it,
    without the 1e12 * k product that overflows 64 bits."""
    f = K[K_F]
    return k * K[K_QA] + (k * K[K_QB] + f // 2) // f


@njit(cache=True)
def edge_index(K, t):  # type: ignore[no-untyped-def]
    """The first DRAM clock edge at or after ``t`` ps (:meth:`Clock.edge_index`)."""
    k = np.int64(t * (K[K_F] / 1e12))
    while edge_ps(K, k) < t:
        k += 1
    while k > 0 and edge_ps(K, k - 1) >= t:
        k -= 1
    return k


@njit(cache=True)
def _row(H, dst, src):  # type: ignore[no-untyped-def]
    """Copy row ``src`` of ``H`` to row ``dst`` (element by element: a slice assignment
    compiles a shape check that costs seconds)."""
    for k in range(5):
        H[dst, k] = H[src, k]


@njit(cache=True)
def _copy(dst, src):  # type: ignore[no-untyped-def]
    """``dst[:] = src`` for 1-D arrays of one length, element by element."""
    for i in range(src.shape[0]):
        dst[i] = src[i]


@njit(cache=True)
def _push(H, V, t, kind, a, b):  # type: ignore[no-untyped-def]
    i = V[V_HEAP]
    if i + 1 >= H.shape[0]:  # (the last row is _pop's; no exception: it compiles slowly)
        V[V_FULL] = 1
        return
    V[V_HEAP] = i + 1
    seq = V[V_SEQ]
    V[V_SEQ] = seq + 1
    while i > 0:
        p = (i - 1) >> 1
        if H[p, 0] < t or (H[p, 0] == t and H[p, 1] < seq):
            break
        _row(H, i, p)
        i = p
    H[i, 0], H[i, 1], H[i, 2], H[i, 3], H[i, 4] = t, seq, kind, a, b


@njit(cache=True)
def _pop(H, V):  # type: ignore[no-untyped-def]
    """Remove the first step; it is left in row ``V[V_HEAP]`` (past the heap's end; the
    heap's last row is kept free as scratch)."""
    n = V[V_HEAP] - 1
    V[V_HEAP] = n
    spare = H.shape[0] - 1
    _row(H, spare, 0)  # the top, set aside
    t, seq = H[n, 0], H[n, 1]  # the last step, sifted down from the top
    i = 0
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and (H[c + 1, 0] < H[c, 0]
                          or (H[c + 1, 0] == H[c, 0] and H[c + 1, 1] < H[c, 1])):
            c += 1
        if t < H[c, 0] or (t == H[c, 0] and seq < H[c, 1]):
            break
        _row(H, i, c)
        i = c
    _row(H, i, n)
    _row(H, n, spare)


@njit(cache=True)
def _log(K, V, TL, kind, t, end, a, b):  # type: ignore[no-untyped-def]
    """Log a trace record (traced runs only)."""
    if not K[K_TRACE]:
        return
    i = V[V_NTL]
    if i == TL.shape[0]:
        V[V_FULL] = 1
        return
    TL[i, 0], TL[i, 1], TL[i, 2], TL[i, 3], TL[i, 4] = kind, t, end, a, b
    V[V_NTL] = i + 1


@njit(cache=True)
def depth(S):  # type: ignore[no-untyped-def]
    """Requests inside the DRAM controller (``FastDramEngine.queue_depth``)."""
    return S[dram.RQ_N] + S[dram.WQ_N] + S[dram.N_CMD]


@njit(cache=True)
def _plan(K, V, H, cycle):  # type: ignore[no-untyped-def]
    """The DRAM component's plan: time its next completion at ``cycle`` (-1: none)."""
    if cycle == V[V_DUE]:
        return
    V[V_DUE] = cycle
    V[V_GEN] += 1
    if cycle >= 0:
        _push(H, V, edge_ps(K, cycle), TIMER, V[V_GEN], 0)


#: the arrays every step takes: C-contiguous int64 (signatures given where a link number
#: passed as a constant would otherwise compile a function once per link)
_A1, _A2 = "int64[::1]", "int64[:, ::1]"


@njit(f"void({_A1}, {_A2}, {_A1}, {_A2}, {_A2}, int64, int64, int64, int64)", cache=True)
def _book(K, B, V, H, TL, k, j, item, now):  # type: ignore[no-untyped-def]
    """Book slot ``j``'s burst ``item`` on link ``k`` (0: crossing, 1: port) from ``now``."""
    start = V[V_FREE0 + k]
    if start < now:
        start = now
    d = B[item, B_D0 + k]
    end = start + d
    V[V_FREE0 + k] = end
    V[V_NB0 + k] += B[item, B_BYTES]
    V[V_BUSY0 + k] += d
    _log(K, V, TL, T_BOOK, start, end, k, item)
    _push(H, V, end, END, k, j)


@njit(f"void({_A1}, {_A2}, {_A1}, {_A2}, {_A2}, {_A2}, {_A2}, int64, int64, int64)",
      cache=True)
def _launch(K, B, V, H, SL, F, TL, k, j, now):  # type: ignore[no-untyped-def]
    """Slot ``j`` starts its transfer on link ``k``: booked now, or behind the slot ahead."""
    W = K[K_W]
    n = V[V_LEN0 + k]
    F[k, (V[V_HEAD0 + k] + n) % W] = j
    V[V_LEN0 + k] = n + 1
    if n == 0:
        _book(K, B, V, H, TL, k, j, SL[j, SL_ITEM], now)


@njit(cache=True)
def _to_dram(B, V, SL, j, now):  # type: ignore[no-untyped-def]
    """Slot ``j`` takes its burst to the DRAM now (a read or a write, as the run goes):
    count the access; :func:`replay` offers it (the one caller of the engine, so that
    only it is compiled with the engine's code). Returns OFFER."""
    item = SL[j, SL_ITEM]
    SL[j, SL_PHASE] = AT_DRAM
    V[V_MOVED] += B[item, B_BYTES]
    if not V[V_ACTIVE]:
        V[V_SINCE] = now
    V[V_ACTIVE] += 1
    V[V_ACCESSES] += 1
    V[V_TXNS] += B[item, B_COUNT]
    SL[j, SL_SID] = V[V_SID]
    SL[j, SL_START] = now
    V[V_SLOT] = j
    return OFFER


@njit(cache=True)
def _on_port(K, B, V, H, SL, F, WR, TL, j, now):  # type: ignore[no-untyped-def]
    """Slot ``j`` moves its burst through the SRAM's port (the SRAM counts it now)."""
    SL[j, SL_PHASE] = AT_PORT
    WR[V[V_NWR]] = B[SL[j, SL_ITEM], B_BYTES]
    V[V_NWR] += 1
    _launch(K, B, V, H, SL, F, TL, 1, j, now)


@njit(cache=True)
def _cross(K, B, V, H, SL, F, TL, j, now):  # type: ignore[no-untyped-def]
    """Slot ``j``'s burst starts across the interconnect link."""
    SL[j, SL_PHASE] = CROSSING
    V[V_CROSSED] += 1
    V[V_CBYTES] += B[SL[j, SL_ITEM], B_BYTES]
    _launch(K, B, V, H, SL, F, TL, 0, j, now)


@njit(cache=True)
def _finished(K, B, V, H, SL, F, IDLE, WR, TL, j, now):  # type: ignore[no-untyped-def]
    """Slot ``j``'s burst is done: it takes the channel's next one (read from the DRAM,
    or from the SRAM's port), or rests. Returns OFFER (the DRAM's turn) or NO_PLAN."""
    V[V_LEFT] -= 1
    if V[V_NEXT] < K[K_NB] and V[V_LEFT]:
        SL[j, SL_ITEM] = V[V_NEXT]
        V[V_NEXT] += 1
        if K[K_WRITE]:
            _on_port(K, B, V, H, SL, F, WR, TL, j, now)
            return NO_PLAN
        return _to_dram(B, V, SL, j, now)
    SL[j, SL_PHASE] = RESTING
    IDLE[V[V_NIDLE]] = j
    V[V_NIDLE] += 1
    return NO_PLAN


@njit(cache=True)
def _looked(V, code):  # type: ignore[no-untyped-def]
    """The next completion of a look ahead's outcome; -2 when Python must finish it."""
    if code >= 0:
        return code
    if code == dram.NOTHING:
        return -1
    if V[V_PY] == PY_NONE:
        V[V_PY] = PY_LOOKED
    V[V_CODE] = code
    return -2


@njit(cache=True)
def _arrive(K, B, V, H, SL, F, IDLE, WR, TL, k, j, now):  # type: ignore[no-untyped-def]
    """Slot ``j``'s burst arrives across link ``k`` (0: the interconnect, 1: the port)
    and goes on to its next stage. Returns OFFER (the DRAM's turn) or NO_PLAN."""
    if K[K_WRITE]:
        if k == 1:
            _cross(K, B, V, H, SL, F, TL, j, now)
            return NO_PLAN
        return _to_dram(B, V, SL, j, now)
    if k == 0:
        _on_port(K, B, V, H, SL, F, WR, TL, j, now)
        return NO_PLAN
    return _finished(K, B, V, H, SL, F, IDLE, WR, TL, j, now)


@njit(cache=True)
def _keep(X, C):  # type: ignore[no-untyped-def]
    """``X`` copied into ``C`` (a new array when their sizes differ)."""
    if C.shape[0] != X.shape[0]:
        return X.copy()
    _copy(C, X)
    return C


@njit(cache=True)
def replay(S, A, R, out, K, B, V, H, SL, F, IDLE, WR, TL, limit,  # type: ignore[no-untyped-def]
           CS, CA, CV, CH, CSL, CF):
    """Take the run's steps before ``limit``, or with NO_LIMIT, find the last moment to
    hand back at: 1 ps after a step, the next at least 2 ps away, once every burst is
    taken and before the job's last step (the state then is kept in the C* arrays, the
    engine's only when a later step changes it). Returns (outcome, S, A): the engine's
    state and look-ahead arrays, swapped by completions."""
    if V[V_PY] != PY_NONE:  # Python finished the call: the cycle is in V_ARG
        V[V_PY] = PY_NONE
        _plan(K, V, H, V[V_ARG])
    W, nb = K[K_W], K[K_NB]
    kept = engine_kept = False
    while V[V_HEAP]:
        t, kind, a = H[0, 0], H[0, 2], H[0, 3]
        if limit != NO_LIMIT and t >= limit and not (
                t == limit and kind == TIMER and a == 0 == V[V_GEN] and V[V_TIMER0_FIRED]):
            V[V_NOW] = limit  # (the component's own timer of this moment has fired)
            return AT_LIMIT, S, A
        if limit == NO_LIMIT and V[V_NEXT] == nb and t >= V[V_NOW] + 2:
            V[V_NOW] += 1  # a moment to hand back at: keep it, go on to a later one
            _copy(CV, V)
            _copy(CH.ravel(), H.ravel())
            _copy(CSL.ravel(), SL.ravel())
            _copy(CF.ravel(), F.ravel())
            V[V_NOW] -= 1
            kept, engine_kept = True, False
        _pop(H, V)
        b = H[V[V_HEAP], 4]
        V[V_NOW] = t
        if kept and not engine_kept and kind != DONE and (
                kind != END or not K[K_LAT0 + a]):  # the step may change the engine
            CS, CA = _keep(S, CS), _keep(A, CA)
            engine_kept = True
        code = NO_PLAN
        if kind == TIMER:
            if a != V[V_GEN]:
                continue  # a plan made since moved it
            S, A = A, S  # commit the look ahead the plan ran
            if A.shape[0] != S.shape[0]:  # the look ahead grew the state: a new scratch
                A = S.copy()
            n, code = dram.complete(S, A, R, V[V_DUE], out)
            V[V_DUE] = -1
            _log(K, V, TL, T_DEPTH, t, depth(S), 0, 0)
            for i in range(n):
                sid = out[i, 1]
                for j in range(W):
                    if SL[j, SL_PHASE] == AT_DRAM and SL[j, SL_SID] == sid:
                        _push(H, V, t, DONE, j, 0)
                        break
        elif kind == DONE:
            _log(K, V, TL, T_BUS, SL[a, SL_START], t, SL[a, SL_ITEM], 0)
            V[V_ACTIVE] -= 1
            if not V[V_ACTIVE]:
                V[V_DRAM_BUSY] += t - V[V_SINCE]
            if K[K_WRITE]:
                code = _finished(K, B, V, H, SL, F, IDLE, WR, TL, a, t)
            else:
                _cross(K, B, V, H, SL, F, TL, a, t)
        elif kind == END:
            head = V[V_HEAD0 + a]
            V[V_HEAD0 + a] = (head + 1) % W
            V[V_LEN0 + a] -= 1
            if not V[V_LEN0 + a]:
                _log(K, V, TL, T_LEAVE, t, 0, a, 0)
            else:
                nxt = F[a, (head + 1) % W]
                _book(K, B, V, H, TL, a, nxt, SL[nxt, SL_ITEM], t)
            if K[K_LAT0 + a]:
                _push(H, V, t + K[K_LAT0 + a], ARRIVE, a, b)
            else:
                code = _arrive(K, B, V, H, SL, F, IDLE, WR, TL, a, b, t)
        else:
            code = _arrive(K, B, V, H, SL, F, IDLE, WR, TL, a, b, t)
        if code == OFFER:  # the slot's burst to the DRAM engine (here: see _to_dram)
            j = V[V_SLOT]
            item, sid = SL[j, SL_ITEM], SL[j, SL_SID]
            code = dram.NOT_OFFERED
            if A.shape[0] == S.shape[0]:  # else the state grew: Python makes a new scratch
                code = dram.offer(S, A, R, edge_index(K, t), sid, B[item, B_COUNT],
                                  B[item, B_FIRST], K[K_TXN], K[K_WRITE])
            if code == dram.NOT_OFFERED:  # (Python logs the depth once it has offered)
                V[V_PY] = PY_OFFER
            else:
                V[V_SID] = sid + 1
                _log(K, V, TL, T_DEPTH, t, depth(S), 0, 0)
        cycle = NO_PLAN
        if code != NO_PLAN:
            cycle = _looked(V, code)
        if V[V_FULL]:
            return FULL, S, A
        if V[V_LEFT] == 0 or cycle == -2:
            if kept:  # hand back at the last moment kept, before the job's end or Python
                _copy(V, CV)
                _copy(H.ravel(), CH.ravel())
                _copy(SL.ravel(), CSL.ravel())
                _copy(F.ravel(), CF.ravel())
                if engine_kept:
                    return HAND_BACK, CS, CA
                return HAND_BACK, S, A
            if cycle == -2:
                return PYTHON, S, A
            return JOB_ENDS, S, A
        if cycle != NO_PLAN:
            _plan(K, V, H, cycle)
    return JOB_ENDS, S, A
