"""Operators of the graph IR, their attributes, checks and costs.

Costs (batch ``N``, output ``Ho x Wo x Co``, kernel ``Kh x Kw``, input channels ``Ci``):

* conv2d MACs = N*Ho*Wo*Co*Kh*Kw*Ci; depthwise_conv2d MACs = N*Ho*Wo*Co*Kh*Kw;
  fully_connected MACs = batch*Nin*Nout. Padded border positions count as full MACs.
  Every other op counts 0 MACs.
* params = weight elements + bias elements; weight bytes = their sizes at their dtypes
  (int8 weights 1 B, int32 biases 4 B).
* act in = bytes of the non-constant inputs (both operands of an add), act out = bytes of
  the output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from desim.errors import SpecError
from desim.workload.shapes import Padding, window_output
from desim.workload.tensor import INTEGER_DTYPES, Tensor


class OpKind(StrEnum):
    CONV2D = "conv2d"
    DEPTHWISE_CONV2D = "depthwise_conv2d"
    FULLY_CONNECTED = "fully_connected"
    AVG_POOL2D = "avg_pool2d"
    MAX_POOL2D = "max_pool2d"
    ADD = "add"
    CONCAT = "concat"
    RESHAPE = "reshape"
    PAD = "pad"
    SOFTMAX = "softmax"
    QUANTIZE = "quantize"
    DEQUANTIZE = "dequantize"


class Activation(StrEnum):
    """Activation fused into an op's output (TFLite's fused_activation_function)."""

    NONE = "none"
    RELU = "relu"
    RELU6 = "relu6"
    RELU_N1_TO_1 = "relu_n1_to_1"


WINDOWED = frozenset({OpKind.CONV2D, OpKind.DEPTHWISE_CONV2D, OpKind.AVG_POOL2D,
                      OpKind.MAX_POOL2D})
WEIGHTED = frozenset({OpKind.CONV2D, OpKind.DEPTHWISE_CONV2D, OpKind.FULLY_CONNECTED})
FUSES_ACTIVATION = WEIGHTED | {OpKind.ADD, OpKind.AVG_POOL2D, OpKind.MAX_POOL2D,
                               OpKind.CONCAT}


def _pair(name: str, what: str, value: Any) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int | np.integer) and v >= 1 for v in pair):
        raise SpecError(f"op {name}: {what} must be one or two integers >= 1, got {value!r}")
    return int(pair[0]), int(pair[1])


@dataclass(frozen=True, repr=False)
class Op:
    """One operator: activation ``inputs`` (in operand order), one ``output``, and for
    conv / depthwise / fully-connected its ``weights`` and optional ``bias``.

    ``kernel``, ``stride``, ``dilation`` and ``padding`` (explicit top/bottom/left/right)
    apply to windowed ops; ``activation`` is the fused activation; ``axis`` is the concat
    or softmax axis (non-negative); ``beta`` the softmax temperature; ``pads`` the
    (before, after) amounts per dimension of a pad op.
    """

    name: str
    kind: OpKind
    inputs: tuple[Tensor, ...]
    output: Tensor
    weights: Tensor | None = None
    bias: Tensor | None = None
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    dilation: tuple[int, int] = (1, 1)
    padding: Padding = field(default_factory=Padding)
    activation: Activation = Activation.NONE
    axis: int = -1
    beta: float = 1.0
    pads: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        name = self.name
        try:
            kind = OpKind(self.kind)
        except ValueError:
            raise SpecError(f"op {name}: unknown kind '{self.kind}'; supported: "
                            f"{', '.join(k.value for k in OpKind)}") from None
        try:
            act = Activation(self.activation)
        except ValueError:
            raise SpecError(f"op {name}: unknown activation '{self.activation}'; supported: "
                            f"{', '.join(a.value for a in Activation)}") from None
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "activation", act)
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "pads", tuple((int(a), int(b)) for a, b in self.pads))
        for attr in ("kernel", "stride", "dilation"):
            object.__setattr__(self, attr, _pair(name, attr, getattr(self, attr)))
        if act is not Activation.NONE and kind not in FUSES_ACTIVATION:
            raise SpecError(f"op {name}: a {kind} op cannot fuse activation '{act}'; set "
                            "activation none")
        if kind in WEIGHTED:
            if self.weights is None:
                raise SpecError(f"op {name}: a {kind} op needs weights")
            if not self.weights.const:
                raise SpecError(f"op {name}: weights '{self.weights.name}' must be constant")
        elif self.weights is not None or self.bias is not None:
            raise SpecError(f"op {name}: a {kind} op takes no weights or bias; drop them")
        _CHECKS[kind](self)

    def __repr__(self) -> str:
        ins = ", ".join(str(t.shape) for t in self.inputs)
        return f"Op({self.name!r}, {self.kind.value}, {ins} -> {self.output.shape})"

    # -- shapes -----------------------------------------------------------------------

    @property
    def input(self) -> Tensor:
        """The first (for most ops the only) activation input."""
        return self.inputs[0]

    @property
    def depth_multiplier(self) -> int:
        """Output channels per input channel of a depthwise conv (1 for other ops)."""
        if self.kind is OpKind.DEPTHWISE_CONV2D:
            return self.output.shape[3] // self.input.shape[3]
        return 1

    # -- costs ------------------------------------------------------------------------

    @property
    def macs(self) -> int:
        """Multiply-accumulates; padded positions count."""
        w = self.weights
        if self.kind is OpKind.CONV2D:
            assert w is not None
            n, ho, wo, co = self.output.shape
            _, kh, kw, ci = w.shape
            return n * ho * wo * co * kh * kw * ci
        if self.kind is OpKind.DEPTHWISE_CONV2D:
            n, ho, wo, co = self.output.shape
            return n * ho * wo * co * self.kernel[0] * self.kernel[1]
        if self.kind is OpKind.FULLY_CONNECTED:
            assert w is not None
            return self.output.size * w.shape[1]
        return 0

    @property
    def params(self) -> int:
        """Weight plus bias elements."""
        return sum(t.size for t in (self.weights, self.bias) if t is not None)

    @property
    def weight_bytes(self) -> int:
        return sum(t.nbytes for t in (self.weights, self.bias) if t is not None)

    @property
    def act_in_bytes(self) -> int:
        """Bytes of the non-constant inputs."""
        return sum(t.nbytes for t in self.inputs if not t.const)

    @property
    def act_out_bytes(self) -> int:
        return self.output.nbytes


# -- per-kind checks ------------------------------------------------------------------

def _fail(op: Op, msg: str) -> SpecError:
    return SpecError(f"{op.kind} op {op.name}: {msg}")


def _n_inputs(op: Op, n: int) -> None:
    if len(op.inputs) != n:
        raise _fail(op, f"expected {n} input(s), got {len(op.inputs)}")


def _rank(op: Op, t: Tensor, rank: int) -> None:
    if t.rank != rank:
        raise _fail(op, f"tensor {t.name} must have rank {rank} (NHWC), has shape {t.shape}")


def _check_window(op: Op, out_c: int) -> None:
    """Output N, Ho, Wo, C follow from the input, kernel, stride, dilation and padding."""
    x, y = op.input, op.output
    _rank(op, x, 4)
    _rank(op, y, 4)
    p = op.padding
    ho = window_output(x.shape[1], op.kernel[0], op.stride[0], p.top, p.bottom, op.dilation[0])
    wo = window_output(x.shape[2], op.kernel[1], op.stride[1], p.left, p.right, op.dilation[1])
    if ho < 1 or wo < 1:
        raise _fail(op, f"kernel {op.kernel} does not fit the padded input {x.shape}; use a "
                        "smaller kernel or a larger input")
    expected = (x.shape[0], ho, wo, out_c)
    if y.shape != expected:
        raise _fail(op, f"output shape {y.shape} differs from {expected} given input {x.shape}, "
                        f"kernel {op.kernel}, stride {op.stride}, padding {p}; fix the output "
                        "shape or the op's attributes")


def _check_bias(op: Op, channels: int) -> None:
    b = op.bias
    if b is not None and (b.shape != (channels,) or not b.const):
        raise _fail(op, f"bias {b.name} must be a constant of shape ({channels},), "
                        f"has {b.shape}")


def _check_conv(op: Op) -> None:
    _n_inputs(op, 1)
    w = op.weights
    assert w is not None
    if w.rank != 4 or w.shape[3] != op.input.shape[-1]:
        raise _fail(op, f"weights {w.name} must be (Co, Kh, Kw, Ci={op.input.shape[-1]}), "
                        f"has {w.shape}")
    if op.kernel != w.shape[1:3]:
        raise _fail(op, f"kernel {op.kernel} differs from the weights' {w.shape[1:3]}; fix "
                        "the kernel or the weights")
    _check_window(op, w.shape[0])
    _check_bias(op, w.shape[0])


def _check_depthwise(op: Op) -> None:
    _n_inputs(op, 1)
    w = op.weights
    assert w is not None
    ci = op.input.shape[-1]
    if w.rank != 4 or w.shape[0] != 1 or w.shape[3] % max(ci, 1):
        raise _fail(op, f"weights {w.name} must be (1, Kh, Kw, C*multiplier) with C={ci}, "
                        f"has {w.shape}")
    if op.kernel != w.shape[1:3]:
        raise _fail(op, f"kernel {op.kernel} differs from the weights' {w.shape[1:3]}; fix "
                        "the kernel or the weights")
    _check_window(op, w.shape[3])
    _check_bias(op, w.shape[3])


def _check_fc(op: Op) -> None:
    _n_inputs(op, 1)
    w = op.weights
    assert w is not None
    if w.rank != 2:
        raise _fail(op, f"weights {w.name} must be (Nout, Nin), has {w.shape}")
    n_out, n_in = w.shape
    x, y = op.input, op.output
    if x.size % n_in or y.shape[-1] != n_out or y.size != x.size // n_in * n_out:
        raise _fail(op, f"input {x.shape} and output {y.shape} do not match weights "
                        f"(Nout={n_out}, Nin={n_in}); fix the shapes")
    _check_bias(op, n_out)


def _check_pool(op: Op) -> None:
    _n_inputs(op, 1)
    if op.dilation != (1, 1):
        raise _fail(op, "pooling takes no dilation; set dilation 1")
    _check_window(op, op.input.shape[-1])


def _check_add(op: Op) -> None:
    _n_inputs(op, 2)
    shapes = {t.shape for t in op.inputs} | {op.output.shape}
    if len(shapes) != 1:
        raise _fail(op, f"operands and output must have one shape (no broadcasting), got "
                        f"{[t.shape for t in op.inputs]} -> {op.output.shape}")


def _normalise_axis(op: Op, rank: int) -> None:
    axis = op.axis + rank if op.axis < 0 else op.axis
    if not 0 <= axis < rank:
        raise _fail(op, f"axis {op.axis} is out of range for rank {rank}; give an axis from "
                        f"{-rank} to {rank - 1}")
    object.__setattr__(op, "axis", axis)


def _check_concat(op: Op) -> None:
    if not op.inputs:
        raise _fail(op, "needs at least one input")
    y = op.output
    _normalise_axis(op, y.rank)
    ax = op.axis
    for t in op.inputs:
        if t.rank != y.rank or t.shape[:ax] + t.shape[ax + 1:] != y.shape[:ax] + y.shape[ax + 1:]:
            raise _fail(op, f"input {t.name} {t.shape} does not concatenate into {y.shape} "
                            f"along axis {ax}; fix the shapes")
    if sum(t.shape[ax] for t in op.inputs) != y.shape[ax]:
        raise _fail(op, f"inputs' sizes along axis {ax} do not sum to the output's {y.shape}; "
                        "fix the shapes")


def _check_reshape(op: Op) -> None:
    _n_inputs(op, 1)
    if op.input.size != op.output.size:
        raise _fail(op, f"cannot reshape {op.input.shape} ({op.input.size} elements) into "
                        f"{op.output.shape}; the element counts must agree")


def _check_pad(op: Op) -> None:
    _n_inputs(op, 1)
    x, y = op.input, op.output
    if len(op.pads) != x.rank or any(a < 0 or b < 0 for a, b in op.pads):
        raise _fail(op, f"pads must give (before, after) >= 0 for each of the {x.rank} "
                        f"dimensions, got {op.pads}")
    expected = tuple(d + a + b for d, (a, b) in zip(x.shape, op.pads, strict=True))
    if y.shape != expected:
        raise _fail(op, f"output shape {y.shape} differs from {expected}; fix the output "
                        "shape or the pads")


def _check_softmax(op: Op) -> None:
    _n_inputs(op, 1)
    _normalise_axis(op, op.input.rank)
    if op.axis != op.input.rank - 1:
        raise _fail(op, f"softmax runs over the last axis only, got axis {op.axis}")
    if op.output.shape != op.input.shape:
        raise _fail(op, f"output shape {op.output.shape} differs from input {op.input.shape}; "
                        "it must keep the input's shape")


def _check_quantize(op: Op) -> None:
    """quantize: float (or integer, to requantise) -> integer; dequantize: integer -> float."""
    _n_inputs(op, 1)
    if op.output.shape != op.input.shape:
        raise _fail(op, f"output shape {op.output.shape} differs from input {op.input.shape}; "
                        "it must keep the input's shape")
    want_int = op.kind is OpKind.QUANTIZE
    if (op.output.dtype in INTEGER_DTYPES) != want_int:
        raise _fail(op, f"output {op.output.name} must be an "
                        f"{'integer' if want_int else 'float'} tensor, is {op.output.dtype}")


_CHECKS = {
    OpKind.CONV2D: _check_conv, OpKind.DEPTHWISE_CONV2D: _check_depthwise,
    OpKind.FULLY_CONNECTED: _check_fc, OpKind.AVG_POOL2D: _check_pool,
    OpKind.MAX_POOL2D: _check_pool, OpKind.ADD: _check_add, OpKind.CONCAT: _check_concat,
    OpKind.RESHAPE: _check_reshape, OpKind.PAD: _check_pad, OpKind.SOFTMAX: _check_softmax,
    OpKind.QUANTIZE: _check_quantize, OpKind.DEQUANTIZE: _check_quantize,
}
