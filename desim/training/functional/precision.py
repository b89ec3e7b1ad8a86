"""Training data types emulated on float32: each tensor is rounded to the type it is kept in.

``fp16`` rounds to IEEE half precision (numpy float16: round to nearest even, overflow to
infinity); ``bf16`` keeps the top 16 bits of the float32 pattern (the mantissa truncated
to 7 bits, rounding toward zero). Arithmetic inside an op (sums of products) stays
float32: only the tensors an op reads and writes are at the training precision.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Rounder = Callable[[np.ndarray], np.ndarray]


def _fp32(a: np.ndarray) -> np.ndarray:
    return a


def _fp16(a: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):  # beyond 65504: infinity, as the hardware gives
        return a.astype(np.float16).astype(np.float32)


def _bf16(a: np.ndarray) -> np.ndarray:
    bits = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
    return (bits & np.uint32(0xFFFF0000)).view(np.float32)


_ROUNDERS: dict[str, Rounder] = {"fp32": _fp32, "fp16": _fp16, "bf16": _bf16}


def rounder(dtype: str) -> Rounder:
    """The rounding of float32 tensors to training type ``dtype`` (a TrainOptions dtype)."""
    return _ROUNDERS[dtype]
