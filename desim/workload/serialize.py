"""Graphs to and from JSON.

The document lists every tensor once (name, shape, dtype, const, quantisation) and every
op by tensor names with all its attributes. Constants' values are written only when asked
(``weights=True``), as base64 of their little-endian bytes; without them a graph reloads
as a timing-only graph (same shapes, costs and quantisation, no weight data).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from desim.errors import SpecError
from desim.fileio import atomic_open
from desim.workload.graph import Graph
from desim.workload.op import Op
from desim.workload.shapes import Padding
from desim.workload.tensor import Quant, Tensor

FORMAT = "desim.graph"
VERSION = 1


def _tensor_doc(t: Tensor, weights: bool) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": t.name, "shape": list(t.shape), "dtype": t.dtype,
                           "const": t.const,
                           "quant": None if t.quant is None else t.quant.to_dict()}
    if weights and t.data is not None:
        raw = np.ascontiguousarray(t.data, dtype=t.data.dtype.newbyteorder("<")).tobytes()
        doc["data"] = base64.b64encode(raw).decode("ascii")
    return doc


def graph_to_dict(graph: Graph, weights: bool = False) -> dict[str, Any]:
    """Plain-data form of ``graph`` (see the module docstring)."""
    ops = []
    for op in graph.ops:
        ops.append({
            "name": op.name, "kind": op.kind.value, "inputs": [t.name for t in op.inputs],
            "output": op.output.name,
            "weights": None if op.weights is None else op.weights.name,
            "bias": None if op.bias is None else op.bias.name,
            "kernel": list(op.kernel), "stride": list(op.stride), "dilation": list(op.dilation),
            "padding": list(op.padding.as_tuple()), "activation": op.activation.value,
            "axis": op.axis, "beta": op.beta, "pads": [list(p) for p in op.pads]})
    return {"format": FORMAT, "version": VERSION, "name": graph.name, "source": graph.source,
            "weights_included": weights,
            "tensors": [_tensor_doc(t, weights) for t in graph.tensors.values()],
            "inputs": [t.name for t in graph.inputs], "outputs": [t.name for t in graph.outputs],
            "ops": ops}


class _Malformed(Exception):
    """What is wrong with a graph document, in words."""


def _get(doc: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """``doc[key]``, checked to be a ``kind``."""
    if not isinstance(doc, Mapping):
        raise _Malformed(f"{where} must be an object, got {type(doc).__name__}")
    if key not in doc:
        raise _Malformed(f"{where} lacks '{key}'")
    value = doc[key]
    if not isinstance(value, kind) or isinstance(value, bool) and bool not in (
            kind if isinstance(kind, tuple) else (kind,)):
        raise _Malformed(f"{where}.{key} must be {_kind(kind)}, got {value!r:.40}")
    return value


def _kind(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", float: "a number", list: "a list",
             dict: "an object", bool: "true or false", type(None): "null"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _ints(doc: Any, key: str, where: str) -> tuple[int, ...]:
    values = _get(doc, key, list, where)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise _Malformed(f"{where}.{key} must list integers, got {values!r:.40}")
    return tuple(values)


def _pair(doc: Any, key: str, where: str) -> Any:
    """``doc[key]`` as integers, checked as a pair (or one integer) by :class:`Op`."""
    return _ints(doc, key, where)


def _tensor(doc: Any, where: str) -> Tensor:
    name = _get(doc, "name", str, where)
    where = f"tensor '{name}'"
    dtype = _get(doc, "dtype", str, where)
    shape = _ints(doc, "shape", where)
    q = doc.get("quant")
    quant = None
    if q is not None:
        scale = _get(q, "scale", list, f"{where}.quant")
        zero = _get(q, "zero_point", list, f"{where}.quant")
        axis = _get(q, "axis", (int, type(None)), f"{where}.quant")
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in scale) or \
                not all(isinstance(v, int) and not isinstance(v, bool) for v in zero):
            raise _Malformed(f"{where}.quant: scale must list numbers, zero_point integers")
        quant = Quant(tuple(scale), tuple(zero), axis)
    data = None
    if doc.get("data") is not None:
        raw = _get(doc, "data", str, where)
        try:
            arr = np.frombuffer(base64.b64decode(raw, validate=True),
                                dtype=np.dtype(dtype).newbyteorder("<"))
            data = arr.astype(np.dtype(dtype)).reshape(shape)
        except (ValueError, TypeError) as exc:
            raise _Malformed(f"{where}.data does not hold {dtype} values of shape "
                             f"{list(shape)} in base64 ({exc})") from None
    const = _get(doc, "const", bool, where) if "const" in doc else False
    return Tensor(name, shape, dtype, quant, const, data)


def _op(d: Any, tensors: Mapping[str, Tensor], i: int) -> Op:
    name = _get(d, "name", str, f"ops[{i}]")
    where = f"op '{name}'"

    def tensor(ref: Any, role: str) -> Tensor:
        if not isinstance(ref, str) or ref not in tensors:
            raise _Malformed(f"{where} names {role} {ref!r:.40}, which no entry of 'tensors' "
                             "defines")
        return tensors[ref]

    inputs = tuple(tensor(n, "input") for n in _get(d, "inputs", list, where))
    weights = d.get("weights") if isinstance(d, Mapping) else None
    bias = d.get("bias") if isinstance(d, Mapping) else None
    pads = _get(d, "pads", list, where)
    if not all(isinstance(p, list) and len(p) == 2 for p in pads):
        raise _Malformed(f"{where}.pads must list [before, after] pairs")
    padding = _ints(d, "padding", where)
    if len(padding) != 4:
        raise _Malformed(f"{where}.padding must list top, bottom, left, right")
    return Op(name, _get(d, "kind", str, where), inputs, tensor(d.get("output"), "output"),
              None if weights is None else tensor(weights, "weights"),
              None if bias is None else tensor(bias, "bias"), _pair(d, "kernel", where),
              _pair(d, "stride", where), _pair(d, "dilation", where), Padding(*padding),
              _get(d, "activation", str, where), _get(d, "axis", int, where),
              float(_get(d, "beta", (int, float), where)),
              tuple((p[0], p[1]) for p in pads))


def graph_from_dict(doc: Mapping[str, Any]) -> Graph:
    """Rebuild a graph written by :func:`graph_to_dict`; malformed input is a SpecError."""
    if not isinstance(doc, Mapping) or doc.get("format") != FORMAT:
        raise SpecError(f"not a desim graph document (expected \"format\": \"{FORMAT}\"); "
                        "write one with 'desim workloads show MODEL --json FILE'")
    if doc.get("version") != VERSION:
        raise SpecError(f"desim graph document version {doc.get('version')!r} is not "
                        f"supported; this desim reads version {VERSION}: write it again with "
                        "'desim workloads show MODEL --json FILE'")
    try:
        tensors: dict[str, Tensor] = {}
        for i, d in enumerate(_get(doc, "tensors", list, "the document")):
            t = _tensor(d, f"tensors[{i}]")
            if t.name in tensors:
                raise _Malformed(f"two entries of 'tensors' are named '{t.name}'")
            tensors[t.name] = t

        def listed(key: str) -> tuple[Tensor, ...]:
            names = _get(doc, key, list, "the document")
            bad = [n for n in names if not isinstance(n, str) or n not in tensors]
            if bad:
                raise _Malformed(f"'{key}' names {bad[0]!r:.40}, which no entry of 'tensors' "
                                 "defines")
            return tuple(tensors[n] for n in names)

        ops = [_op(d, tensors, i) for i, d in enumerate(_get(doc, "ops", list, "the document"))]
        name = _get(doc, "name", str, "the document")
        source = doc.get("source", "")
        return Graph(name, tuple(ops), listed("inputs"), listed("outputs"),
                     source if isinstance(source, str) else "")
    except _Malformed as exc:
        raise SpecError(f"malformed desim graph document: {exc}; write it again with "
                        "'desim workloads show MODEL --json FILE'") from None


def save_graph(graph: Graph, path: str | Path, weights: bool = False) -> Path:
    """Write ``graph`` as JSON to ``path`` atomically."""
    path = Path(path)
    with atomic_open(path, "w") as fh:
        json.dump(graph_to_dict(graph, weights), fh, indent=1)
        fh.write("\n")
    return path


def load_graph_json(path: str | Path) -> Graph:
    """Read a graph written by :func:`save_graph`; every error names the file."""
    try:
        doc = json.loads(Path(path).read_bytes())
    except OSError as exc:
        raise SpecError(f"cannot read graph JSON {path}: {exc.strerror or exc}") from None
    except ValueError as exc:  # not JSON, or not UTF-8
        raise SpecError(f"cannot read graph JSON {path}: not valid JSON ({exc}); write it "
                        "again with 'desim workloads show MODEL --json FILE'") from None
    try:
        return graph_from_dict(doc)
    except SpecError as exc:
        raise SpecError(f"graph JSON {path}: {exc}") from None
