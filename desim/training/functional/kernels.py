"""numba-jitted float32 loops of training: im2col / col2im, depthwise and pooling passes.

Convolutions run as the training libraries run them (PULP-TrainLib): the input is
unrolled into patch rows (:func:`im2col`, ``(N*Ho*Wo, Kh*Kw*Ci)`` in (ky, kx, c) order,
as OHWI weights flatten) and multiplied by the weights (:func:`matmul`, which fully
connected layers use too); the input gradient's patch rows are folded back by
:func:`col2im` (a scatter-add, the transposed unrolling). Depthwise convolutions and
pools have direct loops and no matrix multiply. The loops are single-threaded: BLAS's
threads stall on a loaded machine for matrices this small.
Input pixel ``(iy, ix)`` of output pixel ``(oy, ox)`` and tap ``(ky, kx)`` is
``(oy*sh - pt + ky*dh, ox*sw - pl + kx*dw)``; taps outside the input are skipped (zero
padding; pools count and compare in-bounds taps only, as TFLite's pools do).
Every loop takes C-contiguous float32 arrays and Python ints, so each compiles once
(``cache=True``). numba is imported on a loop's first call, not by importing this
module, so that timing runs never load it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np


def _jitted(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` compiled by numba (``cache=True``) on its first call."""
    compiled: Callable[..., Any] | None = None

    @functools.wraps(fn)
    def call(*args: Any) -> Any:
        nonlocal compiled
        if compiled is None:
            from numba import njit

            compiled = njit(cache=True)(fn)
        return compiled(*args)
    return call


@_jitted
def matmul(a, b, out):
    """``out = a @ b`` for row-major ``a`` (m x k) and ``b`` (k x n): four rows of ``out``
    at a time gather ``a[i, p] * b[p, :]`` over ``p`` (each row of ``b`` read once per
    four rows, the inner loop unit-stride and vectorised); sums run in order of ``p``."""
    m, k = a.shape
    out[:] = 0.0
    i = 0
    while i + 4 <= m:
        o0, o1, o2, o3 = out[i], out[i + 1], out[i + 2], out[i + 3]
        for p in range(k):
            v0, v1, v2, v3 = a[i, p], a[i + 1, p], a[i + 2, p], a[i + 3, p]
            bp = b[p]
            for j in range(bp.size):
                bj = bp[j]
                o0[j] += v0 * bj
                o1[j] += v1 * bj
                o2[j] += v2 * bj
                o3[j] += v3 * bj
        i += 4
    for r in range(i, m):
        row = out[r]
        for p in range(k):
            v = a[r, p]
            bp = b[p]
            for j in range(bp.size):
                row[j] += v * bp[j]


@_jitted
def im2col(x, cols, ho, wo, kh, kw, sh, sw, dh, dw, pt, pl):
    """Patch rows of ``x`` (NHWC) into ``cols`` (``N*Ho*Wo x Kh*Kw*C``); padding gives 0."""
    nb, h, wd, c = x.shape
    for n in range(nb):
        for oy in range(ho):
            for ox in range(wo):
                row = (n * ho + oy) * wo + ox
                for ky in range(kh):
                    iy = oy * sh - pt + ky * dh
                    for kx in range(kw):
                        ix = ox * sw - pl + kx * dw
                        base = (ky * kw + kx) * c
                        inside = 0 <= iy < h and 0 <= ix < wd
                        for ch in range(c):
                            cols[row, base + ch] = x[n, iy, ix, ch] if inside else 0.0


@_jitted
def col2im(cols, dx, ho, wo, kh, kw, sh, sw, dh, dw, pt, pl):
    """Add patch-row gradients ``cols`` back onto the input gradient ``dx`` (NHWC)."""
    nb, h, wd, c = dx.shape
    for n in range(nb):
        for oy in range(ho):
            for ox in range(wo):
                row = (n * ho + oy) * wo + ox
                for ky in range(kh):
                    iy = oy * sh - pt + ky * dh
                    if iy < 0 or iy >= h:
                        continue
                    for kx in range(kw):
                        ix = ox * sw - pl + kx * dw
                        if ix < 0 or ix >= wd:
                            continue
                        base = (ky * kw + kx) * c
                        for ch in range(c):
                            dx[n, iy, ix, ch] += cols[row, base + ch]


@_jitted
def depthwise_pass(x, w, dy, out, mode, sh, sw, dh, dw, pt, pl):
    """One walk over a depthwise window (``m`` outputs per input channel ``o // m``) that
    accumulates into ``out``, by ``mode``: 0 the forward ``out[n,oy,ox,o] += x * w``
    (``out`` holds the bias on entry), 1 the weight gradient ``out[0,ky,kx,o] += x * dy``,
    2 the input gradient ``out[n,iy,ix,o // m] += dy * w``; taps in the padding skipped."""
    nb, h, wd, c = x.shape
    _, kh, kw, co = w.shape
    m = co // c
    for n in range(nb):
        for oy in range(dy.shape[1]):
            for ox in range(dy.shape[2]):
                for ky in range(kh):
                    iy = oy * sh - pt + ky * dh
                    if iy < 0 or iy >= h:
                        continue
                    for kx in range(kw):
                        ix = ox * sw - pl + kx * dw
                        if ix < 0 or ix >= wd:
                            continue
                        for o in range(co):
                            if mode == 0:
                                out[n, oy, ox, o] += x[n, iy, ix, o // m] * w[0, ky, kx, o]
                            elif mode == 1:
                                out[0, ky, kx, o] += x[n, iy, ix, o // m] * dy[n, oy, ox, o]
                            else:
                                out[n, iy, ix, o // m] += dy[n, oy, ox, o] * w[0, ky, kx, o]


@_jitted
def pool_forward(x, out, arg, kh, kw, sh, sw, pt, pl, is_max):
    """Max or average over each window's in-bounds taps; for max, ``arg`` records the flat
    index into ``x`` of the first largest tap (the one the gradient goes to)."""
    nb, h, wd, c = x.shape
    for n in range(nb):
        for oy in range(out.shape[1]):
            iy0 = oy * sh - pt
            ky0, ky1 = max(0, -iy0), min(kh, h - iy0)
            for ox in range(out.shape[2]):
                ix0 = ox * sw - pl
                kx0, kx1 = max(0, -ix0), min(kw, wd - ix0)
                count = (ky1 - ky0) * (kx1 - kx0)
                for ch in range(c):
                    best, where, total = -np.inf, -1, 0.0
                    for ky in range(ky0, ky1):
                        for kx in range(kx0, kx1):
                            v = x[n, iy0 + ky, ix0 + kx, ch]
                            total += v
                            if v > best:
                                best = v
                                where = ((n * h + iy0 + ky) * wd + ix0 + kx) * c + ch
                    if is_max:
                        out[n, oy, ox, ch] = best
                        arg[n, oy, ox, ch] = where
                    else:
                        out[n, oy, ox, ch] = total / count


@_jitted
def pool_backward(dy, arg, dx, kh, kw, sh, sw, pt, pl, is_max):
    """Gradient of :func:`pool_forward`: max sends ``dy`` to the recorded tap, average
    spreads it evenly over the window's in-bounds taps."""
    nb, h, wd, c = dx.shape
    flat = dx.reshape(dx.size)
    for n in range(nb):
        for oy in range(dy.shape[1]):
            iy0 = oy * sh - pt
            ky0, ky1 = max(0, -iy0), min(kh, h - iy0)
            for ox in range(dy.shape[2]):
                ix0 = ox * sw - pl
                kx0, kx1 = max(0, -ix0), min(kw, wd - ix0)
                share = 1.0 / ((ky1 - ky0) * (kx1 - kx0))
                for ch in range(c):
                    g = dy[n, oy, ox, ch]
                    if is_max:
                        flat[arg[n, oy, ox, ch]] += g
                        continue
                    for ky in range(ky0, ky1):
                        for kx in range(kx0, kx1):
                            dx[n, iy0 + ky, ix0 + kx, ch] += g * share
