"""Fixed-point arithmetic: TFLite's multiplier encoding, rounding and requantisation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desim.errors import SpecError
from desim.functional.kernels import jit
from desim.functional.kernels import reference as ref
from desim.functional.kernels.quant import (
    ADD_LEFT_SHIFT,
    activation_range,
    add_params,
    channel_multipliers,
    quantize_multiplier,
    round_half_away,
)

I32 = st.integers(-(2**31), 2**31 - 1)
MULT = st.one_of(st.integers(2**30, 2**31 - 1), st.integers(0, 2**31 - 1))
SHIFT = st.integers(-31, 30)


@pytest.mark.parametrize("real, expected", [
    (0.5, (2**30, 0)),
    (1.0, (2**30, 1)),
    (0.25, (2**30, -1)),
    (0.75, (3 * 2**29, 0)),
    (1 - 2**-40, (2**30, 1)),  # significand rounds up to 2^31: renormalised
    (2**-40, (0, 0)),  # below 2^-31: flushed to zero
    (0.0, (0, 0)),
])
def test_quantize_multiplier_known_values(real, expected):
    """frexp, round the significand to 31 bits, renormalise, flush tiny values."""
    assert quantize_multiplier(real) == expected


@given(st.floats(2**-30, 2**20, allow_nan=False))
@settings(max_examples=200)
def test_quantize_multiplier_is_within_half_an_lsb(real):
    """q * 2^(shift-31) is the real multiplier to within half a significand LSB."""
    q, shift = quantize_multiplier(real)
    assert 2**30 <= q < 2**31
    assert abs(q * 2.0 ** (shift - 31) - real) <= 2.0 ** (shift - 32)


def test_quantize_multiplier_refuses_bad_values():
    for bad in (-1.0, math.inf, math.nan, 2.0**31):
        with pytest.raises(SpecError, match="multiplier"):
            quantize_multiplier(bad)


def test_round_half_away_is_not_bankers():
    assert [round_half_away(v) for v in (0.5, 1.5, 2.5, -0.5, -2.5, 2.4)] == [1, 2, 3, -1, -3, 2]


@pytest.mark.parametrize("x, q, shift, expected", [
    (3, 2**30, 0, 2),  # 1.5 -> 2: SRDHM rounds halves up
    (-3, 2**30, 0, -1),  # -1.5 -> -1: ... toward +inf
    (5, 2**30, -1, 2),  # SRDHM 2.5 -> 3, then 3 / 2 = 1.5 -> 2 (double rounding)
    (-5, 2**30, -1, -1),  # SRDHM -2.5 -> -2, then -2 / 2 = -1
    (-6, 2**30, -2, -1),  # SRDHM -3, then -3 / 4 = -0.75 -> -1
    (-2, 2**30, -2, 0),  # SRDHM -1, then -1 / 4 = -0.25 -> 0
    (-(2**31), -(2**31), 0, 2**31 - 1),  # the one saturating case
    (100, 2**30, 1, 100),  # left shift 1, times 0.5
    (2**30, 2**30, 2, 0),  # 2^30 * 4 = 2^32 wraps to 0 in int32
    (2**29, 2**30, 2, -(2**30)),  # 2^29 * 4 wraps to -2^31, times 0.5
])
def test_mbqm_known_values(x, q, shift, expected):
    """Hand-computed MultiplyByQuantizedMultiplier results, jitted and reference alike."""
    assert jit.mbqm(x, q, shift) == expected
    assert int(ref.multiply_by_quantized_multiplier(x, q, shift)) == expected


@given(I32, MULT, SHIFT)
@settings(max_examples=500)
def test_mbqm_jit_matches_reference(x, q, shift):
    """gemmlowp's nudge/mask form equals the reference's closed-form rounding."""
    assert jit.mbqm(x, q, shift) == int(ref.multiply_by_quantized_multiplier(x, q, shift))


def test_mbqm_exhaustive_rounding_ties():
    """Every tie of a small right shift rounds the same in both forms."""
    xs = np.arange(-4096, 4097)
    for shift in (-1, -2, -3, -7):
        expected = ref.multiply_by_quantized_multiplier(xs, 2**30, shift)
        assert [jit.mbqm(int(v), 2**30, shift) for v in xs] == expected.tolist()


def test_channel_multipliers_match_direct_quantisation():
    """M_c = s_in * s_w[c] / s_out, one (q, shift) per channel; a single scale broadcasts."""
    m, s = channel_multipliers(0.02, [0.001, 0.004], 0.05)
    assert list(zip(m.tolist(), s.tolist(), strict=True)) == [
        quantize_multiplier(float(np.float32(0.02)) * float(np.float32(0.001))
                            / float(np.float32(0.05))),
        quantize_multiplier(float(np.float32(0.02)) * float(np.float32(0.004))
                            / float(np.float32(0.05)))]
    m1, s1 = channel_multipliers(0.02, 0.001, 0.05, channels=3)
    assert m1.tolist() == [m[0]] * 3 and s1.tolist() == [s[0]] * 3
    with pytest.raises(SpecError, match="filter_scales"):
        channel_multipliers(0.02, [0.1, 0.2], 0.05, channels=3)


def test_channel_multipliers_float32_product_option():
    """The per-tensor path multiplies the two scales in float32 before dividing."""
    s_in, s_w, s_out = 0.0078125 * 1.1, 0.0123, 0.0471
    (m,), _ = channel_multipliers(s_in, s_w, s_out, float32_product=True)
    prod = float(np.float32(s_in) * np.float32(s_w))
    assert m == quantize_multiplier(prod / float(np.float32(s_out)))[0]


@pytest.mark.parametrize("act, scale, zp, expected", [
    ("NONE", 0.05, 3, (-128, 127)),
    ("RELU", 0.05, 3, (3, 127)),
    ("RELU", 0.05, -128, (-128, 127)),
    ("RELU6", 0.05, -10, (-10, 110)),  # 6 / 0.05 = 120
    ("RELU6", 6 / 255, -128, (-128, 127)),
    ("RELU_N1_TO_1", 0.01, 0, (-100, 100)),
    ("RELU6", 0.1, 100, (100, 127)),  # 100 + 60 saturates
])
def test_activation_range(act, scale, zp, expected):
    """clamp = [max(-128, zp + round(lo / s)), min(127, zp + round(hi / s))]."""
    assert activation_range(act, scale, zp) == expected


def test_activation_range_refuses_unknown():
    with pytest.raises(SpecError, match="activation"):
        activation_range("TANH", 0.1, 0)


def test_add_params_follow_tflite_prepare():
    """Inputs rescaled to twice the larger input scale, output by 2^20 * s_out."""
    p = add_params(0.05, 3, 0.02, -4, 0.06, 1, "RELU")
    assert (p.input1_multiplier, p.input1_shift) == quantize_multiplier(0.5)
    assert (p.input2_multiplier, p.input2_shift) == quantize_multiplier(
        float(np.float32(0.02)) / (2 * float(np.float32(0.05))))
    assert (p.output_multiplier, p.output_shift) == quantize_multiplier(
        2 * float(np.float32(0.05)) / (2**ADD_LEFT_SHIFT * float(np.float32(0.06))))
    assert (p.act_min, p.act_max, p.left_shift) == (1, 127, 20)
    with pytest.raises(SpecError, match="output_scale"):
        add_params(0.05, 0, 0.05, 0, 1e-9, 0)
