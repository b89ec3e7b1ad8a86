"""The replay loop of :class:`desim.hw.sharing.Group`, compiled by numba.

A group is packed into one int64 vector ``G`` (built once per group) and a run's state
into another, ``V`` (built per run), so that a call passes a few arguments:

    G = [m, L, P, anchor, chunks (m), path lengths (m), paths (m*P), full-chunk ps (m*P),
         used links (L, padded with -1)]
    V = [rem (m), nxt (m), seq (m), free (L), last-chunk ps (m*P),
         bytes (L), busy (L), first start (L, -1: none)]

:func:`replay` advances ``V`` in place (rem, nxt, seq, free, then what the links carried
and were busy for, and each link's first start when ``record``) and returns the finisher
(-1: none) and the requests it stepped through.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: ``limit`` when the run has no stop
NO_STOP = (1 << 63) - 1  # the same as desim.hw.sharing._NO_STOP


@njit(cache=True)
def replay(G, V, limit, look, patience, record):  # type: ignore[no-untyped-def]
    """Advance the group of ``G`` from state ``V`` to the first transfer's end or through
    every request made at or before ``limit``, looking for periods while ``look``; returns
    (finisher, requests stepped)."""
    m, L, P, anchor = G[0], G[1], G[2], G[3]
    o_chunks, o_plen = 4, 4 + m
    o_paths = o_plen + m
    o_full = o_paths + m * P
    o_used = o_full + m * P
    o_nxt, o_seq, o_free = m, 2 * m, 3 * m
    o_last = o_free + L
    o_bytes = o_last + m * P
    o_busy, o_first = o_bytes + L, o_bytes + 2 * L
    fulls = np.zeros(m, np.int64)
    order = V[o_seq]
    for i in range(m):
        order = max(order, V[o_seq + i])
    order += 1
    width = 2 * m + L
    sigs = np.empty((patience + 2, width), np.int64)
    marks = np.empty((patience + 2, 2 + 2 * m), np.int64)  # t, order, rem, fulls
    seen = 0
    sig = np.empty(width, np.int64)
    rank = np.empty(m, np.int64)
    finisher, steps = -1, 0
    while True:
        i = 0
        for j in range(1, m):
            if (V[o_nxt + j] < V[o_nxt + i]
                    or (V[o_nxt + j] == V[o_nxt + i] and V[o_seq + j] < V[o_seq + i])):
                i = j
        t = V[o_nxt + i]
        if t > limit:
            break
        if V[i] == 0:  # its last chunk has ended: it leaves the group here
            finisher = i
            break
        if i == anchor and look:
            # the group's state relative to now: members by next request, links' ends
            for j in range(m):
                rank[j] = j
            for a in range(1, m):
                j = rank[a]
                b = a
                while b > 0 and (V[o_nxt + rank[b - 1]] > V[o_nxt + j]
                                 or (V[o_nxt + rank[b - 1]] == V[o_nxt + j]
                                     and V[o_seq + rank[b - 1]] > V[o_seq + j])):
                    rank[b] = rank[b - 1]
                    b -= 1
                rank[b] = j
            for a in range(m):
                sig[2 * a] = rank[a]
                sig[2 * a + 1] = V[o_nxt + rank[a]] - t
            for k in range(L):
                f = V[o_free + k]
                sig[2 * m + k] = f - t if f > t else 0
            was = -1
            for s in range(seen):
                same = True
                for x in range(width):
                    if sigs[s, x] != sig[x]:
                        same = False
                        break
                if same:
                    was = s
                    break
            if was < 0:
                sigs[seen, :] = sig
                marks[seen, 0] = t
                marks[seen, 1] = order
                for j in range(m):
                    marks[seen, 2 + j] = V[j]
                    marks[seen, 2 + m + j] = fulls[j]
                seen += 1
                if seen > patience:
                    look = False
            else:
                look = False  # one skip leaves less than a period to go
                skipped = _skip(G, V, marks, was, t, order, fulls, limit, o_used)
                if skipped:
                    order += skipped
                    continue
        start = t
        base = i * P
        n_links = G[o_plen + i]
        for p in range(n_links):
            k = G[o_paths + base + p]
            if V[o_free + k] > start:
                start = V[o_free + k]
        c = G[o_chunks + i]
        end = start
        if V[i] >= c:
            V[i] -= c
            fulls[i] += 1
            for p in range(n_links):
                k = G[o_paths + base + p]
                e = start + G[o_full + base + p]
                V[o_free + k] = e
                if e > end:
                    end = e
        else:  # the last chunk, short
            n = V[i]
            V[i] = 0
            for p in range(n_links):
                k = G[o_paths + base + p]
                d = V[o_last + base + p]
                V[o_bytes + k] += n
                V[o_busy + k] += d
                e = start + d
                V[o_free + k] = e
                if e > end:
                    end = e
        if record:
            for p in range(n_links):
                k = G[o_paths + base + p]
                if V[o_first + k] < 0:
                    V[o_first + k] = start
        V[o_nxt + i] = end
        V[o_seq + i] = order
        order += 1
        steps += 1
    for i in range(m):
        base = i * P
        for p in range(G[o_plen + i]):
            k = G[o_paths + base + p]
            V[o_bytes + k] += fulls[i] * G[o_chunks + i]
            V[o_busy + k] += fulls[i] * G[o_full + base + p]
    return finisher, steps


@njit(cache=True)
def _skip(G, V, marks, was, t, order, fulls, limit, o_used):  # type: ignore[no-untyped-def]
    """The group stands as it did at mark ``was``, relative to now: skip as many whole
    periods since as every transfer has full chunks left for (and the run within
    ``limit``). Returns the requests skipped (0: none)."""
    m, L = G[0], G[1]
    period = t - marks[was, 0]
    if period <= 0:
        return 0
    periods = (limit - t) // period if limit != NO_STOP else NO_STOP
    for i in range(m):
        moved = marks[was, 2 + i] - V[i]
        if moved <= 0:
            return 0
        periods = min(periods, V[i] // moved)
    if periods <= 0:
        return 0
    shift, skipped = periods * period, periods * (order - marks[was, 1])
    for i in range(m):
        V[m + i] += shift
        V[2 * m + i] += skipped
        moved = marks[was, 2 + i] - V[i]
        V[i] -= periods * moved
        fulls[i] += periods * (fulls[i] - marks[was, 2 + m + i])
    for x in range(L):
        k = G[o_used + x]
        if k < 0:
            break
        V[3 * m + k] += shift
    return skipped
