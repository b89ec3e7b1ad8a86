"""Spatial arithmetic of windowed ops (conv, depthwise, pool): output size and padding.

For an input of size ``n``, kernel ``k``, stride ``s``, dilation ``d`` and explicit padding
``(before, after)``, the output size is ``(n + before + after - ((k-1)*d + 1)) // s + 1``.

TFLite's ``SAME`` gives an output of ``ceil(n / s)`` and pads
``total = max((out-1)*s + (k-1)*d + 1 - n, 0)``, putting ``total // 2`` before and the rest
after (so stride 2 on an even size pads 0 top/left and 1 bottom/right). ``VALID`` pads 0.
"""

from __future__ import annotations

from dataclasses import dataclass

from desim.errors import SpecError


@dataclass(frozen=True)
class Padding:
    """Explicit zero padding of the two spatial dimensions, in elements."""

    top: int = 0
    bottom: int = 0
    left: int = 0
    right: int = 0

    def __post_init__(self) -> None:
        for side in ("top", "bottom", "left", "right"):
            value = getattr(self, side)
            if int(value) != value or value < 0:
                raise SpecError(f"padding.{side} must be an integer >= 0, got {value!r}")
            object.__setattr__(self, side, int(value))

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.top, self.bottom, self.left, self.right)

    def __str__(self) -> str:
        return ",".join(map(str, self.as_tuple()))


def same_pads(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """(before, after) padding of TFLite ``SAME`` along one dimension."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def window_output(size: int, kernel: int, stride: int, before: int, after: int,
                  dilation: int = 1) -> int:
    """Output size of a window of ``kernel`` sliding with ``stride`` over a padded input."""
    return (size + before + after - ((kernel - 1) * dilation + 1)) // stride + 1


def padding_for(mode: str, in_hw: tuple[int, int], kernel: tuple[int, int],
                stride: tuple[int, int], dilation: tuple[int, int] = (1, 1)) -> Padding:
    """Explicit padding for TFLite-style ``"same"`` or ``"valid"``."""
    if mode == "valid":
        return Padding()
    if mode != "same":
        raise SpecError(f"padding must be 'same' or 'valid', got {mode!r}")
    top, bottom = same_pads(in_hw[0], kernel[0], stride[0], dilation[0])
    left, right = same_pads(in_hw[1], kernel[1], stride[1], dilation[1])
    return Padding(top, bottom, left, right)
