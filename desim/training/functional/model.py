"""A graph as a float model for training: real weights, a batched forward and a backward.

Weights and biases are the graph's, dequantised (``scale * (q - zero_point)``, per
channel where quantised so). A graph without weight data (a zoo network) starts as
training from scratch does: He-normal weights, ``N(0, 2 / fan_in)`` (He et al., ICCV
2015, which keeps the signal's scale through ReLU layers), seeded, and zero biases.
Activations are real float32
values (int8 activations dequantised), batched along the graph's batch axis, which must
be 1. Tensors are rounded to the training type (:mod:`~desim.training.functional.precision`).

A tensor *varies* when a trained layer's output reaches it. The ops producing tensors
that do not vary (the frozen prefix) run once per sample (:meth:`FloatModel.features`);
the others run every step. Backward follows the varying ops in reverse topological order,
gives input gradients only to varying tensors (none to a frozen prefix) and weight
gradients only to trained layers.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np

from desim.errors import SpecError
from desim.training.functional import ops
from desim.training.functional.ops import OpGrads
from desim.training.functional.precision import rounder
from desim.training.options import TrainOptions
from desim.workload.graph import Graph
from desim.workload.op import WEIGHTED, Op, OpKind
from desim.workload.tensor import INTEGER_DTYPES, Tensor

Values = dict[str, np.ndarray]

#: activation bytes a forward over several samples may hold (assumption: a few hundred
#: MB keeps a 224 x 224 network within a laptop's memory)
CHUNK_BYTES = 256 * 2**20


@dataclass
class Layer:
    """A weighted op's real weights and bias (float32, in the graph's layouts)."""

    op: Op
    w: np.ndarray
    b: np.ndarray | None


def dequantized(t: Tensor) -> np.ndarray:
    """Real values of constant ``t`` as float32."""
    assert t.data is not None
    q = t.quant
    if q is None:
        if t.dtype in INTEGER_DTYPES:
            raise SpecError(f"constant {t.name} is {t.dtype} without quantisation "
                            "parameters; give its scale and zero point")
        return np.asarray(t.data, np.float32)
    shape = [1] * t.rank
    if q.axis is not None:
        shape[q.axis] = len(q.scale)
    scale = np.asarray(q.scale, np.float64).reshape(shape)
    zp = np.asarray(q.zero_point, np.float64).reshape(shape)
    return (scale * (t.data.astype(np.float64) - zp)).astype(np.float32)


def graph_layer(op: Op) -> Layer:
    """Weighted ``op``'s own weights and bias, dequantised."""
    assert op.weights is not None
    return Layer(op, dequantized(op.weights), None if op.bias is None else dequantized(op.bias))


def he_normal(op: Op, rng: np.random.Generator) -> Layer:
    """He-normal weights and zero biases for weighted ``op``."""
    w = op.weights
    assert w is not None
    fan_in = w.shape[1] if op.kind is OpKind.FULLY_CONNECTED else (
        w.shape[1] * w.shape[2] * (w.shape[3] if op.kind is OpKind.CONV2D else 1))
    weights = (rng.standard_normal(w.shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
    return Layer(op, weights, None if op.bias is None else np.zeros(op.bias.shape, np.float32))


def _check_graph(graph: Graph) -> None:
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise SpecError(f"functional training takes a workload with one input and one output; "
                        f"{graph.name} has {len(graph.inputs)} and {len(graph.outputs)}")
    for t in (*graph.inputs, *(op.output for op in graph.ops)):
        if t.rank < 1 or t.shape[0] != 1:
            raise SpecError(f"functional training needs batch 1 in the workload (samples "
                            f"are batched by --batch): tensor {t.name} of {graph.name} has "
                            f"shape {t.shape}")


class FloatModel:
    """The float model of ``graph`` training the layers ``options`` names."""

    def __init__(self, graph: Graph, options: TrainOptions, seed: int = 0):
        _check_graph(graph)
        self.graph = graph
        self.round = rounder(options.dtype)
        self.trained = options.trained_layers(graph)
        weighted = [op for op in graph.ops if op.kind in WEIGHTED]
        if graph.has_weights:
            self.layers = {op.name: graph_layer(op) for op in weighted}
        else:
            rng = np.random.default_rng(seed)
            self.layers = {op.name: he_normal(op, rng) for op in weighted}
        for layer in self.layers.values():
            layer.w = self.round(layer.w)
            layer.b = None if layer.b is None else self.round(layer.b)
        order = graph.topological_order()
        varying: set[str] = set()
        for op in order:
            if op.name in self.trained or any(t.name in varying for t in op.inputs):
                varying.add(op.output.name)
        self.input = graph.inputs[0].name
        self.output = graph.outputs[0].name
        if self.output not in varying:
            raise SpecError(f"no trained layer of {graph.name} reaches its output "
                            f"{self.output}; choose other --trainable layers")
        self.varying = varying
        self.frozen = tuple(op for op in order if op.output.name not in varying)
        self.live = tuple(op for op in order if op.output.name in varying)
        self.boundary = tuple(dict.fromkeys(t.name for op in self.live for t in op.inputs
                                            if t.name not in varying))
        sample_bytes = 4 * sum(op.output.size for op in order)
        #: samples per forward that only evaluates (features, held-out metrics)
        self.chunk = max(1, min(64, CHUNK_BYTES // max(sample_bytes, 1)))

    def _run(self, op_list: tuple[Op, ...], values: Values,
             weights: Mapping[str, np.ndarray]) -> Values:
        for op in op_list:
            layer = self.layers.get(op.name)
            w = None if layer is None else weights.get(op.name, layer.w)
            values[op.output.name] = self.round(ops.forward(
                op, [values[t.name] for t in op.inputs], w, None if layer is None else layer.b))
        return values

    def features(self, x: np.ndarray) -> Values:
        """The frozen prefix's results the trained part reads, for samples ``x``
        (``N x`` the input's shape without its batch axis)."""
        parts: list[Values] = []
        for i in range(0, len(x), self.chunk):
            chunk = self.round(np.ascontiguousarray(x[i:i + self.chunk], np.float32))
            values = self._run(self.frozen, {self.input: chunk}, {})
            parts.append({name: values[name] for name in self.boundary})
        return {name: np.concatenate([p[name] for p in parts]) for name in self.boundary}

    def forward(self, features: Values, weights: Mapping[str, np.ndarray] | None = None
                ) -> Values:
        """Every tensor of the trained part for a batch of ``features``; ``weights``
        replaces some layers' weights (a crossbar copy)."""
        return self._run(self.live, dict(features), weights or {})

    def backward(self, values: Values, seeds: Mapping[str, np.ndarray],
                 weights: Mapping[str, np.ndarray] | None = None,
                 keep_rows: Collection[str] = ()) -> dict[str, OpGrads]:
        """Gradients of the trained layers, given the forward's ``values`` and the loss
        gradient of some tensors (``seeds``); ``weights`` as in :meth:`forward`; the
        layers ``keep_rows`` names keep the rank-one rows of their weight gradient."""
        weights = weights or {}
        grads: Values = {k: self.round(v) for k, v in seeds.items()}
        out: dict[str, OpGrads] = {}
        for op in reversed(self.live):
            dy = grads.get(op.output.name)
            if dy is None:
                continue
            layer = self.layers.get(op.name)
            w = None if layer is None else weights.get(op.name, layer.w)
            need = tuple(t.name in self.varying for t in op.inputs)
            g = ops.backward(op, [values[t.name] for t in op.inputs], values[op.output.name],
                             dy, w, need, op.name in self.trained)
            for t, dx in zip(op.inputs, g.inputs, strict=True):
                if dx is not None:
                    dx = self.round(dx)
                    grads[t.name] = grads[t.name] + dx if t.name in grads else dx
            if op.name in self.trained:
                assert g.weights is not None
                out[op.name] = OpGrads((), self.round(g.weights),
                                       None if g.bias is None else self.round(g.bias),
                                       g.rows if op.name in keep_rows else None)
        return out
