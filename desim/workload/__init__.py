"""Workloads: what a platform runs, by name or by model file.

``load_workload`` returns a synthetic :class:`~desim.workload.synthetic.TileStream` for
the synthetic names, and a :class:`~desim.workload.graph.Graph` for zoo names
(``workloads/``) and for paths to ``.tflite``, ``.onnx`` or desim graph ``.json`` files.
The graph IR and the importers are imported on first use, so ``import desim`` stays fast.
"""

from __future__ import annotations

import difflib
import importlib
from pathlib import Path
from typing import Any

from desim.errors import SpecError
from desim.workload.synthetic import SYNTHETIC

DEFAULT_WORKLOAD = "resnet8"

#: model file suffixes load_workload reads, and the function reading each
MODEL_SUFFIXES = {".tflite": "desim.workload.tflite_import:load_tflite",
                  ".onnx": "desim.workload.onnx_import:load_onnx",
                  ".json": "desim.workload.serialize:load_graph_json"}

#: public names re-exported lazily from the IR modules
_LAZY = {"Graph": "graph", "Op": "op", "OpKind": "op", "Activation": "op", "Tensor": "tensor",
         "Quant": "tensor", "Padding": "shapes", "GraphBuilder": "builder",
         "load_tflite": "tflite_import", "load_onnx": "onnx_import", "load_zoo": "zoo",
         "zoo_names": "zoo", "load_graph_json": "serialize"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"desim.workload.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'desim.workload' has no attribute '{name}'")


def workload_names() -> list[str]:
    """Names of the built-in workloads: synthetic patterns and zoo networks."""
    from desim.workload.zoo import zoo_names

    return sorted({*SYNTHETIC, *zoo_names()})


def is_model_path(name: str) -> bool:
    """True when ``name`` reads as a file path rather than a built-in name."""
    return Path(name).suffix.lower() in MODEL_SUFFIXES or "/" in name or "\\" in name


def load_workload(name: str) -> Any:
    """The workload called ``name``, or the graph of the model file at path ``name``.

    Unknown names list the valid ones; a missing, unreadable or unsupported file is a
    one-line :class:`SpecError`.
    """
    if name in SYNTHETIC:
        return SYNTHETIC[name]
    if is_model_path(name):
        return load_model_file(name)
    from desim.workload.zoo import load_zoo, zoo_names

    if name in zoo_names():
        return load_zoo(name)
    names = workload_names()
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise SpecError(f"unknown workload '{name}': {hint}available: {', '.join(names)} "
                    f"(or a path to a {', '.join(MODEL_SUFFIXES)} file)")


def load_model_file(path: str | Path) -> Any:
    """The graph in a ``.tflite``, ``.onnx`` or desim ``.json`` file."""
    p = Path(path)
    target = MODEL_SUFFIXES.get(p.suffix.lower())
    if target is None:
        raise SpecError(f"workload file {p}: unknown suffix '{p.suffix}'; give a "
                        f"{', '.join(MODEL_SUFFIXES)} file or a built-in workload name")
    if not p.is_file():
        raise SpecError(f"workload file {p} does not exist; give a built-in name "
                        f"({', '.join(workload_names())}) or a path to a model file")
    module, func = target.split(":")
    return getattr(importlib.import_module(module), func)(p)
