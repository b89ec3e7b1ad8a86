"""Functional mode: real int8 tensors through the same schedule as the timing run.

The runtime (:mod:`desim.runtime.executor`) asks a :class:`Functional` for a callable per
job and the engines call it once, when the job's simulated time has elapsed:

* ``tile_fn(layer, tile)``: a cluster tile computes its output region from its input
  window (:mod:`desim.functional.ops`, bit-exact with TFLite);
* ``block_weights(block, crossbar)``: the payload a crossbar keeps when it is programmed,
  the block's conductances with programming noise drawn from the crossbar's RNG;
* ``block_fn(layer, tile, block, lo, hi)``: one crossbar block's MVMs for a tile
  (:mod:`desim.functional.analog`); after the tile's last block the partial sums are
  accumulated and requantised.

Every tile writes its region of the layer's output tensor; a region written twice or
never is an error (the tiling must cover each output exactly once). Timing is untouched:
the callables only read and write tensors. With AIMC layers, :meth:`Functional.summary`
compares the output with the digital result of the same graph and input: top-1 agreement
(per batch row) and ``SNR = 10 log10(sum ref^2 / sum (out - ref)^2)`` over the
dequantised outputs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from desim.errors import DesimError, SpecError
from desim.functional.analog import CALIBRATION_INPUTS, AnalogLayer, crossbar_spec
from desim.functional.kernels.aimc import CrossbarSpec
from desim.functional.ops import (
    Region,
    Values,
    full_region,
    prepare,
    region_index,
    run_graph,
)
from desim.kernel.clock import PS_PER_S
from desim.mapping.aimc_alloc import Block
from desim.mapping.mapper import blocks_for
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
    except ValueError as exc:
        if isinstance(exc, SpecError):
            raise
        raise SpecError(f"{where}: unreadable .npy file ({exc})") from None


def load_input(graph: Graph, source: np.ndarray | str | Path) -> Values:
    """The graph's single input from an array or a ``.npy`` file, checked against it."""
    if len(graph.inputs) != 1:
        raise SpecError(f"--input gives one array but {graph.name} has {len(graph.inputs)} "
                        "inputs; run without --input for random inputs")
    t = graph.inputs[0]
    array = source if isinstance(source, np.ndarray) else _read_npy(source)
    where = "input array" if isinstance(source, np.ndarray) else f"--input {source}"
    if array.shape != t.shape or array.dtype != np.dtype(t.dtype):
        raise SpecError(f"{where}: {array.dtype} array of shape {array.shape}, but input "
                        f"'{t.name}' of {graph.name} is {t.dtype} of shape {t.shape}")
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


@dataclass
class _AimcTile:
    """An AIMC tile whose blocks are still computing."""

    inputs: np.ndarray  # input rows, P x K
    sums: np.ndarray  # accumulated partial sums, P x channels (int64)
    blocks_left: int


class Functional:
    """Real tensors for the jobs of ``schedule`` (the mapping of ``graph``).

    ``inputs`` holds a value per graph input; ``crossbar`` is the crossbar model of the
    platform's AIMC layers (None without them); pinned weights are ``weights_age_s``
    old when the run starts. With ``calibration`` (a list of graph inputs) each crossbar
    block's ADC range is calibrated on them, else it is ``crossbar``'s.
    """

    def __init__(self, graph: Graph, schedule: Schedule, inputs: Values,
                 crossbar: CrossbarSpec | None = None, weights_age_s: float = 0.0,
                 calibration: list[Values] | None = None):
        self.graph = graph
        self.order = graph.topological_order()
        self.ops = {op.name: op for op in self.order}
        self.compute = {op.name: prepare(op) for op in self.order
                        if op.kind is not OpKind.RESHAPE}
        aimc = [layer.name for layer in schedule.layers if layer.engine == "aimc"]
        if aimc and crossbar is None:
            raise SpecError("functional mode: the schedule has AIMC layers but no crossbar "
                            "model was given")
        self.analog = {name: AnalogLayer(self.ops[name], crossbar)  # type: ignore[arg-type]
                       for name in aimc}
        if self.analog and calibration:
            self._calibrate(schedule, calibration)
        self.inputs = inputs
        self._age = weights_age_s if schedule.aimc.get("pinned") else 0.0
        self.values: Values = dict(inputs)
        self._written: dict[str, np.ndarray] = {}
        for op in self.order:  # every tensor up front: a reshape's output views its input
            t = op.output
            if op.kind is OpKind.RESHAPE:
                self.values[t.name] = self.values[op.input.name].reshape(t.shape)
            else:
                self.values[t.name] = np.zeros(t.shape, t.dtype)
                self._written[t.name] = np.zeros(t.shape, bool)
        self._tiles: dict[tuple[str, int], _AimcTile] = {}

    # -- the runtime's hooks -------------------------------------------------------------

    def tile_fn(self, layer: Layer, tile: Tile) -> Callable[[Any], None]:
        """Computes ``tile`` of a cluster layer when its kernel job completes."""
        region = Region(tile.r0, tile.r1, tile.c0, tile.c1)
        compute = self.compute[layer.name]

        def run(_cluster: Any) -> None:
            self._store(layer.name, region, compute(self.values, region))
        return run

    def block_weights(self, block: Block, crossbar: Any) -> tuple[Any, float]:
        """What ``crossbar`` holds once ``block`` is programmed: its conductances and the
        time (s) they were programmed."""
        state = self.analog[block.layer].program(block, crossbar.rng)
        return state, crossbar.env.now / PS_PER_S - self._age

    def block_fn(self, layer: Layer, tile: Tile, block: Block, lo: int,
                 hi: int) -> Callable[[Any], None]:
        """Computes columns ``[lo, hi)`` of ``block`` for ``tile`` when its MVM job
        completes on the crossbar; the tile's last block requantises the tile."""
        return lambda crossbar: self._mvm(layer, tile, block, lo, hi, crossbar)

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
        """The ``functional`` entry of summary.json (agreement only with AIMC layers)."""
        names = ["output.npy"] + [f"output_{i}.npy" for i in range(1, len(self.graph.outputs))]
        doc: dict[str, Any] = {"output_file": names[0]}
        if len(names) > 1:
            doc["output_files"] = names
        if self.analog:
            out, ref = self.outputs()[0], self.reference()[0]
            t = self.graph.outputs[0]
            doc["top1_agreement"] = top1_agreement(out, ref)
            doc["snr_db"] = snr_db(t, out, ref)
            doc["layer_snr_db"] = self.layer_snr()
        return doc

    def layer_snr(self) -> dict[str, float | None]:
        """Per AIMC layer, the SNR (dB) of its output against the digital layer fed the
        same input: the error each layer adds."""
        out = {}
        for name in self.analog:
            op = self.ops[name]
            got = self.values[op.output.name]
            ref = np.asarray(self.compute[name](self.values, full_region(op)))
            out[name] = snr_db(op.output, got, ref.reshape(got.shape))
        return out

    # -- internals -------------------------------------------------------------------------

    def _calibrate(self, schedule: Schedule, calibration: list[Values]) -> None:
        """Each AIMC layer's ADC ranges from the graph computed digitally on ``calibration``."""
        rows: dict[str, list[np.ndarray]] = {name: [] for name in self.analog}
        for inputs in calibration:
            values = run_graph(self.compute, self.order, dict(inputs))
            for name, analog in self.analog.items():
                rows[name].append(analog.inputs(values, full_region(self.ops[name])))
        for layer in schedule.layers:
            if layer.name in self.analog:
                self.analog[layer.name].calibrate(layer.blocks, rows[layer.name])

    def _store(self, layer: str, region: Region, y: np.ndarray) -> None:
        t = self.ops[layer].output
        index = region_index(t.shape, region)
        written = self._written[t.name]
        if written[index].any():
            raise DesimError(f"functional run: a tile of layer {layer} ({region}) overwrites "
                             "outputs another tile computed: the tiling overlaps")
        out = self.values[t.name]
        out[index] = np.asarray(y).reshape(out[index].shape)
        written[index] = True

    def _mvm(self, layer: Layer, tile: Tile, block: Block, lo: int, hi: int,
             crossbar: Any) -> None:
        analog = self.analog[layer.name]
        region = Region(tile.r0, tile.r1, tile.c0, tile.c1)
        key = (layer.name, tile.index)
        pending = self._tiles.get(key)
        if pending is None:
            x = analog.inputs(self.values, region)
            pending = self._tiles[key] = _AimcTile(
                x, np.zeros((x.shape[0], tile.c1 - tile.c0), np.int64),
                len(blocks_for(layer, tile.c0, tile.c1)))
        held = crossbar.weights(block.tag)
        if held is None:
            raise DesimError(f"functional run: {crossbar.path} holds no weights for "
                             f"{block.tag}")
        state, programmed_s = held
        t_s = crossbar.env.now / PS_PER_S - programmed_s
        pending.sums[:, lo - tile.c0:hi - tile.c0] += analog.partial(
            state, pending.inputs[:, block.k0:block.k1], slice(lo - block.n0, hi - block.n0),
            t_s, crossbar.rng)
        pending.blocks_left -= 1
        if pending.blocks_left == 0:
            del self._tiles[key]
            self._store(layer.name, region, analog.finish(pending.sums, region))


def for_soc(soc: Any, graph: Graph, inputs: Values, seed: int = 0) -> Functional:
    """The :class:`Functional` of ``graph`` as ``soc`` (a mapped PulpSoc) runs it; ADC
    ranges to calibrate are calibrated on inputs of ``seed``'s calibration stream."""
    schedule = getattr(soc, "schedule", None)
    if schedule is None:
        raise SpecError("functional mode runs DNN graphs on the platforms that map them "
                        "(pulp_cluster, imc_cluster, or a script built on desim.soc)")
    spec = soc.spec
    crossbar = calibration = None
    if spec.aimc is not None:
        crossbar = crossbar_spec(spec.aimc, spec.analog)
        if not spec.analog.adc_full_scale:
            calibration = [random_inputs(graph, seed, (CALIBRATION_STREAM, i))
                           for i in range(CALIBRATION_INPUTS)]
    return Functional(graph, schedule, inputs, crossbar, spec.analog.weights_age_s,
                      calibration)
