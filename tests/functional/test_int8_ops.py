"""int8 operators: closed-form results, and bit-exact against the numpy reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from desim.errors import SpecError
from desim.functional.kernels import int8
from desim.functional.kernels import reference as ref
from desim.functional.kernels.geometry import output_hw, resolve_padding
from desim.functional.kernels.quant import add_params

EXAMPLES = settings(max_examples=60, deadline=None)

ZP = st.integers(-128, 127)
ROUNDING = st.sampled_from(["single", "double"])
PADDING = st.one_of(st.sampled_from(["SAME", "VALID"]),
                    st.tuples(*[st.integers(0, 3)] * 4))


@st.composite
def requant(draw, channels: int) -> dict:
    """Per-channel multipliers and shifts, mostly realistic, sometimes extreme."""
    mult = st.one_of(st.integers(2**30, 2**31 - 1), st.integers(0, 2**31 - 1))
    shift = st.one_of(st.integers(-14, 0), st.integers(-31, 6))
    lo = draw(st.integers(-128, 127))
    return {"multiplier": np.array(draw(st.lists(mult, min_size=channels, max_size=channels))),
            "shift": np.array(draw(st.lists(shift, min_size=channels, max_size=channels))),
            "output_zero_point": draw(ZP), "act_min": lo, "act_max": draw(st.integers(lo, 127))}


@st.composite
def window(draw, channels: int) -> tuple[np.ndarray, tuple[int, int], dict]:
    """An NHWC int8 input, a kernel size and a stride/padding that fit it."""
    n, h, w = draw(st.integers(1, 2)), draw(st.integers(1, 9)), draw(st.integers(1, 9))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = draw(PADDING)
    pads = resolve_padding(padding, (h, w), kernel, stride)
    assume((h + pads[0] + pads[1] >= kernel[0]) and (w + pads[2] + pads[3] >= kernel[1]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.integers(-128, 128, (n, h, w, channels), dtype=np.int8)
    return x, kernel, {"stride": stride, "padding": padding}


def _rng(draw) -> np.random.Generator:
    return np.random.default_rng(draw(st.integers(0, 2**32 - 1)))


def _bias(rng: np.random.Generator, draw, channels: int) -> np.ndarray | None:
    bound = draw(st.sampled_from([0, 2**10, 2**20, 2**31]))
    return None if bound == 0 else rng.integers(-bound, bound, channels).astype(np.int32)


@given(st.data())
@EXAMPLES
def test_conv2d_matches_reference(data):
    """Dense and grouped convolutions, any stride and padding."""
    groups = data.draw(st.sampled_from([1, 1, 2, 3]))
    cpg, fpg = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 3))
    x, (fh, fw), geo = data.draw(window(groups * cpg))
    rng = _rng(data.draw)
    w = rng.integers(-127, 128, (groups * fpg, fh, fw, cpg), dtype=np.int8)
    kw = {**geo, **data.draw(requant(groups * fpg)), "input_zero_point": data.draw(ZP)}
    b = _bias(rng, data.draw, groups * fpg)
    np.testing.assert_array_equal(int8.conv2d(x, w, b, **kw), ref.conv2d(x, w, b, **kw))


@given(st.data())
@EXAMPLES
def test_depthwise_conv2d_matches_reference(data):
    """Depthwise with channel multiplier 1 to 3."""
    c, m = data.draw(st.integers(1, 6)), data.draw(st.sampled_from([1, 1, 2, 3]))
    x, (fh, fw), geo = data.draw(window(c))
    rng = _rng(data.draw)
    w = rng.integers(-127, 128, (1, fh, fw, c * m), dtype=np.int8)
    kw = {**geo, **data.draw(requant(c * m)), "input_zero_point": data.draw(ZP)}
    b = _bias(rng, data.draw, c * m)
    np.testing.assert_array_equal(int8.depthwise_conv2d(x, w, b, **kw),
                                  ref.depthwise_conv2d(x, w, b, **kw))


@given(st.data())
@EXAMPLES
def test_fully_connected_matches_reference(data):
    """Batches of vectors, with and without a weight zero point."""
    b_, k, o = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 40)), data.draw(
        st.integers(1, 9))
    rng = _rng(data.draw)
    x = rng.integers(-128, 128, (b_, k), dtype=np.int8)
    w = rng.integers(-127, 128, (o, k), dtype=np.int8)
    kw = {**data.draw(requant(o)), "input_zero_point": data.draw(ZP),
          "weight_zero_point": data.draw(st.sampled_from([0, 0, -3, 17])),
          "rounding": data.draw(ROUNDING)}
    bias = _bias(rng, data.draw, o)
    np.testing.assert_array_equal(int8.fully_connected(x, w, bias, **kw),
                                  ref.fully_connected(x, w, bias, **kw))


@given(st.data(), st.sampled_from(["avg_pool2d", "max_pool2d"]))
@EXAMPLES
def test_pools_match_reference(data, op):
    """Average and max pools over in-bounds taps; pads smaller than the window."""
    x, kernel, geo = data.draw(window(data.draw(st.integers(1, 5))))
    pads = resolve_padding(geo["padding"], x.shape[1:3], kernel, geo["stride"])
    assume(max(pads[:2]) < kernel[0] and max(pads[2:]) < kernel[1])
    lo = data.draw(st.integers(-128, 127))
    kw = {**geo, "act_min": lo, "act_max": data.draw(st.integers(lo, 127))}
    np.testing.assert_array_equal(getattr(int8, op)(x, kernel, **kw),
                                  getattr(ref, op)(x, kernel, **kw))


SCALE = st.floats(1e-3, 1.0)


@given(st.data(), SCALE, SCALE, SCALE, ZP, ZP, ZP,
       st.sampled_from(["NONE", "RELU", "RELU6"]))
@EXAMPLES
def test_add_matches_reference(data, s1, s2, s_out, z1, z2, z_out, act):
    """Elementwise ADD with rescale, same shapes or broadcast along axes."""
    p = add_params(s1, z1, s2, z2, s_out, z_out, act)
    rng = _rng(data.draw)
    shape = tuple(data.draw(st.lists(st.integers(1, 5), min_size=1, max_size=4)))
    other = tuple(d if data.draw(st.booleans()) else 1 for d in shape)
    x1 = rng.integers(-128, 128, shape, dtype=np.int8)
    x2 = rng.integers(-128, 128, other, dtype=np.int8)
    np.testing.assert_array_equal(int8.add(x1, x2, p), ref.add(x1, x2, p))


@given(st.data())
@EXAMPLES
def test_requantize_matches_reference(data):
    """Any int32 accumulators, per channel of the last axis."""
    c = data.draw(st.integers(1, 6))
    acc = _rng(data.draw).integers(-(2**31), 2**31, (3, 4, c)).astype(np.int32)
    kw = {**data.draw(requant(c)), "rounding": data.draw(ROUNDING)}
    np.testing.assert_array_equal(int8.requantize(acc, **kw), ref.requantize(acc, **kw))


# -- closed forms ------------------------------------------------------------------------

def test_conv_of_constant_image_counts_in_bounds_taps():
    """x = 10, w = 1 (3x3, SAME), times 0.5: 9 taps -> 45, edge 6 -> 30, corner 4 -> 20."""
    x = np.full((1, 4, 4, 1), 10, np.int8)
    w = np.ones((1, 3, 3, 1), np.int8)
    y = int8.conv2d(x, w, None, 2**30, 0, padding="SAME")[0, :, :, 0]
    assert y.tolist() == [[20, 30, 30, 20], [30, 45, 45, 30], [30, 45, 45, 30],
                          [20, 30, 30, 20]]


def test_input_zero_point_is_subtracted_and_padding_is_zero_after_it():
    """x = zp everywhere: every tap contributes 0, so the output is bias * M + zp_out."""
    x = np.full((1, 3, 3, 2), -7, np.int8)
    w = np.full((2, 3, 3, 2), 5, np.int8)
    y = int8.conv2d(x, w, np.array([100, -100], np.int32), 2**30, 0, padding="SAME",
                    input_zero_point=-7, output_zero_point=3)
    assert (y[..., 0] == 53).all() and (y[..., 1] == -47).all()


def test_fully_connected_closed_form():
    """[1, 2, 3] . [4, 5, 6] = 32, + bias 8 = 40, times 0.25 = 10, + zp 1 = 11."""
    x = np.array([[1, 2, 3]], np.int8)
    w = np.array([[4, 5, 6]], np.int8)
    assert int8.fully_connected(x, w, np.array([8], np.int32), 2**30, -1,
                                output_zero_point=1).tolist() == [[11]]


def test_single_and_double_rounding_differ_where_tflite_does():
    """acc 595 * 0.67179 / 32 = 12.49: rounded once 12; twice (399.7 -> 400, 12.5) 13.

    The case the TFLite interpreter's FULLY_CONNECTED rounds once (ad01_int8, layer 1).
    """
    acc = np.array([[595]], np.int32)
    kw = {"multiplier": 1442659867, "shift": -5}
    assert int8.requantize(acc, rounding="single", **kw).item() == 12
    assert int8.requantize(acc, rounding="double", **kw).item() == 13
    x, w = np.array([[119]], np.int8), np.array([[5]], np.int8)
    assert int8.fully_connected(x, w, None, **kw).item() == 12
    assert int8.fully_connected(x, w, None, rounding="double", **kw).item() == 13


def test_avg_pool_rounds_half_away_and_divides_by_in_bounds_taps():
    """Window {-2, -3} -> -2.5 -> -3; {2, 3} -> 3; SAME corner windows average 4 taps."""
    x = np.array([[-2, -3], [2, 3]], np.int8).reshape(1, 2, 2, 1)
    assert int8.avg_pool2d(x, (1, 2))[0, :, 0, 0].tolist() == [-3, 3]
    y = int8.avg_pool2d(np.full((1, 3, 3, 1), 9, np.int8), 3, padding="SAME")
    assert (y == 9).all()


def test_max_pool_and_activation_clamp():
    """max over the window, then the clamp: max(-5, 7) = 7, clamped to 6 (ReLU6-like)."""
    x = np.array([-5, 7], np.int8).reshape(1, 1, 2, 1)
    assert int8.max_pool2d(x, (1, 2), act_min=0, act_max=6).ravel().tolist() == [6]
    assert int8.max_pool2d(-np.abs(x), (1, 2), act_min=0).ravel().tolist() == [0]
    floor = np.full((1, 2, 2, 3), -128, np.int8)
    assert (int8.max_pool2d(floor, 2, padding="SAME") == -128).all()


def test_add_of_equal_scales_is_the_sum():
    """s1 = s2 = 0.1, s_out = 0.2: (10 + 10) * 0.1 / 0.2 = 10; (-3 + 4) -> 0.5 -> 1."""
    p = add_params(0.1, 0, 0.1, 0, 0.2, 0)
    x1 = np.array([10, -3], np.int8)
    x2 = np.array([10, 4], np.int8)
    assert int8.add(x1, x2, p).tolist() == [10, 1]


# -- bad input ---------------------------------------------------------------------------

def test_bad_arguments_raise_spec_errors_naming_them():
    x = np.zeros((1, 4, 4, 4), np.int8)
    w = np.zeros((2, 3, 3, 4), np.int8)
    cases = [
        ("x", lambda: int8.conv2d(x.astype(np.int16), w, None, 2**30, 0)),
        ("w", lambda: int8.conv2d(x, np.zeros((2, 3, 3, 3), np.int8), None, 2**30, 0)),
        ("multiplier", lambda: int8.conv2d(x, w, None, [2**30] * 3, 0)),
        ("shift", lambda: int8.conv2d(x, w, None, 2**30, 31)),
        ("input_zero_point", lambda: int8.conv2d(x, w, None, 2**30, 0, input_zero_point=128)),
        ("act_min", lambda: int8.conv2d(x, w, None, 2**30, 0, act_min=5, act_max=4)),
        ("does not fit", lambda: int8.conv2d(x, np.zeros((2, 5, 5, 4), np.int8), None, 1, 0)),
        ("padding", lambda: int8.max_pool2d(x, 2, padding=(2, 0, 0, 0))),
        ("depthwise", lambda: int8.depthwise_conv2d(x, np.zeros((1, 3, 3, 6), np.int8),
                                                    None, 1, 0)),
        ("w", lambda: int8.fully_connected(x[0, 0], np.zeros((3, 5), np.int8), None, 1, 0)),
        ("broadcast", lambda: int8.add(x, np.zeros((3,), np.int8), add_params(
            0.1, 0, 0.1, 0, 0.2, 0))),
        ("acc", lambda: int8.requantize(np.zeros(3, np.int64), 1, 0)),
        ("rounding", lambda: int8.requantize(np.zeros(3, np.int32), 1, 0, rounding="even")),
    ]
    for needle, call in cases:
        with pytest.raises(SpecError, match=needle):
            call()


def test_output_shape_uses_the_shared_geometry():
    """A 3x3 stride-2 SAME conv on 7x9 gives 4x5 outputs."""
    x = np.zeros((1, 7, 9, 1), np.int8)
    y = int8.conv2d(x, np.zeros((2, 3, 3, 1), np.int8), None, 1, 0, stride=2, padding="SAME")
    assert y.shape == (1, *output_hw((7, 9), (3, 3), (2, 2),
                                     resolve_padding("SAME", (7, 9), (3, 3), (2, 2))), 2)
