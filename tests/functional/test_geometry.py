"""Padding, output sizes and tile windows against TFLite's closed forms."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desim.errors import SpecError
from desim.functional.kernels.geometry import input_window, output_hw, pair, resolve_padding


@given(st.integers(1, 40), st.integers(1, 7), st.integers(1, 4))
@settings(max_examples=200)
def test_same_gives_ceil_and_puts_the_odd_row_after(size, kernel, stride):
    """SAME: out = ceil(in / s); pad total = max(0, (out-1)s + k - in), before = total // 2."""
    top, bottom, left, right = resolve_padding("SAME", (size, size), (kernel, kernel),
                                               (stride, stride))
    out = -(-size // stride)
    total = max(0, (out - 1) * stride + kernel - size)
    assert (top, bottom) == (total // 2, total - total // 2) == (left, right)
    assert output_hw((size, size), (kernel, kernel), (stride, stride),
                     (top, bottom, left, right)) == (out, out)


@given(st.integers(1, 40), st.integers(1, 7), st.integers(1, 4))
@settings(max_examples=200)
def test_valid_gives_floor(size, kernel, stride):
    """VALID: out = floor((in - k) / s) + 1, an error when the kernel does not fit."""
    pads = resolve_padding("VALID", (size, size), (kernel, kernel), (stride, stride))
    assert pads == (0, 0, 0, 0)
    if kernel > size:
        with pytest.raises(SpecError, match="does not fit"):
            output_hw((size, size), (kernel, kernel), (stride, stride), pads)
    else:
        assert output_hw((size, size), (kernel, kernel), (stride, stride), pads) == (
            (size - kernel) // stride + 1,) * 2


def test_example_tflite_shapes():
    """224x224, 3x3 stride 2 SAME -> 112 with pads (0, 1); 7x7 pool VALID -> 1."""
    assert resolve_padding("SAME", (224, 224), (3, 3), (2, 2)) == (0, 1, 0, 1)
    assert output_hw((224, 224), (3, 3), (2, 2), (0, 1, 0, 1)) == (112, 112)
    assert output_hw((7, 7), (7, 7), (1, 1), (0, 0, 0, 0)) == (1, 1)


def test_bad_padding_and_stride_are_refused():
    with pytest.raises(SpecError, match="padding"):
        resolve_padding("FULL", (4, 4), (3, 3), (1, 1))
    with pytest.raises(SpecError, match="padding"):
        resolve_padding((1, 1), (4, 4), (3, 3), (1, 1))
    with pytest.raises(SpecError, match="stride"):
        pair(0, "stride")


@given(st.integers(1, 30), st.integers(1, 5), st.integers(1, 3), st.integers(0, 4),
       st.integers(0, 4), st.data())
@settings(max_examples=200)
def test_input_window_reads_exactly_the_rows_in_the_input(size, kernel, stride, before, after,
                                                          data):
    """The window is the span of rows the tile reads clipped to the input; pads cover the rest."""
    pads = (before, after, 0, 0)
    try:
        out, _ = output_hw((size, 1), (kernel, 1), (stride, 1), pads)
    except SpecError:
        return
    o0 = data.draw(st.integers(0, out - 1))
    o1 = data.draw(st.integers(o0 + 1, out))
    win = input_window(o0, o1, stride, kernel, before, size)
    read = {o * stride - before + k for o in range(o0, o1) for k in range(kernel)}
    span = range(min(read), max(read) + 1)
    assert set(range(win.start, win.stop)) == {r for r in span if 0 <= r < size}
    assert output_hw((win.stop - win.start, 1), (kernel, 1), (stride, 1),
                     (win.pad_before, win.pad_after, 0, 0))[0] == o1 - o0
    assert win.pad_before >= 0 and win.pad_after >= 0
