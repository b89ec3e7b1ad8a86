"""Window geometry of convolutions and pools: TFLite padding, output sizes, tile windows.

Padding is a 4-tuple ``(top, bottom, left, right)`` of zero rows/columns around the
input. TFLite's ``SAME`` gives ``out = ceil(in / stride)`` and pads
``total = max(0, (out - 1) * stride + kernel - in)`` with ``total // 2`` before and the
odd row after; ``VALID`` pads nothing and gives ``out = floor((in - kernel) / stride) + 1``.
With explicit pads, ``out = floor((in + before + after - kernel) / stride) + 1``.

Tiles: a tile of output rows ``[o0, o1)`` reads input rows
``[o0 * s - before, (o1 - 1) * s - before + kernel)``. :func:`input_window` clips that
range to the input and returns the padding the tile must use; a kernel run on the
clipped slice with that padding computes exactly the rows of the whole-tensor result,
because the rows it sees as padding are exactly the rows outside the input (this holds
for the zero-skipping convolutions, for max pool and for the average pool's divisor).
"""

from __future__ import annotations

from dataclasses import dataclass

from desim.errors import SpecError

Pads = tuple[int, int, int, int]


def pair(value: int | tuple[int, int], name: str) -> tuple[int, int]:
    """``(h, w)`` from an int or a pair of positive ints."""
    hw = (value, value) if isinstance(value, int) else tuple(value)
    if len(hw) != 2 or not all(isinstance(v, int) and v >= 1 for v in hw):
        raise SpecError(f"{name}: expected a positive int or a (height, width) pair, "
                        f"got {value!r}")
    return int(hw[0]), int(hw[1])


def _same(in_size: int, kernel: int, stride: int) -> tuple[int, int]:
    out = (in_size + stride - 1) // stride
    total = max(0, (out - 1) * stride + kernel - in_size)
    return total // 2, total - total // 2


def resolve_padding(padding: str | Pads, in_hw: tuple[int, int], kernel_hw: tuple[int, int],
                    stride_hw: tuple[int, int]) -> Pads:
    """Explicit ``(top, bottom, left, right)`` pads for ``"SAME"``, ``"VALID"`` or a 4-tuple."""
    if isinstance(padding, str):
        mode = padding.upper()
        if mode == "VALID":
            return 0, 0, 0, 0
        if mode == "SAME":
            top, bottom = _same(in_hw[0], kernel_hw[0], stride_hw[0])
            left, right = _same(in_hw[1], kernel_hw[1], stride_hw[1])
            return top, bottom, left, right
        raise SpecError(f"padding: '{padding}' is not SAME, VALID or (top, bottom, left, right)")
    pads = tuple(padding)
    if len(pads) != 4 or not all(isinstance(p, int) and p >= 0 for p in pads):
        raise SpecError(f"padding: expected SAME, VALID or four ints >= 0 "
                        f"(top, bottom, left, right), got {padding!r}")
    return pads  # type: ignore[return-value]


def output_hw(in_hw: tuple[int, int], kernel_hw: tuple[int, int], stride_hw: tuple[int, int],
              pads: Pads) -> tuple[int, int]:
    """Output ``(height, width)``; at least one row and column, else a :class:`SpecError`."""
    oh = (in_hw[0] + pads[0] + pads[1] - kernel_hw[0]) // stride_hw[0] + 1
    ow = (in_hw[1] + pads[2] + pads[3] - kernel_hw[1]) // stride_hw[1] + 1
    if oh < 1 or ow < 1:
        raise SpecError(f"kernel {kernel_hw} does not fit the padded input {in_hw} with pads "
                        f"{pads}: use a smaller kernel or SAME padding")
    return oh, ow


@dataclass(frozen=True)
class Window:
    """Input rows (or columns) ``[start, stop)`` of a tile and the tile's own padding."""

    start: int
    stop: int
    pad_before: int
    pad_after: int


def input_window(out_start: int, out_stop: int, stride: int, kernel: int, pad_before: int,
                 in_size: int) -> Window:
    """The input slice and padding that compute output rows ``[out_start, out_stop)``."""
    if not 0 <= out_start < out_stop:
        raise SpecError(f"tile rows [{out_start}, {out_stop}) must be a non-empty range >= 0")
    first = out_start * stride - pad_before
    last = (out_stop - 1) * stride - pad_before + kernel  # one past the last row read
    start = min(max(0, first), in_size)
    stop = max(min(in_size, last), start)
    if stop == start:  # the tile reads padding only (explicit pads >= kernel)
        return Window(start, start, last - first, 0)
    return Window(start, stop, start - first, last - stop)
