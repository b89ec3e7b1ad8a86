"""AIMC layers in functional runs: crossbar blocks with non-idealities, digital accumulation.

A conv2d or fully_connected layer on AIMC multiplies its input rows ``X`` (``P x K``, the
im2col patches of a tile: ``K = k_h * k_w * C_in`` in (ky, kx, c) order, as the OHWI
weights flatten) by its weight matrix ``W`` (``K x N``), cut by the mapper into blocks
``[k0, k1) x [n0, n1)`` placed on crossbars. With ``D``, ``Q``, ``A`` the largest DAC,
weight and ADC codes (:mod:`desim.functional.kernels.aimc`) and ``zp_x`` the input zero point:

    inputs applied   v = x - zp_x                    (centred: padding applies 0)
    DAC full scale   x_fs = max(range, D),  range = max(128 + zp_x, 127 - zp_x)
    weight scale     s_c = max(max_r |W[r, c]|, Q)   per column of a block
    ADC full scale   FS_b = largest |column sum| of block b on calibration inputs, in
                     full-scale products (or adc_full_scale for all); adc_gain = rows / FS_b
    block estimate   y_b = mvm(program(W_b), X[:, k0:k1])   ~ X[:, k0:k1] @ W_b
    accumulator      acc = bias + sum over row blocks of round(y_b)     (int32, digital)
    output           requantised as the digital layer (double rounding; FC single)

The ADC range is calibrated per block, as AIMC deployments set each job's ADC range
(GVSoC's IMA ``adc_high``/``adc_low``): the mapping runs a few seeded random inputs
digitally before programming and sizes each block's ADC to the largest column sum it saw
(an evaluated input that exceeds it clips). An input is its own DAC code when the DAC
has the codes (``D >= range``), else the input range spans the DAC; an int8 weight is its
own cell level when the cells have the levels (``Q >= 127``), else each column's largest
weight takes the full conductance.
Programming noise is drawn once per programming from the crossbar's seeded RNG, read
noise once per MVM and column from the same stream, drift from the time since
programming. Without noise, each block's estimate is within half an ADC LSB,
``FS / A * x_fs * s_c`` accumulator units, of its exact integer partial sum: with an LSB
below 1 every block rounds to its exact sum and the layer equals the digital result bit
for bit; with a coarser ADC the accumulator error is at most half an LSB per row block.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from desim.engines.crossbar_packing import Block
from desim.errors import DesimError, SpecError
from desim.functional import kernels
from desim.functional.kernels.aimc import CrossbarSpec, CrossbarState, mvm, program
from desim.functional.ops import (
    Region,
    Values,
    full_region,
    output_stage,
    quant_of,
    run_graph,
    weight_data,
    weight_zero_point,
    window,
)
from desim.hw.aimc import AimcSpec
from desim.kernel.clock import PS_PER_S
from desim.spec import Spec, param
from desim.workload.op import Op, OpKind

_CROSSBAR = {f.name: f for f in dataclasses.fields(CrossbarSpec)}

#: seeded random inputs the ADC ranges are calibrated on (adc_full_scale = 0)
CALIBRATION_INPUTS = 4


def _as_crossbar(name: str) -> float:
    """A parameter declared as the crossbar model's (same default, unit, doc and source)."""
    f, m = _CROSSBAR[name], _CROSSBAR[name].metadata
    return param(f.default, doc=m["doc"], unit=m["unit"], source=m["source"], ge=m["ge"],
                 gt=m["gt"], le=m["le"])  # type: ignore[no-any-return]


@dataclass(frozen=True)
class AnalogSpec(Spec):
    """Non-idealities of the AIMC crossbars in functional runs (unused without crossbars).

    Geometry and converter precisions are the crossbars' own (``aimc.rows``,
    ``aimc.weight_bits``, ``aimc.dac_bits``, ``aimc.adc_bits``).
    """

    read_noise_sigma: float = _as_crossbar("read_noise_sigma")
    prog_noise_sigma: float = _as_crossbar("prog_noise_sigma")
    drift_nu: float = _as_crossbar("drift_nu")
    drift_t0_s: float = _as_crossbar("drift_t0_s")
    adc_full_scale: float = param(
        0.0, unit="products", ge=0,
        doc="column sum the ADC maps to its top code, in products of a full-scale input and "
            "a full-scale weight; 0: calibrated per crossbar block (the largest column sum "
            f"on {CALIBRATION_INPUTS} seeded random inputs, computed before programming)",
        source="calibrated, as deployments set each MVM job's ADC range (GVSoC IMA "
               "adc_high/adc_low); a fixed bound of 12 is IBM aihwkit's IOParameters.out_bound")
    weights_age_s: float = param(
        0.0, unit="s", ge=0,
        doc="time from programming the pinned weights at deployment to the inference "
            "(drift); weights reprogrammed during inference are as old as the run makes them",
        source="user choice: 0 = programmed just before")


def crossbar_spec(aimc: AimcSpec, analog: AnalogSpec) -> CrossbarSpec:
    """The crossbar model of ``aimc``'s crossbars with ``analog``'s non-idealities (the ADC
    gain is the fixed ``adc_full_scale``'s, or 1 when it is to be calibrated)."""
    bits = {"weight_bits": aimc.weight_bits, "dac_bits": aimc.dac_bits,
            "adc_bits": aimc.adc_bits}
    if min(bits.values()) < 2:
        raise SpecError(f"functional mode needs signed converters and cells: aimc "
                        f"weight_bits, dac_bits and adc_bits must be >= 2, got {bits}")
    return CrossbarSpec(rows=aimc.rows, cols=aimc.cols, weight_bits=aimc.weight_bits,
                        dac_bits=aimc.dac_bits, adc_bits=aimc.adc_bits,
                        adc_gain=aimc.rows / (analog.adc_full_scale or aimc.rows),
                        read_noise_sigma=analog.read_noise_sigma,
                        prog_noise_sigma=analog.prog_noise_sigma, drift_nu=analog.drift_nu,
                        drift_t0_s=analog.drift_t0_s)


def _round(v: np.ndarray) -> np.ndarray:
    """Nearest integer, halves away from zero, as int64."""
    return (np.sign(v) * np.floor(np.abs(v) + 0.5)).astype(np.int64)


class AnalogLayer:
    """One conv2d or fully_connected layer as its crossbar blocks compute it."""

    def __init__(self, op: Op, crossbar: CrossbarSpec):
        if op.kind not in (OpKind.CONV2D, OpKind.FULLY_CONNECTED):
            raise SpecError(f"functional mode: op {op.name} ({op.kind}) cannot run on AIMC")
        self.op = op
        self.stage = output_stage(op)
        w = weight_data(op).astype(np.int64)
        self.matrix = (w.reshape(w.shape[0], -1) - weight_zero_point(op)).T  # K x N
        _, self.zp_in = quant_of(op, op.input)
        span = max(128 + self.zp_in, 127 - self.zp_in)
        self.spec = dataclasses.replace(
            crossbar, input_full_scale=float(max(span, crossbar.dac_levels)))
        #: calibrated ADC gain per block tag (the spec's gain for the others)
        self.gains: dict[str, float] = {}

    def _block(self, block: Block) -> tuple[np.ndarray, np.ndarray]:
        """The block's weights and its columns' weight scales ``s_c``."""
        w = self.matrix[block.k0:block.k1, block.n0:block.n1]
        return w, np.maximum(np.abs(w).max(axis=0), self.spec.weight_levels).astype(float)

    def calibrate(self, blocks: tuple[Block, ...], xs: list[np.ndarray]) -> None:
        """Size each block's ADC to the largest column sum it makes on input rows ``xs``
        (one full-scale product when it saw only zeros)."""
        for b in blocks:
            w, scale = self._block(b)
            peak = max(float(np.abs(x[:, b.k0:b.k1].astype(float) @ w / scale).max())
                       for x in xs) / self.spec.input_full_scale
            self.gains[b.tag] = self.spec.rows / (peak or 1.0)

    def program(self, block: Block, rng: np.random.Generator) -> CrossbarState:
        """Block ``block`` of the weights written to a crossbar (programming noise from
        ``rng``, the crossbar's stream)."""
        w, scale = self._block(block)
        return program(w, rng, self.spec, weight_scale=scale,
                       adc_gain=self.gains.get(block.tag))

    def inputs(self, values: Values, r: Region) -> np.ndarray:
        """The centred input rows ``X`` (``P x K``) of the output region ``r``."""
        op = self.op
        x = values[op.input.name]
        if op.kind is OpKind.FULLY_CONNECTED:
            return x.reshape(-1, self.matrix.shape[0]).astype(np.int64) - self.zp_in
        a, b, pads = window(op, r)
        v = np.pad(x[:, a:b].astype(np.int64) - self.zp_in,
                   ((0, 0), pads[:2], pads[2:], (0, 0)))
        (sh, sw), (kh, kw) = op.stride, op.kernel
        h, w_out = r.r1 - r.r0, op.output.shape[2]
        taps = [v[:, ky:ky + (h - 1) * sh + 1:sh, kx:kx + (w_out - 1) * sw + 1:sw, :]
                for ky in range(kh) for kx in range(kw)]
        return np.stack(taps, axis=3).reshape(-1, self.matrix.shape[0])

    def partial(self, state: CrossbarState, x: np.ndarray, cols: slice, t_s: float,
                rng: np.random.Generator) -> np.ndarray:
        """Integer partial sums of the block columns ``cols`` for inputs ``x`` (``P x
        rows``): one MVM per row of ``x``, read noise from ``rng``."""
        used = dataclasses.replace(state, conductance=state.conductance[:, cols],
                                   weight_scale=state.weight_scale[cols])
        return _round(mvm(used, x, t_s, rng))

    def finish(self, acc: np.ndarray, r: Region) -> np.ndarray:
        """The int8 outputs of region ``r`` from its accumulated partial sums (``P x c``)."""
        st, c = self.stage, slice(r.c0, r.c1)
        if st.bias is not None:
            acc = acc + st.bias[c]
        acc32 = np.clip(acc, -(2**31), 2**31 - 1).astype(np.int32)
        return kernels.requantize(acc32, st.multiplier[c], st.shift[c],
                                  output_zero_point=st.zero_point, act_min=st.act_min,
                                  act_max=st.act_max, rounding=st.rounding)


@dataclass
class _PendingTile:
    """A crossbar tile whose blocks are still computing."""

    inputs: np.ndarray  # input rows, P x K
    sums: np.ndarray  # accumulated partial sums, P x channels (int64)
    blocks_left: int


class AnalogModel:
    """The crossbars' numerics in a functional run ``fn`` (a
    :class:`desim.functional.mode.Functional`): one :class:`AnalogLayer` per layer of
    ``layers`` (name -> its crossbar blocks) on crossbars of model ``crossbar``.

    Weights programmed before the run are ``age_s`` old when it starts. With
    ``calibration_seed`` set, each block's ADC range is calibrated on inputs of that
    seed's calibration stream, computed digitally before programming; without it, the
    ranges are ``crossbar``'s.
    """

    def __init__(self, fn: Any, layers: dict[str, tuple[Block, ...]], crossbar: CrossbarSpec,
                 age_s: float = 0.0, calibration_seed: int | None = None):
        from desim.functional.mode import CALIBRATION_STREAM, random_inputs

        self.fn = fn
        self.layers = {name: AnalogLayer(fn.ops[name], crossbar) for name in layers}
        if calibration_seed is not None:
            rows: dict[str, list[np.ndarray]] = {name: [] for name in layers}
            for i in range(CALIBRATION_INPUTS):
                inputs = random_inputs(fn.graph, calibration_seed, (CALIBRATION_STREAM, i))
                values = run_graph(fn.compute, fn.order, dict(inputs))
                for name, layer in self.layers.items():
                    rows[name].append(layer.inputs(values, full_region(fn.ops[name])))
            for name, blocks in layers.items():
                self.layers[name].calibrate(blocks, rows[name])
        self._age = age_s
        self._tiles: dict[tuple[str, int], _PendingTile] = {}

    def block_weights(self, block: Block, crossbar: Any) -> tuple[Any, float]:
        """What ``crossbar`` holds once ``block`` is programmed: its conductances and the
        time (s) they were programmed."""
        state = self.layers[block.layer].program(block, crossbar.rng)
        return state, crossbar.env.now / PS_PER_S - self._age

    def block_fn(self, layer: Any, tile: Any, block: Block, lo: int,
                 hi: int) -> Callable[[Any], None]:
        """Computes columns ``[lo, hi)`` of ``block`` for ``tile`` when its MVM job
        completes on the crossbar; the tile's last block requantises the tile."""
        return lambda crossbar: self._mvm(layer, tile, block, lo, hi, crossbar)

    def _mvm(self, layer: Any, tile: Any, block: Block, lo: int, hi: int,
             crossbar: Any) -> None:
        analog = self.layers[layer.name]
        region = Region(tile.r0, tile.r1, tile.c0, tile.c1)
        key = (layer.name, tile.index)
        pending = self._tiles.get(key)
        if pending is None:
            x = analog.inputs(self.fn.values, region)
            pending = self._tiles[key] = _PendingTile(
                x, np.zeros((x.shape[0], tile.c1 - tile.c0), np.int64),
                len(layer.payload.blocks_for(tile.c0, tile.c1)))
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
            self.fn.store(layer.name, region, analog.finish(pending.sums, region))
