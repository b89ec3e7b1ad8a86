"""Plain numpy references of the int8 operators of :mod:`desim.functional.kernels.int8`.

Written for clarity, not speed, and independently of the jitted kernels: whole-tensor
int64 arithmetic, explicit zero padding of ``x - zero_point`` (equivalent to TFLite
skipping taps outside the input), a matmul per kernel tap, and the fixed-point
rounding in closed form rather than gemmlowp's mask-and-threshold form:

* ``SRDHM(a, b) = floor((a*b + 2^30) / 2^31)``: nearest, halves toward +inf, which is
  what gemmlowp's "add a sign-dependent nudge, truncate toward zero" amounts to;
* ``RDBPOT(x, e) = sign(x) * floor((|x| + 2^(e-1)) / 2^e)``: halves away from zero;
* single rounding (the fully connected layer's): ``floor((2*x*q + 2^(31-shift)) / 2^(32-shift))``.

int32 results wrap (two's complement) like the kernels'. No argument checking beyond
what the geometry needs: this module is a test oracle and a readable specification.
"""

from __future__ import annotations

import numpy as np

from desim.functional.kernels.geometry import Pads, output_hw, pair, resolve_padding
from desim.functional.kernels.quant import INT8_MAX, INT8_MIN, INT32_MAX, INT32_MIN, AddParams


def wrap32(v: np.ndarray) -> np.ndarray:
    """int64 values reduced modulo 2^32 into the int32 range."""
    return (np.asarray(v, np.int64) + 2**31) % 2**32 - 2**31


def srdhm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Saturating rounding doubling high multiply of int32 values: ``round(a*b / 2^31)``."""
    a = np.asarray(a, np.int64)
    b = np.asarray(b, np.int64)
    high = (a * b + 2**30) >> 31
    return np.where((a == INT32_MIN) & (b == INT32_MIN), INT32_MAX, high)


def rdbpot(x: np.ndarray, exponent: np.ndarray) -> np.ndarray:
    """``x / 2^exponent`` rounded to nearest, halves away from zero."""
    x = np.asarray(x, np.int64)
    e = np.asarray(exponent, np.int64)
    half = np.where(e > 0, np.left_shift(1, np.maximum(e - 1, 0)), 0)
    return np.sign(x) * ((np.abs(x) + half) >> e)


def multiply_by_quantized_multiplier(x, multiplier, shift) -> np.ndarray:
    """``x * q * 2^(shift - 31)`` the TFLite way: left shift, SRDHM, then RDBPOT."""
    shift = np.asarray(shift, np.int64)
    scaled = wrap32(np.asarray(x, np.int64) * np.left_shift(1, np.maximum(shift, 0)))
    return rdbpot(srdhm(scaled, multiplier), np.maximum(-shift, 0))


def multiply_single_rounding(x, multiplier, shift) -> np.ndarray:
    """``x * q / 2^(31 - shift)`` rounded once to nearest, halves up (TFLite single rounding)."""
    x, q, s = (np.asarray(v, np.int64).astype(object) for v in (x, multiplier, shift))
    exact = x * q  # Python integers: no int64 overflow anywhere below
    return ((2 * exact + 2 ** (31 - s)) // 2 ** (32 - s)).astype(np.int64)


def _output_stage(acc, bias, multiplier, shift, output_zero_point, act_min, act_max,
                  rounding="double"):
    channels = acc.shape[-1]
    if bias is not None:
        acc = acc + np.broadcast_to(np.asarray(bias, np.int64), (channels,))
    m = np.broadcast_to(np.asarray(multiplier, np.int64), (channels,))
    s = np.broadcast_to(np.asarray(shift, np.int64), (channels,))
    scale = multiply_single_rounding if rounding == "single" else multiply_by_quantized_multiplier
    v = wrap32(scale(wrap32(acc), m, s) + output_zero_point)
    return np.clip(v, act_min, act_max).astype(np.int8)


def _taps(x: np.ndarray, fill: int, kernel_hw, stride, padding):
    """Padded input and, per kernel tap, the [N, oh, ow, C] view it contributes."""
    (fh, fw), (sh, sw) = kernel_hw, pair(stride, "stride")
    pads = resolve_padding(padding, x.shape[1:3], (fh, fw), (sh, sw))
    oh, ow = output_hw(x.shape[1:3], (fh, fw), (sh, sw), pads)
    xp = np.pad(x, ((0, 0), pads[:2], pads[2:], (0, 0)), constant_values=fill)
    for ky in range(fh):
        for kx in range(fw):
            yield ky, kx, xp[:, ky:ky + (oh - 1) * sh + 1:sh, kx:kx + (ow - 1) * sw + 1:sw, :]


def conv2d(x, w, bias, multiplier, shift, *, stride=1, padding: str | Pads = "VALID",
           input_zero_point=0, output_zero_point=0, act_min=INT8_MIN, act_max=INT8_MAX):
    """Reference CONV_2D: per group, per tap, ``(x - zp) @ w.T`` accumulated in int64."""
    cout, fh, fw, cpg = w.shape
    groups = x.shape[3] // cpg
    fpg = cout // groups
    centred = x.astype(np.int64) - input_zero_point
    acc = None
    for ky, kx, patch in _taps(centred, 0, (fh, fw), stride, padding):
        if acc is None:
            acc = np.zeros(patch.shape[:3] + (cout,), np.int64)
        for g in range(groups):
            wg = w[g * fpg:(g + 1) * fpg, ky, kx, :].astype(np.int64)
            acc[..., g * fpg:(g + 1) * fpg] += patch[..., g * cpg:(g + 1) * cpg] @ wg.T
    return _output_stage(acc, bias, multiplier, shift, output_zero_point, act_min, act_max)


def depthwise_conv2d(x, w, bias, multiplier, shift, *, stride=1,
                     padding: str | Pads = "VALID", input_zero_point=0, output_zero_point=0,
                     act_min=INT8_MIN, act_max=INT8_MAX):
    """Reference DEPTHWISE_CONV_2D: output channel ``c*m + j`` = input channel ``c`` * filter."""
    _, fh, fw, cout = w.shape
    m = cout // x.shape[3]
    centred = x.astype(np.int64) - input_zero_point
    acc = None
    for ky, kx, patch in _taps(centred, 0, (fh, fw), stride, padding):
        term = np.repeat(patch, m, axis=3) * w[0, ky, kx, :].astype(np.int64)
        acc = term if acc is None else acc + term
    return _output_stage(acc, bias, multiplier, shift, output_zero_point, act_min, act_max)


def fully_connected(x, w, bias, multiplier, shift, *, input_zero_point=0, weight_zero_point=0,
                    output_zero_point=0, act_min=INT8_MIN, act_max=INT8_MAX,
                    rounding="single"):
    """Reference FULLY_CONNECTED: ``(x - zp_x) @ (w - zp_w).T``."""
    acc = ((x.astype(np.int64) - input_zero_point)
           @ (w.astype(np.int64) - weight_zero_point).T)
    return _output_stage(acc, bias, multiplier, shift, output_zero_point, act_min, act_max,
                         rounding)


def avg_pool2d(x, pool, *, stride=1, padding: str | Pads = "VALID", act_min=INT8_MIN,
               act_max=INT8_MAX):
    """Reference AVERAGE_POOL_2D: in-bounds sum / in-bounds count, halves away from zero."""
    kernel = pair(pool, "pool")
    total = sum(p for _, _, p in _taps(x.astype(np.int64), 0, kernel, stride, padding))
    ones = np.ones(x.shape[:3] + (1,), np.int64)
    count = sum(p for _, _, p in _taps(ones, 0, kernel, stride, padding))
    mean = np.sign(total) * ((np.abs(total) + count // 2) // count)
    return np.clip(mean, act_min, act_max).astype(np.int8)


def max_pool2d(x, pool, *, stride=1, padding: str | Pads = "VALID", act_min=INT8_MIN,
               act_max=INT8_MAX):
    """Reference MAX_POOL_2D: padding holds -inf (a value below int8) so it never wins."""
    kernel = pair(pool, "pool")
    taps = [p for _, _, p in _taps(x.astype(np.int64), INT8_MIN - 1, kernel, stride, padding)]
    return np.clip(np.max(taps, axis=0), act_min, act_max).astype(np.int8)


def add(x1, x2, params: AddParams):
    """Reference int8 ADD: ``((x - zp) * 2^20)`` rescaled per input, summed, rescaled."""
    p = params

    def scaled(x, zp, m, s):
        return multiply_by_quantized_multiplier(
            (x.astype(np.int64) - zp) * 2**p.left_shift, m, s)

    total = (scaled(np.asarray(x1), p.input1_zero_point, p.input1_multiplier, p.input1_shift)
             + scaled(np.asarray(x2), p.input2_zero_point, p.input2_multiplier, p.input2_shift))
    v = wrap32(multiply_by_quantized_multiplier(wrap32(total), p.output_multiplier,
                                                p.output_shift) + p.output_zero_point)
    return np.clip(v, p.act_min, p.act_max).astype(np.int8)


def requantize(acc, multiplier, shift, *, output_zero_point=0, act_min=INT8_MIN,
               act_max=INT8_MAX, rounding="double"):
    """Reference output stage for int32 accumulators ``[..., C]``."""
    return _output_stage(np.asarray(acc, np.int64), None, multiplier, shift,
                         output_zero_point, act_min, act_max, rounding)
