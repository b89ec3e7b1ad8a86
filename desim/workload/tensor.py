"""Tensors of the graph IR: shape, dtype, quantisation and (for constants) data.

Layouts follow TFLite: activations NHWC; conv weights OHWI ``(Co, Kh, Kw, Ci)``; depthwise
weights ``(1, Kh, Kw, C*multiplier)``; fully-connected weights ``(Nout, Nin)``; biases
``(Co,)``. Quantisation is affine, ``real = scale * (q - zero_point)``, per tensor or per
channel along ``axis``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from desim.errors import SpecError

#: bytes per element of every dtype the IR knows
DTYPE_BYTES = {"int8": 1, "uint8": 1, "int16": 2, "int32": 4, "int64": 8,
               "float16": 2, "float32": 4, "bool": 1}

#: dtypes that carry quantised values
INTEGER_DTYPES = frozenset({"int8", "uint8", "int16", "int32", "int64"})


@dataclass(frozen=True)
class Quant:
    """Affine quantisation: ``real = scale[c] * (q - zero_point[c])``.

    ``axis`` is None for per-tensor parameters (one scale) and the channel dimension of
    the tensor's shape for per-channel ones. Scales are kept at full precision; TFLite
    files store float32, so imported scales are exactly representable in float32.
    """

    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    axis: int | None = None

    def __post_init__(self) -> None:
        scale = tuple(float(s) for s in np.atleast_1d(self.scale))
        zp = tuple(int(z) for z in np.atleast_1d(self.zero_point))
        if not scale or len(scale) != len(zp):
            raise SpecError(f"quantisation: {len(scale)} scale(s) but {len(zp)} zero point(s); "
                            "give one zero point per scale")
        if not all(math.isfinite(s) and s > 0 for s in scale):
            raise SpecError(f"quantisation: scales must be finite and > 0, got {scale[:4]}")
        axis = self.axis if len(scale) > 1 else None
        if len(scale) > 1 and axis is None:
            raise SpecError(f"quantisation: {len(scale)} scales need an axis (per-channel)")
        object.__setattr__(self, "scale", scale)
        object.__setattr__(self, "zero_point", zp)
        object.__setattr__(self, "axis", None if axis is None else int(axis))

    @property
    def per_channel(self) -> bool:
        return self.axis is not None

    def to_dict(self) -> dict:
        return {"scale": list(self.scale), "zero_point": list(self.zero_point), "axis": self.axis}


@dataclass(frozen=True, eq=False)
class Tensor:
    """A named tensor. Activations have ``const=False``; weights and biases ``const=True``.

    ``data`` holds a constant's values (read-only numpy array of exactly ``shape`` and
    ``dtype``) when known; timing-only graphs leave it None. Equality compares every field,
    data included.
    """

    name: str
    shape: tuple[int, ...]
    dtype: str = "int8"
    quant: Quant | None = None
    const: bool = False
    data: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise SpecError(f"tensor name must be a non-empty string, got {self.name!r}")
        try:
            shape = tuple(int(d) for d in self.shape)
        except (TypeError, ValueError):
            raise SpecError(f"tensor {self.name}: shape must be a sequence of ints, "
                            f"got {self.shape!r}") from None
        if any(d < 0 for d in shape):
            raise SpecError(f"tensor {self.name}: dynamic or negative dimension in shape "
                            f"{shape}; desim needs static shapes")
        if any(d == 0 for d in shape):
            raise SpecError(f"tensor {self.name}: shape {shape} has a zero dimension; every "
                            "dimension needs at least one element")
        object.__setattr__(self, "shape", shape)
        if self.dtype not in DTYPE_BYTES:
            raise SpecError(f"tensor {self.name}: unknown dtype '{self.dtype}'; "
                            f"supported: {', '.join(DTYPE_BYTES)}")
        q = self.quant
        if q is not None:
            if self.dtype not in INTEGER_DTYPES:
                raise SpecError(f"tensor {self.name}: quantisation on a {self.dtype} tensor; "
                                "only integer tensors are quantised")
            if q.axis is not None:
                axis = q.axis + len(shape) if q.axis < 0 else q.axis
                if not 0 <= axis < len(shape) or shape[axis] != len(q.scale):
                    raise SpecError(f"tensor {self.name}: {len(q.scale)} per-channel scales on "
                                    f"axis {q.axis} of shape {shape}; need one per channel")
                if axis != q.axis:
                    object.__setattr__(self, "quant", Quant(q.scale, q.zero_point, axis))
        if self.data is not None:
            object.__setattr__(self, "const", True)
            arr = self.data
            if not isinstance(arr, np.ndarray) or arr.dtype != np.dtype(self.dtype):
                got = arr.dtype if isinstance(arr, np.ndarray) else type(arr).__name__
                raise SpecError(f"tensor {self.name}: data must be a numpy {self.dtype} array, "
                                f"got {got}")
            if arr.shape != shape:
                raise SpecError(f"tensor {self.name}: data shape {arr.shape} differs from "
                                f"shape {shape}; the data must have the tensor's shape")
            if arr.flags.writeable:
                arr = arr.copy()
                arr.flags.writeable = False
                object.__setattr__(self, "data", arr)

    @property
    def size(self) -> int:
        """Number of elements."""
        return math.prod(self.shape)

    @property
    def itemsize(self) -> int:
        return DTYPE_BYTES[self.dtype]

    @property
    def nbytes(self) -> int:
        """Bytes the tensor occupies when stored densely."""
        return self.size * self.itemsize

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def quantized(self) -> bool:
        return self.quant is not None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Tensor):
            return NotImplemented
        if (self.name, self.shape, self.dtype, self.quant, self.const) != (
                other.name, other.shape, other.dtype, other.quant, other.const):
            return False
        if self.data is None or other.data is None:
            return self.data is None and other.data is None
        return bool(np.array_equal(self.data, other.data))

    def __hash__(self) -> int:
        return hash((self.name, self.shape, self.dtype))
