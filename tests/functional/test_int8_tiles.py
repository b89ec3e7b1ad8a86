"""Tiles: running an operator per output tile on its input window reproduces the whole."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from desim.functional.kernels import int8
from desim.functional.kernels.geometry import input_window, output_hw, resolve_padding

EXAMPLES = settings(max_examples=40, deadline=None)


def _cuts(draw, size: int) -> list[tuple[int, int]]:
    """Split [0, size) into consecutive non-empty ranges."""
    inner = sorted(draw(st.sets(st.integers(1, size - 1), max_size=3))) if size > 1 else []
    edges = [0, *inner, size]
    return list(zip(edges[:-1], edges[1:], strict=True))


def _tiled(op, x, kernel, stride, pads, out_hw, draw, **kw) -> np.ndarray:
    """Assemble ``op`` run on every (row range x column range) tile of the output."""
    rows = []
    for r0, r1 in _cuts(draw, out_hw[0]):
        wy = input_window(r0, r1, stride[0], kernel[0], pads[0], x.shape[1])
        cols = []
        for c0, c1 in _cuts(draw, out_hw[1]):
            wx = input_window(c0, c1, stride[1], kernel[1], pads[2], x.shape[2])
            tile = x[:, wy.start:wy.stop, wx.start:wx.stop, :]
            tile_pads = (wy.pad_before, wy.pad_after, wx.pad_before, wx.pad_after)
            cols.append(op(tile, stride=stride, padding=tile_pads, **kw))
        rows.append(np.concatenate(cols, axis=2))
    return np.concatenate(rows, axis=1)


@st.composite
def geometry(draw):
    h, w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    pads = resolve_padding(draw(st.sampled_from(["SAME", "VALID"])), (h, w), kernel, stride)
    assume(h + pads[0] + pads[1] >= kernel[0] and w + pads[2] + pads[3] >= kernel[1])
    return (h, w), kernel, stride, pads


@given(geometry(), st.integers(0, 2**32 - 1), st.data())
@EXAMPLES
def test_conv_and_depthwise_tiles_reproduce_the_whole(geo, seed, data):
    """Row/column tiles with their windows' pads, and output-channel tiles, are exact."""
    (h, w), kernel, stride, pads = geo
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (1, h, w, 6), dtype=np.int8)
    out_hw = output_hw((h, w), kernel, stride, pads)
    wc = rng.integers(-127, 128, (8, *kernel, 6), dtype=np.int8)
    q = {"multiplier": rng.integers(2**30, 2**31 - 1, 8), "shift": rng.integers(-12, 0, 8),
         "input_zero_point": 5, "output_zero_point": -3}
    bias = rng.integers(-5000, 5000, 8).astype(np.int32)
    whole = int8.conv2d(x, wc, bias, stride=stride, padding=pads, **q)

    def conv(t, **kw):
        return int8.conv2d(t, wc, bias, **kw, **q)

    np.testing.assert_array_equal(_tiled(conv, x, kernel, stride, pads, out_hw, data.draw),
                                  whole)
    parts = [int8.conv2d(x, wc[a:b], bias[a:b], q["multiplier"][a:b], q["shift"][a:b],
                         stride=stride, padding=pads, input_zero_point=5, output_zero_point=-3)
             for a, b in _cuts(data.draw, 8)]
    np.testing.assert_array_equal(np.concatenate(parts, axis=3), whole)

    wd = rng.integers(-127, 128, (1, *kernel, 6), dtype=np.int8)
    dq = {k: (v[:6] if isinstance(v, np.ndarray) else v) for k, v in q.items()}
    whole_dw = int8.depthwise_conv2d(x, wd, bias[:6], stride=stride, padding=pads, **dq)

    def depthwise(t, **kw):
        return int8.depthwise_conv2d(t, wd, bias[:6], **kw, **dq)

    np.testing.assert_array_equal(
        _tiled(depthwise, x, kernel, stride, pads, out_hw, data.draw), whole_dw)
    parts = [int8.depthwise_conv2d(x[..., a:b], wd[..., a:b], bias[a:b],
                                   dq["multiplier"][a:b], dq["shift"][a:b], stride=stride,
                                   padding=pads, input_zero_point=5, output_zero_point=-3)
             for a, b in _cuts(data.draw, 6)]
    np.testing.assert_array_equal(np.concatenate(parts, axis=3), whole_dw)


@given(geometry(), st.integers(0, 2**32 - 1), st.data())
@EXAMPLES
def test_pool_tiles_reproduce_the_whole(geo, seed, data):
    """The average's divisor counts the same in-bounds taps in a tile as in the whole."""
    (h, w), kernel, stride, pads = geo
    x = np.random.default_rng(seed).integers(-128, 128, (1, h, w, 3), dtype=np.int8)
    out_hw = output_hw((h, w), kernel, stride, pads)
    for op in (int8.avg_pool2d, int8.max_pool2d):
        def pool(t, op=op, **kw):
            return op(t, kernel, **kw)

        np.testing.assert_array_equal(
            _tiled(pool, x, kernel, stride, pads, out_hw, data.draw),
            op(x, kernel, stride=stride, padding=pads))
