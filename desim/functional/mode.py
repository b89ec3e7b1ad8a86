"""Functional mode: real int8 tensors through the same schedule as the timing run.

The engines ask a :class:`Functional` for a callable per job and call it once, when the
job's simulated time has elapsed: a digital engine's ``tile_fn(layer, tile)`` computes the
tile's output region from its input window (:mod:`desim.functional.ops`, bit-exact with
TFLite); an engine with numerics of its own asks the model it attached (the crossbars':
:class:`desim.functional.analog.AnalogModel`).

Every tile writes its region of the layer's output tensor; a region written twice or
never is an error (the tiling must cover each output exactly once). Timing is untouched:
the callables only read and write tensors. With an engine model, :meth:`Functional.summary`
compares the output with the digital result of the same graph and input: top-1 agreement
(per batch row) and ``SNR = 10 log10(sum ref^2 / sum (out - ref)^2)`` over the
dequantised outputs.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from tokenize import TokenError
from typing import Any

import numpy as np

from desim.errors import DesimError, SpecError
from desim.functional.ops import (
    Region,
    Values,
    full_region,
    prepare,
    region_index,
    run_graph,
)
from desim.mapping.schedule import Layer, Schedule, Tile
from desim.workload.graph import Graph
from desim.workload.op import OpKind
from desim.workload.tensor import Tensor

#: seed streams of the random input and of the ADC calibration inputs (the weights draw
#: from default_rng(seed))
INPUT_STREAM, CALIBRATION_STREAM = 1, 2


def functional_graph(workload: Any, seed: int) -> tuple[Graph, str]:
    """The graph a functional run computes, and where its weights come from: the model's
    own, or seeded random ones for a graph without weight data (zoo networks)."""
    if not isinstance(workload, Graph):
        raise SpecError(f"functional mode runs DNN graphs; '{workload.name}' is a synthetic "
                        "tile stream: give a zoo network or a model file with -w")
    if workload.has_weights:
        return workload, "model"
    return workload.with_random_weights(seed), f"random (seed {seed})"


def random_inputs(graph: Graph, seed: int, stream: tuple[int, ...] = (INPUT_STREAM,)
                  ) -> Values:
    """Seeded random values for every graph input: uniform int8 codes, or for a float input
    read by a quantize op, the real values of uniform codes on that op's grid."""
    rng = np.random.default_rng([seed, *stream])
    out: Values = {}
    for t in graph.inputs:
        codes = rng.integers(-128, 128, t.shape, dtype=np.int8)
        if t.dtype == "int8":
            out[t.name] = codes
        elif t.dtype == "float32":
            quant = next((op.output.quant for op in graph.consumers(t.name)
                          if op.kind is OpKind.QUANTIZE and op.output.quant), None)
            scale, zp = (quant.scale[0], quant.zero_point[0]) if quant else (1 / 64, 0)
            out[t.name] = (scale * (codes.astype(np.float64) - zp)).astype(np.float32)
        else:
            raise SpecError(f"functional mode: graph input {t.name} is {t.dtype}; it takes "
                            "int8 or float32 inputs")
    return out


def _read_npy(path: str | Path) -> np.ndarray:
    """The array of a ``.npy`` file; a :class:`SpecError` names what is wrong with it."""
    where = f"--input {path}"
    try:
        with open(path, "rb") as fh:
            if fh.read(6) != b"\x93NUMPY":
                raise SpecError(f"{where}: not a .npy file; save the array with numpy.save")
            fh.seek(0)
            return np.load(fh, allow_pickle=False)  # type: ignore[no-any-return]
    except FileNotFoundError:
        raise SpecError(f"{where}: no such file; give a .npy file") from None
    except OSError as exc:
        raise SpecError(f"{where}: unreadable ({exc.strerror or exc})") from None
    except (ValueError, EOFError, SyntaxError, TokenError) as exc:  # a damaged header or body
        if isinstance(exc, SpecError):
            raise
        raise SpecError(f"{where}: unreadable .npy file ({exc}); save the array again with "
                        "numpy.save") from None


def load_input(graph: Graph, source: np.ndarray | str | Path) -> Values:
    """The graph's single input from an array or a ``.npy`` file, checked against it."""
    if len(graph.inputs) != 1:
        raise SpecError(f"--input gives one array but {graph.name} has {len(graph.inputs)} "
                        "inputs; run without --input for random inputs")
    t = graph.inputs[0]
    if not isinstance(source, np.ndarray | str | os.PathLike):
        raise SpecError(f"inputs: got a {type(source).__name__}; give a numpy array or the "
                        "path of a .npy file")
    array = source if isinstance(source, np.ndarray) else _read_npy(source)
    where = "input array" if isinstance(source, np.ndarray) else f"--input {source}"
    if array.shape != t.shape or array.dtype != np.dtype(t.dtype):
        raise SpecError(f"{where}: {array.dtype} array of shape {array.shape}, but input "
                        f"'{t.name}' of {graph.name} is {t.dtype} of shape {t.shape}; save "
                        f"a {t.dtype} array of shape {t.shape}")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise SpecError(f"{where}: holds NaN or infinite values; give finite numbers")
    return {t.name: np.ascontiguousarray(array)}


def _real(t: Tensor, v: np.ndarray) -> np.ndarray:
    """Dequantised values of ``v`` (values of ``t``)."""
    if t.quant is None:
        return v.astype(np.float64)
    return t.quant.scale[0] * (v.astype(np.float64) - t.quant.zero_point[0])


def snr_db(t: Tensor, out: np.ndarray, ref: np.ndarray) -> float | None:
    """SNR in dB of ``out`` against ``ref`` (values of ``t``, dequantised); None when
    they are identical or ``ref`` is all zero."""
    a, b = _real(t, ref), _real(t, out)
    noise, signal = float(np.sum((b - a) ** 2)), float(np.sum(a ** 2))
    if noise == 0 or signal == 0:
        return None
    return round(10 * math.log10(signal / noise), 3)


def top1_agreement(out: np.ndarray, ref: np.ndarray) -> bool | float:
    """Whether the largest output is the same (a bool for one row, else the fraction of
    rows of the last axis that agree)."""
    rows = out.reshape(-1, out.shape[-1] if out.ndim else 1)
    same = rows.argmax(axis=1) == ref.reshape(rows.shape).argmax(axis=1)
    return bool(same[0]) if same.size == 1 else float(same.mean())


class Functional:
    """Real tensors for the jobs of ``schedule`` (the mapping of ``graph``).

    ``inputs`` holds a value per graph input. Digital engines compute their tiles exactly
    through :meth:`tile_fn`; an engine with numerics of its own (the crossbars) adds its
    model to :attr:`models` under its name (:meth:`attach`).
    """

    def __init__(self, graph: Graph, schedule: Schedule, inputs: Values):
        self.graph = graph
        self.order = graph.topological_order()
        self.ops = {op.name: op for op in self.order}
        self.compute = {op.name: prepare(op) for op in self.order
                        if op.kind is not OpKind.RESHAPE}
        self.inputs = inputs
        self.values: Values = dict(inputs)
        self._written: dict[str, np.ndarray] = {}
        for op in self.order:  # every tensor up front: a reshape's output views its input
            t = op.output
            if op.kind is OpKind.RESHAPE:
                self.values[t.name] = self.values[op.input.name].reshape(t.shape)
            else:
                self.values[t.name] = np.zeros(t.shape, t.dtype)
                self._written[t.name] = np.zeros(t.shape, bool)
        #: engine name -> the engine's functional model (see Engine.functional_model)
        self.models: dict[str, Any] = {}

    def attach(self, engines: Any, schedule: Schedule, seed: int) -> Functional:
        """Add the functional models of ``engines`` that have one; returns ``self``."""
        for engine in engines:
            model = engine.functional_model(self, schedule, seed)
            if model is not None:
                self.models[engine.name] = model
        return self

    # -- the runtime's hooks -------------------------------------------------------------

    def tile_fn(self, layer: Layer, tile: Tile) -> Callable[[Any], None]:
        """Computes ``tile`` of a digital layer exactly when its job completes."""
        region = Region(tile.r0, tile.r1, tile.c0, tile.c1)
        compute = self.compute[layer.name]

        def run(_engine: Any) -> None:
            self.store(layer.name, region, compute(self.values, region))
        return run

    # -- results ---------------------------------------------------------------------------

    def outputs(self) -> list[np.ndarray]:
        """The graph outputs; a :class:`DesimError` when the tiles left outputs unwritten."""
        for name, written in self._written.items():
            if not written.all():
                missing = int(written.size - np.count_nonzero(written))
                raise DesimError(f"functional run: {missing} of {written.size} values of "
                                 f"'{name}' were never computed: the tiling of its layer "
                                 "does not cover its output")
        return [self.values[t.name] for t in self.graph.outputs]

    def reference(self) -> list[np.ndarray]:
        """The graph outputs computed digitally, each layer over its whole output."""
        values = run_graph(self.compute, self.order, dict(self.inputs))
        return [values[t.name] for t in self.graph.outputs]

    def summary(self) -> dict[str, Any]:
        """The ``functional`` entry of summary.json (agreement only when an engine model
        adds non-idealities)."""
        names = ["output.npy"] + [f"output_{i}.npy" for i in range(1, len(self.graph.outputs))]
        doc: dict[str, Any] = {"output_file": names[0]}
        if len(names) > 1:
            doc["output_files"] = names
        if self.models:
            out, ref = self.outputs()[0], self.reference()[0]
            t = self.graph.outputs[0]
            doc["top1_agreement"] = top1_agreement(out, ref)
            doc["snr_db"] = snr_db(t, out, ref)
            doc["layer_snr_db"] = self.layer_snr()
        return doc

    def layer_snr(self) -> dict[str, float | None]:
        """Per layer of an engine model, the SNR (dB) of its output against the digital
        layer fed the same input: the error each layer adds."""
        out = {}
        for model in self.models.values():
            for name in model.layers:
                op = self.ops[name]
                got = self.values[op.output.name]
                ref = np.asarray(self.compute[name](self.values, full_region(op)))
                out[name] = snr_db(op.output, got, ref.reshape(got.shape))
        return out

    def store(self, layer: str, region: Region, y: np.ndarray) -> None:
        """Write ``y`` as region ``region`` of ``layer``'s output (each value once)."""
        t = self.ops[layer].output
        index = region_index(t.shape, region)
        written = self._written[t.name]
        if written[index].any():
            raise DesimError(f"functional run: a tile of layer {layer} ({region}) overwrites "
                             "outputs another tile computed: the tiling overlaps")
        out = self.values[t.name]
        out[index] = np.asarray(y).reshape(out[index].shape)
        written[index] = True
