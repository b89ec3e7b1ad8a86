"""numba-jitted int8 tile kernels: the functional kernels' only numba module.

Five kernels, each compiled once (``cache=True``) for one signature: the wrappers in
:mod:`desim.functional.kernels.int8` hand them C-contiguous int8/int32 arrays and Python ints only,
so no second specialisation is ever compiled. The fixed-point helpers are inlined into
them (``inline="always"``): called as separate functions they cost ~8 ns per output.

Integer semantics follow TFLite's int8 reference kernels exactly. int32 arithmetic
wraps (two's complement), as it does on the targets TFLite runs on; the accumulator is
kept in an int32 (``np.int32(...)`` truncates), which also lets LLVM vectorise the
reduction. Requantisation of an int32 accumulator ``acc`` with multiplier ``q`` and
``shift``::

    a    = acc * 2^max(shift, 0)                       (int32, wraps)
    high = SRDHM(a, q) = trunc((a*q + nudge) / 2^31),  nudge = 2^30 if a*q >= 0 else 1 - 2^30
                         (saturates to 2^31 - 1 when a = q = -2^31)
    out  = RDBPOT(high, max(-shift, 0))                 (divide by 2^n, halves away from zero)

or, where the caller asks for TFLite's single rounding (its FULLY_CONNECTED does),
``out = floor((acc*q + 2^(30-shift)) / 2^(31-shift))``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_I32_MIN = -(2**31)
_I32_MAX = 2**31 - 1
_NUDGE = 1 << 30


@njit(cache=True, inline="always")
def wrap32(v):
    """``v`` reduced to int32 two's complement (as int64)."""
    return ((v + 2147483648) & 0xFFFFFFFF) - 2147483648


@njit(cache=True, inline="always")
def mbqm(x, multiplier, shift):
    """TFLite ``MultiplyByQuantizedMultiplier`` (double rounding, gemmlowp)."""
    left = shift if shift > 0 else 0
    right = 0 if shift > 0 else -shift
    a = wrap32(x << left)
    if a == _I32_MIN and multiplier == _I32_MIN:
        high = _I32_MAX
    else:
        ab = a * multiplier
        # add the nudge, then divide by 2^31 truncating toward zero as C++ does
        high = (ab + _NUDGE) >> 31 if ab >= 0 else -((_NUDGE - 1 - ab) >> 31)
    mask = (1 << right) - 1
    threshold = (mask >> 1) + (1 if high < 0 else 0)
    return (high >> right) + (1 if (high & mask) > threshold else 0)


@njit(cache=True, inline="always")
def mbqm_single(x, multiplier, shift):
    """``x * q * 2^(shift-31)`` rounded once, halves up (TFLite's single-rounding form)."""
    total = 31 - shift
    return (x * multiplier + (1 << (total - 1))) >> total


@njit(cache=True, inline="always")
def _requant(acc, multiplier, shift, y_off, act_min, act_max, single):
    a, m, s = wrap32(np.int64(acc)), np.int64(multiplier), np.int64(shift)
    v = wrap32((mbqm_single(a, m, s) if single else mbqm(a, m, s)) + y_off)
    return min(max(v, act_min), act_max)


@njit(cache=True)
def conv_dense(x, w, bias, mult, shift, out, sh, sw, pt, pl, x_off, w_off, y_off,
               act_min, act_max, single):
    """Ungrouped NHWC convolution, weights OHWI; also pointwise and fully connected.

    Taps outside the input are skipped (TFLite's zero padding). For each output pixel
    and kernel row the in-bounds taps of ``x`` and ``w`` are one contiguous run.
    """
    nb, h, wd, c = x.shape
    cout, fh, fw, _ = w.shape
    oh, ow = out.shape[1], out.shape[2]
    xf = x.reshape(x.size)
    wf = w.reshape(w.size)
    for n in range(nb):
        for oy in range(oh):
            iy0 = oy * sh - pt
            ky0, ky1 = max(0, -iy0), min(fh, h - iy0)
            for ox in range(ow):
                ix0 = ox * sw - pl
                kx0, kx1 = max(0, -ix0), min(fw, wd - ix0)
                span = (kx1 - kx0) * c
                for oc in range(cout):
                    acc = np.int32(0)
                    for ky in range(ky0, ky1):
                        xb = ((n * h + iy0 + ky) * wd + ix0 + kx0) * c
                        wb = ((oc * fh + ky) * fw + kx0) * c
                        xs = xf[xb:xb + span]  # slices: unit-stride, no negative-index checks
                        ws = wf[wb:wb + span]
                        for t in range(span):
                            acc = np.int32(acc + np.int32(ws[t] + w_off)
                                           * np.int32(xs[t] + x_off))
                    out[n, oy, ox, oc] = _requant(acc + bias[oc], mult[oc], shift[oc],
                                                  y_off, act_min, act_max, single)


@njit(cache=True)
def conv_grouped(x, w, bias, mult, shift, out, sh, sw, pt, pl, x_off, y_off,
                 act_min, act_max):
    """Grouped NHWC convolution, weights HWIO ``[fh, fw, cin/groups, cout]``; depthwise.

    Output channel ``oc`` belongs to group ``oc // (cout / groups)`` and reads that
    group's input channels (TFLite's grouped conv; depthwise ``oc = ic * m + j``).
    """
    nb, h, wd, c = x.shape
    fh, fw, cpg, cout = w.shape
    fpg = cout // (c // cpg)
    xf = x.reshape(x.size)
    wf = w.reshape(w.size)
    acc = np.empty(cout, np.int32)
    for n in range(nb):
        for oy in range(out.shape[1]):
            iy0 = oy * sh - pt
            for ox in range(out.shape[2]):
                ix0 = ox * sw - pl
                acc[:] = 0
                for ky in range(max(0, -iy0), min(fh, h - iy0)):
                    for kx in range(max(0, -ix0), min(fw, wd - ix0)):
                        xb = ((n * h + iy0 + ky) * wd + ix0 + kx) * c
                        xpix = xf[xb:xb + c]
                        for icg in range(cpg):
                            wb = ((ky * fw + kx) * cpg + icg) * cout
                            wtap = wf[wb:wb + cout]
                            if fpg == 1 and cpg == 1:  # depthwise, multiplier 1: unit stride
                                for oc in range(cout):
                                    acc[oc] = np.int32(acc[oc] + np.int32(wtap[oc])
                                                       * np.int32(xpix[oc] + x_off))
                            else:
                                for oc in range(cout):
                                    xv = xpix[(oc // fpg) * cpg + icg] + x_off
                                    acc[oc] = np.int32(acc[oc] + np.int32(wtap[oc])
                                                       * np.int32(xv))
                for oc in range(cout):
                    out[n, oy, ox, oc] = _requant(acc[oc] + bias[oc], mult[oc], shift[oc],
                                                  y_off, act_min, act_max, False)


@njit(cache=True)
def pool(x, out, fh, fw, sh, sw, pt, pl, is_max, act_min, act_max):
    """Max or average pool over the in-bounds part of each window (TFLite int8 pools).

    Average: ``(sum + n/2) / n`` for a positive sum, ``(sum - n/2) / n`` otherwise, with
    C++ truncating division and ``n`` the number of in-bounds taps.
    """
    nb, h, wd, c = x.shape
    acc = np.empty(c, np.int32)
    for n in range(nb):
        for oy in range(out.shape[1]):
            iy0 = oy * sh - pt
            ky0, ky1 = max(0, -iy0), min(fh, h - iy0)
            for ox in range(out.shape[2]):
                ix0 = ox * sw - pl
                kx0, kx1 = max(0, -ix0), min(fw, wd - ix0)
                acc[:] = -128 if is_max else 0
                for ky in range(ky0, ky1):
                    for kx in range(kx0, kx1):
                        xpix = x[n, iy0 + ky, ix0 + kx]
                        if is_max:
                            for ch in range(c):
                                acc[ch] = max(acc[ch], np.int32(xpix[ch]))
                        else:
                            for ch in range(c):
                                acc[ch] += xpix[ch]
                count = (ky1 - ky0) * (kx1 - kx0)
                for ch in range(c):
                    v = acc[ch]
                    if not is_max:  # C++ division truncates toward zero
                        v = (v + count // 2) // count if v > 0 else -((count // 2 - v) // count)
                    out[n, oy, ox, ch] = min(max(v, act_min), act_max)


@njit(cache=True)
def add(a, b, out, a_off, b_off, y_off, left, m1, s1, m2, s2, mo, so, act_min, act_max):
    """TFLite int8 ADD on flat arrays: both inputs scaled by ``2^left``, rescaled, summed."""
    for i in range(out.size):
        sa = mbqm(wrap32((a[i] + a_off) << left), m1, s1)
        sb = mbqm(wrap32((b[i] + b_off) << left), m2, s2)
        v = wrap32(mbqm(wrap32(sa + sb), mo, so) + y_off)
        out[i] = min(max(v, act_min), act_max)


@njit(cache=True)
def requantize(acc, mult, shift, out, y_off, act_min, act_max, single):
    """Requantise an int32 ``[rows, channels]`` accumulator to int8, per channel."""
    for r in range(acc.shape[0]):
        for ch in range(acc.shape[1]):
            out[r, ch] = _requant(acc[r, ch], mult[ch], shift[ch], y_off, act_min, act_max,
                                  single)
