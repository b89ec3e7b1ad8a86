"""The graph IR: a DAG of ops joined by named tensors, with totals and memory analysis.

Peak live activation memory for an execution order: while op *i* runs, every activation
that has been produced (graph inputs from the start) and is still needed by op *i* or a
later op, or is a graph output, is live; the op's output is live too. Live bytes at step
*i* is the sum of those tensors' sizes; the peak is the maximum over steps. Constants
(weights, biases) are not activations and are not counted. A reshape's output counts as
its own tensor (no aliasing is assumed).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from desim.errors import SpecError
from desim.workload.op import Op
from desim.workload.tensor import Tensor


@dataclass(frozen=True, repr=False)
class Graph:
    """A DNN inference graph. ``ops`` is a valid execution order (as in the source file);
    ``source`` says where the graph came from (``zoo:resnet8``, a file path)."""

    name: str
    ops: tuple[Op, ...]
    inputs: tuple[Tensor, ...]
    outputs: tuple[Tensor, ...]
    source: str = ""
    _tensors: dict[str, Tensor] = field(init=False, repr=False, compare=False)
    _producer: dict[str, Op] = field(init=False, repr=False, compare=False)
    _consumers: dict[str, tuple[Op, ...]] = field(init=False, repr=False, compare=False)
    _ops_by_name: dict[str, Op] = field(init=False, repr=False, compare=False)
    _topo: tuple[Op, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ops", tuple(self.ops))
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "outputs", tuple(self.outputs))
        tensors: dict[str, Tensor] = {}
        producer: dict[str, Op] = {}
        consumers: dict[str, list[Op]] = {}
        ops_by_name: dict[str, Op] = {}

        def add(t: Tensor, where: str) -> None:
            seen = tensors.setdefault(t.name, t)
            if seen is not t and seen != t:
                raise SpecError(f"graph {self.name}: tensor '{t.name}' in {where} differs from "
                                "another tensor of that name; give tensors unique names")

        for t in self.inputs:
            add(t, "the graph inputs")
            if t.const:
                raise SpecError(f"graph {self.name}: input '{t.name}' is a constant; graph "
                                "inputs must be activations")
        for op in self.ops:
            if op.name in ops_by_name:
                raise SpecError(f"graph {self.name}: two ops are named '{op.name}'; "
                                "op names must be unique")
            ops_by_name[op.name] = op
            for t in (*op.inputs, op.output, *(c for c in (op.weights, op.bias) if c is not None)):
                add(t, f"op {op.name}")
            out = op.output.name
            if out in producer or any(t.name == out for t in self.inputs):
                raise SpecError(f"graph {self.name}: tensor '{out}' is written twice "
                                f"(by op {op.name}); give each op its own output tensor")
            producer[out] = op
            for t in op.inputs:
                consumers.setdefault(t.name, []).append(op)
        input_names = {t.name for t in self.inputs}
        for op in self.ops:
            for t in op.inputs:
                if not t.const and t.name not in producer and t.name not in input_names:
                    raise SpecError(f"graph {self.name}: op {op.name} reads '{t.name}', which "
                                    "no op produces and which is not a graph input; give an "
                                    "op that writes it, or list it among the inputs")
        for t in self.outputs:
            add(t, "the graph outputs")
            if t.name not in producer and t.name not in input_names:
                raise SpecError(f"graph {self.name}: output '{t.name}' is never produced; "
                                "list only tensors an op writes (or graph inputs)")
        object.__setattr__(self, "_tensors", tensors)
        object.__setattr__(self, "_producer", producer)
        object.__setattr__(self, "_consumers", {k: tuple(v) for k, v in consumers.items()})
        object.__setattr__(self, "_ops_by_name", ops_by_name)
        object.__setattr__(self, "_topo", self._kahn())

    def __repr__(self) -> str:
        return (f"Graph({self.name!r}, {len(self.ops)} ops, {self.macs:,} MACs, "
                f"{self.params:,} params, source={self.source!r})")

    # -- structure --------------------------------------------------------------------

    @property
    def tensors(self) -> Mapping[str, Tensor]:
        """Every tensor by name: activations, graph inputs and constants."""
        return self._tensors

    def tensor(self, name: str) -> Tensor:
        try:
            return self._tensors[name]
        except KeyError:
            raise SpecError(f"graph {self.name} has no tensor '{name}'") from None

    def op(self, name: str) -> Op:
        try:
            return self._ops_by_name[name]
        except KeyError:
            raise SpecError(f"graph {self.name} has no op '{name}'") from None

    def producer(self, tensor: str) -> Op | None:
        """The op writing ``tensor``; None for graph inputs and constants."""
        return self._producer.get(tensor)

    def consumers(self, tensor: str) -> tuple[Op, ...]:
        """The ops reading ``tensor``, in graph order."""
        return self._consumers.get(tensor, ())

    def _kahn(self) -> tuple[Op, ...]:
        """Topological order; among ready ops the one first in ``ops`` goes first."""
        index = {op.name: i for i, op in enumerate(self.ops)}
        produced = self._producer
        waiting = {op.name: sum(1 for t in op.inputs if t.name in produced) for op in self.ops}
        ready = [index[name] for name, n in waiting.items() if n == 0]
        heapq.heapify(ready)
        order: list[Op] = []
        while ready:
            op = self.ops[heapq.heappop(ready)]
            order.append(op)
            for user in self.consumers(op.output.name):
                waiting[user.name] -= sum(1 for t in user.inputs if t.name == op.output.name)
                if waiting[user.name] == 0:
                    heapq.heappush(ready, index[user.name])
        if len(order) != len(self.ops):
            stuck = sorted(set(index) - {op.name for op in order})
            raise SpecError(f"graph {self.name} has a cycle through ops {', '.join(stuck[:5])}; "
                            "an op must read only tensors produced before it")
        return tuple(order)

    def topological_order(self) -> tuple[Op, ...]:
        """Ops in dependency order; ties keep the order of ``ops`` (stable)."""
        return self._topo

    def check_order(self, order: Iterable[Op | str]) -> tuple[Op, ...]:
        """``order`` as ops, checked to run every op once, each after its producers."""
        ops = tuple(self.op(o) if isinstance(o, str) else self.op(o.name) for o in order)
        if sorted(o.name for o in ops) != sorted(self._ops_by_name):
            raise SpecError(f"execution order for graph {self.name} must list each of its "
                            f"{len(self.ops)} ops exactly once, got {len(ops)}")
        done = {t.name for t in self.inputs}
        for op in ops:
            for t in op.inputs:
                if not t.const and t.name not in done:
                    raise SpecError(f"execution order: op {op.name} runs before "
                                    f"'{t.name}' is produced; order ops after their "
                                    "producers")
            done.add(op.output.name)
        return ops

    # -- totals -----------------------------------------------------------------------

    @property
    def macs(self) -> int:
        return sum(op.macs for op in self.ops)

    @property
    def params(self) -> int:
        return sum(op.params for op in self.ops)

    @property
    def weight_bytes(self) -> int:
        """Bytes of all distinct weight and bias tensors."""
        consts = {t.name: t for op in self.ops for t in (op.weights, op.bias) if t is not None}
        return sum(t.nbytes for t in consts.values())

    @property
    def has_weights(self) -> bool:
        """True when every weight and bias has data (needed for functional runs)."""
        return all(t.data is not None for op in self.ops
                   for t in (op.weights, op.bias) if t is not None)

    def live_bytes(self, order: Sequence[Op | str] | None = None) -> list[int]:
        """Live activation bytes while each op of ``order`` runs (default: topological)."""
        ops = self.topological_order() if order is None else self.check_order(order)
        last_use: dict[str, int] = {}
        for i, op in enumerate(ops):
            for t in op.inputs:
                last_use[t.name] = i
        keep = {t.name for t in self.outputs}
        live: dict[str, int] = {t.name: t.nbytes for t in self.inputs}
        result: list[int] = []
        for i, op in enumerate(ops):
            live[op.output.name] = op.output.nbytes
            result.append(sum(live.values()))
            for t in (*op.inputs, op.output):
                if t.name in live and t.name not in keep and last_use.get(t.name, -1) <= i:
                    del live[t.name]
        return result

    def peak_activation_bytes(self, order: Sequence[Op | str] | None = None) -> int:
        """Peak of :meth:`live_bytes`: the activation memory an order needs."""
        return max(self.live_bytes(order), default=sum(t.nbytes for t in self.inputs))

    def summary(self) -> dict[str, Any]:
        """Totals as plain data."""
        return {"name": self.name, "source": self.source, "ops": len(self.ops),
                "macs": self.macs, "params": self.params, "weight_bytes": self.weight_bytes,
                "largest_layer_bytes": max((op.act_in_bytes + op.act_out_bytes
                                            for op in self.ops), default=0),
                "peak_activation_bytes": self.peak_activation_bytes()}

    # -- derived graphs ---------------------------------------------------------------

    def replace_tensors(self, new: Mapping[str, Tensor]) -> Graph:
        """A copy in which each tensor named in ``new`` is replaced (ops re-checked)."""
        def swap(t: Tensor | None) -> Tensor | None:
            return None if t is None else new.get(t.name, t)

        ops = [replace(op, inputs=tuple(new.get(t.name, t) for t in op.inputs),
                       output=new.get(op.output.name, op.output), weights=swap(op.weights),
                       bias=swap(op.bias)) for op in self.ops]
        return Graph(self.name, tuple(ops), tuple(new.get(t.name, t) for t in self.inputs),
                     tuple(new.get(t.name, t) for t in self.outputs), self.source)

    def with_random_weights(self, seed: int = 0) -> Graph:
        """A copy with seeded random weights, biases and valid quantisation everywhere."""
        from desim.workload.random_weights import random_weights

        return random_weights(self, seed)

    # -- presentation and files -------------------------------------------------------

    def table(self) -> str:
        """The per-layer table with totals, as text."""
        from desim.workload.table import format_table

        return format_table(self)

    def to_dict(self, weights: bool = False) -> dict[str, Any]:
        """JSON-ready form; constants' data is included (base64) only when ``weights``."""
        from desim.workload.serialize import graph_to_dict

        return graph_to_dict(self, weights)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Graph:
        from desim.workload.serialize import graph_from_dict

        return graph_from_dict(doc)

    def save(self, path: str | Path, weights: bool = False) -> Path:
        """Write the graph as JSON (atomically) and return the path."""
        from desim.workload.serialize import save_graph

        return save_graph(self, path, weights)
