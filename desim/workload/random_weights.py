"""Seeded random weights with valid TFLite-style quantisation, for functional runs.

int8 graphs get what the TFLite int8 scheme requires: symmetric int8 weights in
[-127, 127] with zero point 0, per output channel for conv2d (axis 0) and depthwise
(axis 3) and per tensor for fully-connected; int32 biases with scale
``input_scale * weight_scale[c]`` and zero point 0; softmax outputs at scale 1/256, zero
point -128; pool, reshape and pad outputs share their input's parameters. Weight scales
are ``u / (127 * sqrt(fan_in))`` with ``u`` uniform in [0.5, 1.5], so a layer roughly
preserves its input's magnitude, and activation scales follow from that (ReLU outputs
use zero point -128, others 0). Float graphs get He-normal float32 weights.
Values depend only on the seed and the graph, never on the machine.
"""

from __future__ import annotations

import math

import numpy as np

from desim.errors import SpecError
from desim.workload.graph import Graph
from desim.workload.op import WEIGHTED, Activation, Op, OpKind
from desim.workload.tensor import INTEGER_DTYPES, Quant, Tensor

#: quantisation of integer graph inputs: real range about [-2.5, 2.5] in int8
INPUT_QUANT = Quant((0.02,), (0,))
SOFTMAX_QUANT = Quant((1.0 / 256.0,), (-128,))


def _with(t: Tensor, quant: Quant | None = None, data: np.ndarray | None = None) -> Tensor:
    return Tensor(t.name, t.shape, t.dtype, quant if quant is not None else t.quant, t.const,
                  data if data is not None else t.data)


def random_weights(graph: Graph, seed: int = 0) -> Graph:
    """A copy of ``graph`` with every weight, bias and quantisation parameter filled in."""
    rng = np.random.default_rng(seed)
    new: dict[str, Tensor] = {}

    def cur(t: Tensor) -> Tensor:
        return new.get(t.name, t)

    for t in graph.inputs:
        if t.dtype in INTEGER_DTYPES:
            new[t.name] = _with(t, INPUT_QUANT)
    for op in graph.topological_order():
        if op.output.dtype not in INTEGER_DTYPES:
            if op.kind in WEIGHTED:
                _float_weights(op, rng, new)
            continue
        x = cur(op.input)
        if op.kind in WEIGHTED:
            out_scale = _int8_weights(op, x, rng, new)
            new[op.output.name] = _with(op.output, _act_quant(out_scale, op.activation))
        elif op.kind is OpKind.ADD:
            scale = max(_scale(cur(t)) for t in op.inputs)
            new[op.output.name] = _with(op.output, _act_quant(1.5 * scale, op.activation))
        elif op.kind is OpKind.CONCAT:
            widest = max((cur(t) for t in op.inputs), key=_scale)
            new[op.output.name] = _with(op.output, widest.quant)
        elif op.kind is OpKind.SOFTMAX:
            new[op.output.name] = _with(op.output, SOFTMAX_QUANT)
        elif op.kind is OpKind.QUANTIZE:
            new[op.output.name] = _with(op.output, INPUT_QUANT)
        else:  # pools, reshape, pad keep their input's parameters
            new[op.output.name] = _with(op.output, x.quant)
    return graph.replace_tensors(new)


def _scale(t: Tensor) -> float:
    if t.quant is None:
        raise SpecError(f"random weights: tensor {t.name} has no quantisation to derive from")
    return t.quant.scale[0]


def _act_quant(scale: float, activation: Activation) -> Quant:
    """Output parameters: ReLU-like outputs are non-negative, so use the full int8 range."""
    nonneg = activation in (Activation.RELU, Activation.RELU6)
    return Quant((float(np.float32(scale)),), (-128 if nonneg else 0,))


def _int8_weights(op: Op, x: Tensor, rng: np.random.Generator,
                  new: dict[str, Tensor]) -> float:
    """Fill ``op``'s weights and bias; return a fitting output scale."""
    w = op.weights
    assert w is not None and x.quant is not None
    if w.dtype != "int8":
        raise SpecError(f"random weights: weights {w.name} of op {op.name} are {w.dtype}; "
                        "integer graphs get int8 weights only")
    if op.kind is OpKind.CONV2D:
        axis, fan_in = 0, math.prod(w.shape[1:])
    elif op.kind is OpKind.DEPTHWISE_CONV2D:
        axis, fan_in = 3, w.shape[1] * w.shape[2]
    else:
        axis, fan_in = None, w.shape[1]
    channels = 1 if axis is None else w.shape[axis]
    w_scale = rng.uniform(0.5, 1.5, channels) / (127.0 * math.sqrt(fan_in))
    w_scale = w_scale.astype(np.float32).astype(np.float64)
    w_data = rng.integers(-127, 128, w.shape, dtype=np.int8)
    new[w.name] = _with(w, Quant(tuple(w_scale), (0,) * channels, axis), w_data)
    in_scale = x.quant.scale[0]
    if op.bias is not None:
        b = op.bias
        if b.dtype != "int32":
            raise SpecError(f"random weights: bias {b.name} of op {op.name} is {b.dtype}; "
                            "an int8 graph needs int32 biases")
        scales = np.float32(in_scale) * w_scale.astype(np.float32)
        quant = Quant(tuple(scales.astype(np.float64)), (0,) * channels,
                      None if axis is None else 0)
        limit = int(64 * 127 * math.sqrt(fan_in))
        new[b.name] = _with(b, quant, rng.integers(-limit, limit + 1, b.shape, dtype=np.int32))
    # real output rms ~ 0.58 * input rms (weights ~ U(-1,1)/sqrt(fan_in)); aim at ~50 codes
    return in_scale * 1.2 * float(rng.uniform(0.9, 1.1))


def _float_weights(op: Op, rng: np.random.Generator, new: dict[str, Tensor]) -> None:
    w = op.weights
    assert w is not None
    fan_in = w.shape[1] if op.kind is OpKind.FULLY_CONNECTED else (
        w.shape[1] * w.shape[2] * (w.shape[3] if op.kind is OpKind.CONV2D else 1))
    std = math.sqrt(2.0 / fan_in)
    new[w.name] = _with(w, data=(rng.standard_normal(w.shape) * std).astype(w.dtype))
    if op.bias is not None:
        b = op.bias
        new[b.name] = _with(b, data=(rng.standard_normal(b.shape) * 0.01).astype(b.dtype))
