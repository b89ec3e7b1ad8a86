"""Fixed-point quantisation parameters computed exactly as TFLite prepares them.

Pure Python (no numba), so a model importer or a timing-only run can use it without
loading the jitted kernels. A real multiplier ``M > 0`` is stored as a 32-bit
significand ``q`` in [2^30, 2^31) and an exponent ``shift`` with
``M ~= q * 2^(shift - 31)`` (TFLite ``QuantizeMultiplier``: ``frexp``, round half away
from zero, renormalise when the significand rounds up to 2^31, flush to zero below
2^-31). Scales are float32 in a ``.tflite`` file, so every scale is first rounded to
float32 and the arithmetic then done in double, as the interpreter does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from desim.errors import SpecError

INT8_MIN, INT8_MAX = -128, 127
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
#: TFLite int8 ADD scales both inputs up by 2^20 before rescaling them.
ADD_LEFT_SHIFT = 20
ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")


def round_half_away(value: float) -> int:
    """``std::round``: nearest integer, halves away from zero (not Python's banker's)."""
    magnitude = math.floor(abs(value) + 0.5)
    return int(magnitude if value >= 0 else -magnitude)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """``(q, shift)`` with ``real ~= q * 2^(shift - 31)``, as TFLite ``QuantizeMultiplier``."""
    if not math.isfinite(real) or real < 0:
        raise SpecError(f"multiplier: must be a finite number >= 0, got {real!r}; "
                        "check the tensor scales it was computed from")
    if real == 0:
        return 0, 0
    mantissa, shift = math.frexp(real)  # real = mantissa * 2^shift, mantissa in [0.5, 1)
    q = round_half_away(mantissa * 2**31)  # exact: mantissa has 53 bits
    if q == 2**31:
        q //= 2
        shift += 1
    if shift < -31:  # every bit would be shifted out: TFLite flushes to zero
        return 0, 0
    if shift > 30:
        raise SpecError(f"multiplier: {real!r} is too large for a 32-bit fixed-point "
                        "multiplier (must be < 2^30); check the tensor scales")
    return q, shift


def _f32(value: float) -> float:
    return float(np.float32(value))


def channel_multipliers(input_scale: float, filter_scales: float | Sequence[float],
                        output_scale: float, channels: int | None = None, *,
                        float32_product: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Per-output-channel ``(multipliers, shifts)`` (int32 arrays) of a conv, depthwise or FC.

    ``M_c = s_in * s_w[c] / s_out`` in double (TFLite ``PopulateConvolutionQuantizationParams``).
    A single filter scale is broadcast over ``channels``. ``float32_product=True`` forms
    ``s_in * s_w`` in float32 first, as TFLite's per-tensor path
    (``GetQuantizedConvolutionMultipler``) does for a per-tensor fully connected layer.
    """
    scales = np.atleast_1d(np.asarray(filter_scales, dtype=np.float32))
    if channels is not None and scales.size == 1:
        scales = np.repeat(scales, channels)
    if channels is not None and scales.size != channels:
        raise SpecError(f"filter_scales: {scales.size} scales for {channels} output "
                        "channels; give one scale per channel or a single one")
    s_in, s_out = _f32(input_scale), _f32(output_scale)
    if s_out <= 0 or s_in <= 0:
        raise SpecError("input_scale and output_scale must be > 0")
    mults = np.empty(scales.size, dtype=np.int32)
    shifts = np.empty(scales.size, dtype=np.int32)
    for c, s_w in enumerate(scales):
        if float32_product:
            product = float(np.float32(s_in) * np.float32(s_w))
        else:
            product = s_in * float(s_w)
        mults[c], shifts[c] = quantize_multiplier(product / s_out)
    return mults, shifts


def activation_range(activation: str, scale: float, zero_point: int) -> tuple[int, int]:
    """int8 clamp ``(min, max)`` of a fused activation, as TFLite's activation range.

    A real value ``f`` quantises to ``zp + round(f / scale)`` with the division in float32.
    """
    if activation not in ACTIVATIONS:
        raise SpecError(f"activation: '{activation}' is not one of {', '.join(ACTIVATIONS)}")

    def q(real: float) -> int:
        return zero_point + round_half_away(float(np.float32(real) / np.float32(scale)))

    if activation == "RELU":
        return max(INT8_MIN, q(0.0)), INT8_MAX
    if activation == "RELU6":
        return max(INT8_MIN, q(0.0)), min(INT8_MAX, q(6.0))
    if activation == "RELU_N1_TO_1":
        return max(INT8_MIN, q(-1.0)), min(INT8_MAX, q(1.0))
    return INT8_MIN, INT8_MAX


@dataclass(frozen=True)
class AddParams:
    """Integer parameters of an int8 elementwise ADD (TFLite ``ArithmeticParams``)."""

    input1_zero_point: int
    input2_zero_point: int
    output_zero_point: int
    input1_multiplier: int
    input1_shift: int
    input2_multiplier: int
    input2_shift: int
    output_multiplier: int
    output_shift: int
    act_min: int = INT8_MIN
    act_max: int = INT8_MAX
    left_shift: int = ADD_LEFT_SHIFT


def _smaller_than_one(name: str, real: float) -> tuple[int, int]:
    if not 0 < real < 1:
        raise SpecError(f"{name}: the int8 ADD rescale {real!r} must lie in (0, 1); "
                        "the output scale is too small for the input scales")
    q, shift = quantize_multiplier(real)
    if shift > 0:  # real rounded up to 1.0
        raise SpecError(f"{name}: the int8 ADD rescale {real!r} rounds to 1.0; "
                        "the output scale is too small for the input scales")
    return q, shift


def add_params(input1_scale: float, input1_zero_point: int, input2_scale: float,
               input2_zero_point: int, output_scale: float, output_zero_point: int,
               activation: str = "NONE") -> AddParams:
    """TFLite int8 ADD preparation: inputs rescaled to ``2 * max(s1, s2)``, left shift 20."""
    s1, s2, s_out = _f32(input1_scale), _f32(input2_scale), _f32(output_scale)
    if min(s1, s2, s_out) <= 0:
        raise SpecError("add_params: every scale must be > 0")
    twice_max = 2 * max(s1, s2)
    m1, sh1 = _smaller_than_one("input1_scale", s1 / twice_max)
    m2, sh2 = _smaller_than_one("input2_scale", s2 / twice_max)
    mo, sho = _smaller_than_one("output_scale", twice_max / ((1 << ADD_LEFT_SHIFT) * s_out))
    lo, hi = activation_range(activation, output_scale, output_zero_point)
    return AddParams(input1_zero_point, input2_zero_point, output_zero_point,
                     m1, sh1, m2, sh2, mo, sho, lo, hi)
