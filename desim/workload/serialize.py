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


def _tensor(doc: Mapping[str, Any]) -> Tensor:
    q = doc.get("quant")
    quant = None if q is None else Quant(tuple(q["scale"]), tuple(q["zero_point"]), q["axis"])
    data = None
    if doc.get("data") is not None:
        dtype = np.dtype(doc["dtype"]).newbyteorder("<")
        arr = np.frombuffer(base64.b64decode(doc["data"]), dtype=dtype)
        data = arr.astype(np.dtype(doc["dtype"])).reshape(doc["shape"])
    return Tensor(doc["name"], tuple(doc["shape"]), doc["dtype"], quant, bool(doc["const"]),
                  data)


def graph_from_dict(doc: Mapping[str, Any]) -> Graph:
    """Rebuild a graph written by :func:`graph_to_dict`; malformed input is a SpecError."""
    if not isinstance(doc, Mapping) or doc.get("format") != FORMAT:
        raise SpecError(f"not a desim graph document (expected \"format\": \"{FORMAT}\")")
    if doc.get("version") != VERSION:
        raise SpecError(f"desim graph document version {doc.get('version')!r} is not "
                        f"supported; this desim reads version {VERSION}")
    try:
        tensors = {d["name"]: _tensor(d) for d in doc["tensors"]}

        def get(name: str | None) -> Tensor | None:
            return None if name is None else tensors[name]

        ops = [Op(d["name"], d["kind"], tuple(tensors[n] for n in d["inputs"]),
                  tensors[d["output"]], get(d["weights"]), get(d["bias"]), tuple(d["kernel"]),
                  tuple(d["stride"]), tuple(d["dilation"]), Padding(*d["padding"]),
                  d["activation"], d["axis"], d["beta"], tuple(tuple(p) for p in d["pads"]))
               for d in doc["ops"]]
        return Graph(doc["name"], tuple(ops), tuple(tensors[n] for n in doc["inputs"]),
                     tuple(tensors[n] for n in doc["outputs"]), doc.get("source", ""))
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, SpecError):
            raise
        raise SpecError(f"malformed desim graph document: {type(exc).__name__}: {exc}") from None


def save_graph(graph: Graph, path: str | Path, weights: bool = False) -> Path:
    """Write ``graph`` as JSON to ``path`` atomically."""
    path = Path(path)
    with atomic_open(path, "w") as fh:
        json.dump(graph_to_dict(graph, weights), fh, indent=1)
        fh.write("\n")
    return path


def load_graph_json(path: str | Path) -> Graph:
    """Read a graph written by :func:`save_graph`."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SpecError(f"cannot read graph JSON {path}: {exc}") from None
    return graph_from_dict(doc)
