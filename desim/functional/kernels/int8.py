"""int8 tile operators, bit-exact with TFLite's int8 reference kernels (NHWC layout).

Each function validates its arguments (a bad one raises :class:`SpecError` naming it),
converts them to the one dtype/layout the jitted kernel was compiled for and runs it.
Zero points are given as TFLite stores them (the kernels use ``offset = -zero_point``).
Per-channel ``multiplier``/``shift`` come from
:func:`desim.functional.kernels.quant.channel_multipliers`; a scalar is broadcast
(per-tensor quantisation). ``act_min``/``act_max`` are the fused activation clamp from
:func:`desim.functional.kernels.quant.activation_range`.

Tiles: pass the input window of
:func:`desim.functional.kernels.geometry.input_window` with its
padding to get exactly those output rows/columns of the whole-tensor result; slice the
output channels by slicing ``w``, ``bias``, ``multiplier`` and ``shift`` (for grouped and
depthwise convolutions, by whole groups, with the groups' input channels).
A call costs ~8 us of Python overhead plus the kernel (benchmarks/kernels_bench.py);
the arithmetic is in :mod:`desim.functional.kernels.jit`.
"""

from __future__ import annotations

import numpy as np

from desim.errors import SpecError
from desim.functional.kernels import jit
from desim.functional.kernels.geometry import Pads, output_hw, pair, resolve_padding
from desim.functional.kernels.quant import INT8_MAX, INT8_MIN, AddParams

__all__ = ["add", "avg_pool2d", "conv2d", "depthwise_conv2d", "fully_connected",
           "max_pool2d", "requantize"]


# -- argument checks ---------------------------------------------------------------------

def _int8(name: str, a: np.ndarray, ndim: int) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype != np.int8 or a.ndim != ndim:
        raise SpecError(f"{name}: expected a {ndim}-D int8 array, got {a.ndim}-D {a.dtype}")
    return np.ascontiguousarray(a)


def _per_channel(name: str, value, n: int, lo: int, hi: int) -> np.ndarray:
    arr = np.asarray(value, dtype=np.int64)
    if arr.ndim == 0:
        arr = np.full(n, arr, dtype=np.int64)
    if arr.shape != (n,):
        raise SpecError(f"{name}: expected a scalar or {n} values (one per output channel), "
                        f"got shape {arr.shape}")
    if arr.size and (arr.min() < lo or arr.max() > hi):
        raise SpecError(f"{name}: values must lie in [{lo}, {hi}]")
    return arr.astype(np.int32)


def _requant_args(bias, multiplier, shift, cout: int) -> tuple[np.ndarray, ...]:
    b = np.zeros(cout, np.int32) if bias is None else _per_channel(
        "bias", bias, cout, -(2**31), 2**31 - 1)
    return (b, _per_channel("multiplier", multiplier, cout, 0, 2**31 - 1),
            _per_channel("shift", shift, cout, -31, 30))


def _zp(name: str, value: int) -> int:
    if not INT8_MIN <= int(value) <= INT8_MAX:
        raise SpecError(f"{name}: zero point {value} is outside the int8 range [-128, 127]")
    return int(value)


def _single(rounding: str) -> bool:
    if rounding not in ("double", "single"):
        raise SpecError(f"rounding: '{rounding}' is not 'double' (gemmlowp, TFLite's "
                        "convolutions) or 'single' (TFLite's FULLY_CONNECTED)")
    return rounding == "single"


def _act(act_min: int, act_max: int) -> tuple[int, int]:
    if not INT8_MIN <= act_min <= act_max <= INT8_MAX:
        raise SpecError(f"act_min/act_max: need -128 <= act_min <= act_max <= 127, "
                        f"got {act_min}, {act_max}")
    return int(act_min), int(act_max)


def _geometry(x: np.ndarray, kernel_hw: tuple[int, int], stride, padding: str | Pads,
              ) -> tuple[tuple[int, int], Pads, tuple[int, int]]:
    stride_hw = pair(stride, "stride")
    pads = resolve_padding(padding, x.shape[1:3], kernel_hw, stride_hw)
    return stride_hw, pads, output_hw(x.shape[1:3], kernel_hw, stride_hw, pads)


# -- operators ---------------------------------------------------------------------------

def conv2d(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, multiplier, shift, *,
           stride: int | tuple[int, int] = 1, padding: str | Pads = "VALID",
           input_zero_point: int = 0, output_zero_point: int = 0,
           act_min: int = INT8_MIN, act_max: int = INT8_MAX) -> np.ndarray:
    """TFLite int8 CONV_2D (per-channel): ``x`` [N,H,W,C], ``w`` [Cout,fh,fw,C/groups].

    ``groups = C / w.shape[3]`` (1 for an ordinary convolution); returns [N,oh,ow,Cout].
    """
    x = _int8("x", x, 4)
    w = _int8("w", w, 4)
    cout, fh, fw, cpg = w.shape
    if cpg == 0 or x.shape[3] % cpg or cout % (x.shape[3] // cpg):
        raise SpecError(f"w: {cpg} input channels per group do not divide x's {x.shape[3]} "
                        f"channels into groups that divide {cout} output channels")
    (sh, sw), pads, (oh, ow) = _geometry(x, (fh, fw), stride, padding)
    b, m, s = _requant_args(bias, multiplier, shift, cout)
    x_off, y_off = -_zp("input_zero_point", input_zero_point), _zp(
        "output_zero_point", output_zero_point)
    lo, hi = _act(act_min, act_max)
    out = np.empty((x.shape[0], oh, ow, cout), np.int8)
    if cpg == x.shape[3]:
        jit.conv_dense(x, w, b, m, s, out, sh, sw, pads[0], pads[2], x_off, 0, y_off, lo, hi,
                       False)
    else:
        hwio = np.ascontiguousarray(w.transpose(1, 2, 3, 0))
        jit.conv_grouped(x, hwio, b, m, s, out, sh, sw, pads[0], pads[2], x_off, y_off, lo, hi)
    return out


def depthwise_conv2d(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, multiplier,
                     shift, *, stride: int | tuple[int, int] = 1,
                     padding: str | Pads = "VALID", input_zero_point: int = 0,
                     output_zero_point: int = 0, act_min: int = INT8_MIN,
                     act_max: int = INT8_MAX) -> np.ndarray:
    """TFLite int8 DEPTHWISE_CONV_2D: ``w`` [1,fh,fw,C*m]; output channel ``c*m + j``."""
    x = _int8("x", x, 4)
    w = _int8("w", w, 4)
    if w.shape[0] != 1 or w.shape[3] % x.shape[3] or w.shape[3] == 0:
        raise SpecError(f"w: depthwise filter must be [1, fh, fw, C*m] with C = {x.shape[3]}, "
                        f"got {list(w.shape)}")
    _, fh, fw, cout = w.shape
    (sh, sw), pads, (oh, ow) = _geometry(x, (fh, fw), stride, padding)
    b, m, s = _requant_args(bias, multiplier, shift, cout)
    x_off, y_off = -_zp("input_zero_point", input_zero_point), _zp(
        "output_zero_point", output_zero_point)
    lo, hi = _act(act_min, act_max)
    out = np.empty((x.shape[0], oh, ow, cout), np.int8)
    jit.conv_grouped(x, w.reshape(fh, fw, 1, cout), b, m, s, out, sh, sw, pads[0], pads[2],
                     x_off, y_off, lo, hi)
    return out


def fully_connected(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, multiplier, shift,
                    *, input_zero_point: int = 0, weight_zero_point: int = 0,
                    output_zero_point: int = 0, act_min: int = INT8_MIN,
                    act_max: int = INT8_MAX, rounding: str = "single") -> np.ndarray:
    """TFLite int8 FULLY_CONNECTED: ``x`` [B,K], ``w`` [O,K] -> [B,O].

    ``weight_zero_point`` is 0 for per-channel models; TFLite's per-tensor path applies it.
    ``rounding="single"`` matches the TFLite interpreter's FULLY_CONNECTED (checked
    against it); ``"double"`` is the gemmlowp form of TFLite Micro's reference kernel.
    """
    x = _int8("x", x, 2)
    w = _int8("w", w, 2)
    if x.shape[1] != w.shape[1]:
        raise SpecError(f"w: expected [O, {x.shape[1]}] to match x's depth, "
                        f"got {list(w.shape)}")
    cout = w.shape[0]
    b, m, s = _requant_args(bias, multiplier, shift, cout)
    x_off = -_zp("input_zero_point", input_zero_point)
    w_off = -_zp("weight_zero_point", weight_zero_point)
    y_off = _zp("output_zero_point", output_zero_point)
    lo, hi = _act(act_min, act_max)
    single = _single(rounding)
    out = np.empty((x.shape[0], 1, 1, cout), np.int8)
    jit.conv_dense(x.reshape(x.shape[0], 1, 1, -1), w.reshape(cout, 1, 1, -1), b, m, s, out,
                   1, 1, 0, 0, x_off, w_off, y_off, lo, hi, single)
    return out.reshape(x.shape[0], cout)


def _pool(x, pool_hw, stride, padding, act_min, act_max, is_max: bool) -> np.ndarray:
    x = _int8("x", x, 4)
    fh, fw = pair(pool_hw, "pool")
    (sh, sw), pads, (oh, ow) = _geometry(x, (fh, fw), stride, padding)
    if max(pads[0], pads[1]) >= fh or max(pads[2], pads[3]) >= fw:
        raise SpecError(f"padding: pool pads {pads} must each be smaller than the window "
                        f"{(fh, fw)}, or a window would cover no input")
    lo, hi = _act(act_min, act_max)
    out = np.empty((x.shape[0], oh, ow, x.shape[3]), np.int8)
    jit.pool(x, out, fh, fw, sh, sw, pads[0], pads[2], is_max, lo, hi)
    return out


def avg_pool2d(x: np.ndarray, pool: int | tuple[int, int], *,
               stride: int | tuple[int, int] = 1, padding: str | Pads = "VALID",
               act_min: int = INT8_MIN, act_max: int = INT8_MAX) -> np.ndarray:
    """TFLite int8 AVERAGE_POOL_2D: mean of the in-bounds taps, rounded half away from zero."""
    return _pool(x, pool, stride, padding, act_min, act_max, False)


def max_pool2d(x: np.ndarray, pool: int | tuple[int, int], *,
               stride: int | tuple[int, int] = 1, padding: str | Pads = "VALID",
               act_min: int = INT8_MIN, act_max: int = INT8_MAX) -> np.ndarray:
    """TFLite int8 MAX_POOL_2D over the in-bounds taps."""
    return _pool(x, pool, stride, padding, act_min, act_max, True)


def add(x1: np.ndarray, x2: np.ndarray, params: AddParams) -> np.ndarray:
    """TFLite int8 ADD with rescale; the inputs broadcast against each other (numpy rules)."""
    a = np.asarray(x1)
    b = np.asarray(x2)
    if a.dtype != np.int8 or b.dtype != np.int8:
        raise SpecError(f"x1/x2: expected int8 arrays, got {a.dtype} and {b.dtype}")
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise SpecError(f"x1/x2: shapes {a.shape} and {b.shape} do not broadcast") from None
    p = params
    a = np.ascontiguousarray(np.broadcast_to(a, shape)).reshape(-1)
    b = np.ascontiguousarray(np.broadcast_to(b, shape)).reshape(-1)
    lo, hi = _act(p.act_min, p.act_max)
    out = np.empty(a.size, np.int8)
    jit.add(a, b, out, -_zp("input1_zero_point", p.input1_zero_point),
            -_zp("input2_zero_point", p.input2_zero_point),
            _zp("output_zero_point", p.output_zero_point), p.left_shift,
            p.input1_multiplier, p.input1_shift, p.input2_multiplier, p.input2_shift,
            p.output_multiplier, p.output_shift, lo, hi)
    return out.reshape(shape)


def requantize(acc: np.ndarray, multiplier, shift, *, output_zero_point: int = 0,
               act_min: int = INT8_MIN, act_max: int = INT8_MAX,
               rounding: str = "double") -> np.ndarray:
    """int32 accumulators ``[..., C]`` (bias already added) to int8, per channel of the last axis.

    The output stage of the convolutions (``rounding="double"``) or of the fully
    connected layer (``"single"``), for accumulators computed elsewhere, e.g. from an
    analog crossbar's ADC codes.
    """
    a = np.asarray(acc)
    if a.dtype != np.int32 or a.ndim < 1:
        raise SpecError(f"acc: expected an int32 array [..., C], got {a.ndim}-D {a.dtype}")
    c = a.shape[-1]
    _, m, s = _requant_args(None, multiplier, shift, c)
    lo, hi = _act(act_min, act_max)
    single = _single(rounding)
    flat = np.ascontiguousarray(a).reshape(-1, c)
    out = np.empty(flat.shape, np.int8)
    jit.requantize(flat, m, s, out, _zp("output_zero_point", output_zero_point), lo, hi,
                   single)
    return out.reshape(a.shape)
