"""The trace-event writer's inner loop, compiled by numba: records to JSON bytes.

:mod:`desim.trace.chrome` encodes every text that repeats once (track heads, names,
arguments, counter values) into a pool of ASCII pieces and describes each record by a
row of integers; :func:`format_block` writes the rows' JSON texts, comma-separated, into
a byte buffer, with the times in microseconds as Python prints them (``12.5``, ``3.0``).

Row fields (``R``): the record's kind, its head piece, start (ps, or -1 - piece of a time
printed otherwise), duration (the same), tail piece, arguments kind, arguments piece,
bytes, address. Kinds: a slice (``X``), a counter sample (``C``), any other event (one
piece).
"""

from __future__ import annotations

import numpy as np
from numba import njit

(R_KIND, R_HEAD, R_TS, R_DUR, R_TAIL, R_ARGS, R_APIECE, R_BYTES, R_ADDR, NR) = range(10)
SLICE, COUNTER, OTHER = range(3)
#: a slice's arguments: none, a whole object, an object's head followed by its bytes, or
#: by its address and bytes
NO_ARGS, ARGS, MOVED, MOVED_AT = range(4)
#: the pool's first pieces
DUR, ARGS_KEY, BYTES_KEY, BRACE, ADDR_KEY, NEXT_BYTES = range(6)
FIRST_PIECES = (',"dur":', ',"args":', '"bytes":', "{", '"addr":', ',"bytes":')


@njit(cache=True, boundscheck=False)
def _put(out, n, P, po, pl, piece):  # type: ignore[no-untyped-def]
    start, length = po[piece], pl[piece]
    for i in range(length):  # (a slice assignment compiles a slow shape check)
        out[n + i] = P[start + i]
    return n + length


@njit(cache=True, boundscheck=False)
def _digits(out, n, u, k):  # type: ignore[no-untyped-def]
    """Write the ``k`` lowest decimal digits of ``u`` (unsigned: divisions by ten are
    multiplications)."""
    ten = np.uint64(10)
    for i in range(k - 1, -1, -1):
        out[n + i] = np.uint8(48) + np.uint8(u % ten)
        u //= ten
    return n + k


@njit(cache=True, boundscheck=False)
def _int(out, n, v):  # type: ignore[no-untyped-def]
    """Write the decimal digits of ``v``."""
    if v < 0:
        out[n] = 45  # '-'
        n += 1
        v = -v
    u = np.uint64(v)
    k = 1
    p = np.uint64(10)
    while k < 19 and u >= p:
        k += 1
        p *= np.uint64(10)
    return _digits(out, n, u, k)


@njit(cache=True, boundscheck=False)
def _us(out, n, P, po, pl, ps):  # type: ignore[no-untyped-def]
    """Write ``ps`` picoseconds in microseconds: the integer part, a point and the six
    decimals without trailing zeros (at least one digit); -1 - piece: that piece."""
    if ps < 0:
        return _put(out, n, P, po, pl, -1 - ps)
    n = _int(out, n, ps // 1_000_000)
    out[n] = 46  # '.'
    n += 1
    r = np.uint64(ps % 1_000_000)
    if r == 0:
        out[n] = 48
        return n + 1
    digits = 6
    ten = np.uint64(10)
    while r % ten == 0:
        r //= ten
        digits -= 1
    return _digits(out, n, r, digits)


@njit(cache=True, boundscheck=False)
def format_block(P, po, pl, R, order, lo, hi, out):  # type: ignore[no-untyped-def]
    """Write the records ``order[lo:hi]`` of ``R`` into ``out``, each after a comma;
    returns the bytes written."""
    n = 0
    for j in range(lo, hi):
        r = order[j]
        out[n] = 44  # ','
        n += 1
        kind = R[r, R_KIND]
        n = _put(out, n, P, po, pl, R[r, R_HEAD])
        if kind == OTHER:
            continue
        n = _us(out, n, P, po, pl, R[r, R_TS])
        if kind == COUNTER:
            n = _put(out, n, P, po, pl, R[r, R_TAIL])
            n = _put(out, n, P, po, pl, R[r, R_APIECE])
            out[n] = 125
            out[n + 1] = 125  # '}}'
            n += 2
            continue
        n = _put(out, n, P, po, pl, DUR)
        n = _us(out, n, P, po, pl, R[r, R_DUR])
        n = _put(out, n, P, po, pl, R[r, R_TAIL])
        args = R[r, R_ARGS]
        if args != NO_ARGS:
            n = _put(out, n, P, po, pl, ARGS_KEY)
            n = _put(out, n, P, po, pl, R[r, R_APIECE])
            if args == MOVED_AT:
                n = _put(out, n, P, po, pl, ADDR_KEY)
                n = _int(out, n, R[r, R_ADDR])
                n = _put(out, n, P, po, pl, NEXT_BYTES)
                n = _int(out, n, R[r, R_BYTES])
                out[n] = 125
                n += 1
            elif args == MOVED:
                n = _put(out, n, P, po, pl, BYTES_KEY)
                n = _int(out, n, R[r, R_BYTES])
                out[n] = 125
                n += 1
        out[n] = 125  # '}'
        n += 1
    return n
