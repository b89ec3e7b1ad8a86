"""Build graphs layer by layer, Keras-style: each call adds one op and returns its output.

Used by the zoo definitions in ``workloads/``. Shapes and TFLite ``same``/``valid``
padding are computed here; weights are created as constants of the right shape without
data (timing-only), to be filled by :meth:`Graph.with_random_weights` or an importer.
For an int8 graph weights are int8 and biases int32; for a float32 graph both are float32.
"""

from __future__ import annotations

import math
from collections import Counter

from desim.errors import SpecError
from desim.workload.graph import Graph
from desim.workload.op import Activation, Op, OpKind
from desim.workload.shapes import padding_for, window_output
from desim.workload.tensor import Tensor

IntPair = int | tuple[int, int]


def _pair(v: IntPair) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


class GraphBuilder:
    """Accumulates ops; :meth:`build` returns the frozen :class:`Graph`."""

    def __init__(self, name: str, dtype: str = "int8", source: str = "") -> None:
        if dtype not in ("int8", "float32"):
            raise SpecError(f"graph builder dtype must be 'int8' or 'float32', got {dtype!r}")
        self.name = name
        self.dtype = dtype
        self.bias_dtype = "int32" if dtype == "int8" else "float32"
        self.source = source
        self._ops: list[Op] = []
        self._inputs: list[Tensor] = []
        self._counts: Counter[str] = Counter()

    def _name(self, kind: str, name: str | None) -> str:
        if name is None:
            name = f"{kind}_{self._counts[kind]}"
            self._counts[kind] += 1
        return name

    def _add(self, op: Op) -> Tensor:
        self._ops.append(op)
        return op.output

    def _out(self, name: str, shape: tuple[int, ...], dtype: str | None = None) -> Tensor:
        return Tensor(f"{name}/out", shape, dtype or self.dtype)

    def input(self, shape: tuple[int, ...], name: str = "input") -> Tensor:
        """A graph input (NHWC, batch first)."""
        t = Tensor(name, tuple(shape), self.dtype)
        self._inputs.append(t)
        return t

    def _windowed(self, kind: OpKind, x: Tensor, out_c: int, kernel: IntPair, stride: IntPair,
                  padding: str, dilation: IntPair, activation: str, name: str | None,
                  w_shape: tuple[int, ...] | None, bias: bool) -> Tensor:
        name = self._name(kind.value, name)
        k, s, d = _pair(kernel), _pair(stride), _pair(dilation)
        if x.rank != 4:
            raise SpecError(f"{kind} {name}: input {x.name} must be NHWC, has shape {x.shape}")
        pad = padding_for(padding, (x.shape[1], x.shape[2]), k, s, d)
        ho = window_output(x.shape[1], k[0], s[0], pad.top, pad.bottom, d[0])
        wo = window_output(x.shape[2], k[1], s[1], pad.left, pad.right, d[1])
        weights = b = None
        if w_shape is not None:
            weights = Tensor(f"{name}/weights", w_shape, self.dtype, const=True)
            if bias:
                b = Tensor(f"{name}/bias", (out_c,), self.bias_dtype, const=True)
        return self._add(Op(name, kind, (x,), self._out(name, (x.shape[0], ho, wo, out_c)),
                            weights, b, k, s, d, pad, Activation(activation)))

    def conv2d(self, x: Tensor, filters: int, kernel: IntPair, stride: IntPair = 1,
               padding: str = "same", activation: str = "none", dilation: IntPair = 1,
               bias: bool = True, name: str | None = None) -> Tensor:
        k = _pair(kernel)
        return self._windowed(OpKind.CONV2D, x, filters, k, stride, padding, dilation,
                              activation, name, (filters, *k, x.shape[-1]), bias)

    def depthwise_conv2d(self, x: Tensor, kernel: IntPair, stride: IntPair = 1,
                         padding: str = "same", activation: str = "none",
                         depth_multiplier: int = 1, dilation: IntPair = 1, bias: bool = True,
                         name: str | None = None) -> Tensor:
        k, c = _pair(kernel), x.shape[-1] * depth_multiplier
        return self._windowed(OpKind.DEPTHWISE_CONV2D, x, c, k, stride, padding, dilation,
                              activation, name, (1, *k, c), bias)

    def avg_pool2d(self, x: Tensor, kernel: IntPair, stride: IntPair | None = None,
                   padding: str = "valid", activation: str = "none",
                   name: str | None = None) -> Tensor:
        return self._windowed(OpKind.AVG_POOL2D, x, x.shape[-1], kernel,
                              kernel if stride is None else stride, padding, 1, activation,
                              name, None, False)

    def max_pool2d(self, x: Tensor, kernel: IntPair, stride: IntPair | None = None,
                   padding: str = "valid", activation: str = "none",
                   name: str | None = None) -> Tensor:
        return self._windowed(OpKind.MAX_POOL2D, x, x.shape[-1], kernel,
                              kernel if stride is None else stride, padding, 1, activation,
                              name, None, False)

    def global_avg_pool(self, x: Tensor, name: str | None = None) -> Tensor:
        """Average over the whole H x W plane (a valid pool with kernel = stride = H x W)."""
        return self.avg_pool2d(x, (x.shape[1], x.shape[2]), name=name)

    def fully_connected(self, x: Tensor, units: int, activation: str = "none",
                        bias: bool = True, name: str | None = None) -> Tensor:
        name = self._name(OpKind.FULLY_CONNECTED.value, name)
        n_in = x.shape[-1]
        weights = Tensor(f"{name}/weights", (units, n_in), self.dtype, const=True)
        b = Tensor(f"{name}/bias", (units,), self.bias_dtype, const=True) if bias else None
        out = self._out(name, (x.size // n_in, units))
        return self._add(Op(name, OpKind.FULLY_CONNECTED, (x,), out, weights, b,
                            activation=Activation(activation)))

    def add(self, a: Tensor, b: Tensor, activation: str = "none",
            name: str | None = None) -> Tensor:
        name = self._name(OpKind.ADD.value, name)
        return self._add(Op(name, OpKind.ADD, (a, b), self._out(name, a.shape),
                            activation=Activation(activation)))

    def concat(self, xs: list[Tensor], axis: int = -1, name: str | None = None) -> Tensor:
        name = self._name(OpKind.CONCAT.value, name)
        ax = axis % xs[0].rank
        shape = list(xs[0].shape)
        shape[ax] = sum(t.shape[ax] for t in xs)
        return self._add(Op(name, OpKind.CONCAT, tuple(xs), self._out(name, tuple(shape)),
                            axis=ax))

    def reshape(self, x: Tensor, shape: tuple[int, ...], name: str | None = None) -> Tensor:
        name = self._name(OpKind.RESHAPE.value, name)
        return self._add(Op(name, OpKind.RESHAPE, (x,), self._out(name, tuple(shape))))

    def flatten(self, x: Tensor, name: str | None = None) -> Tensor:
        """Reshape to (batch, features), as Keras Flatten does."""
        return self.reshape(x, (x.shape[0], math.prod(x.shape[1:])), name)

    def pad(self, x: Tensor, pads: tuple[tuple[int, int], ...],
            name: str | None = None) -> Tensor:
        name = self._name(OpKind.PAD.value, name)
        shape = tuple(d + a + b for d, (a, b) in zip(x.shape, pads, strict=True))
        return self._add(Op(name, OpKind.PAD, (x,), self._out(name, shape), pads=pads))

    def softmax(self, x: Tensor, beta: float = 1.0, name: str | None = None) -> Tensor:
        name = self._name(OpKind.SOFTMAX.value, name)
        return self._add(Op(name, OpKind.SOFTMAX, (x,), self._out(name, x.shape), beta=beta))

    def build(self, outputs: list[Tensor] | None = None) -> Graph:
        """The graph; its outputs default to the last op's output."""
        if not self._ops:
            raise SpecError(f"graph {self.name} has no ops")
        outs = tuple(outputs) if outputs else (self._ops[-1].output,)
        return Graph(self.name, tuple(self._ops), tuple(self._inputs), outs, self.source)

