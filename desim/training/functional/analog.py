"""Numerics of training with weights on resistive crossbars (``--aimc-training MODE``).

The weights of each trained conv2d and fully connected layer live on devices
(:class:`~desim.hw.analog_device.DeviceSpec`); trained depthwise layers and every bias
stay digital (the periphery), as do frozen layers, which compute exactly. A layer's
range is ``[-w_max, w_max]`` with ``w_max`` the largest ``|w|`` of its initial weights (the
deployed weights span the conductance range, as inference programming maps them); one
pulse moves a weight by ``eps = w_max / levels`` (the device granularity). Applying
``n`` signed pulses (``c`` in all, SET and RESET) adds
``eps * (n + pulse_noise * sqrt(c) * N(0, 1))``: each pulse's step spreads cycle to cycle
by ``pulse_noise`` (its std over its mean), independently. Weights are clipped to the
range after each update. Programming a cell to level ``L`` (write-verify to the nearest
level, ``L = clip(rint(w / eps), -levels, levels)``) leaves it at
``L * eps + pulse_noise * eps * N(0, 1)``, one pulse's spread (an assumption); at the
start every device layer is programmed from the initial weights.

* ``forward-only``: the optimizer updates digital master weights; every
  ``reprogram_every`` steps the crossbar copy is reprogrammed from them: cells whose
  level changes get ``L_new - L_old`` pulses and a fresh programming error, the others
  keep theirs. The forward reads the copy; backward is digital (the input gradient reads
  the copy when the array has a transposed read).
* ``mixed-precision`` (Nandakumar et al., Front. Neurosci. 2020): the optimizer's update
  accumulates in a float32 buffer ``chi`` of the weights' size; each step
  ``n = trunc(chi / eps)`` pulses go to each cell and ``chi -= n * eps``. Forward and
  backward read the devices. Any optimizer's update can feed ``chi`` (digital part).
* ``analog-sgd`` (IBM aihwkit's stochastic pulse update): each rank-one term
  ``lr * d x^T`` of the weight gradient (a sample's, or a sample's output pixel's) is
  applied in the array by pulse trains of length ``BL = min(pulse_trains,
  ceil(lr |x|max |d|max / eps))`` (aihwkit's update BL management): input ``i`` fires each
  slot with probability ``p_i = min(1, a |x_i|)``, output ``j`` with ``q_j = min(1, b |d_j|)``,
  ``a = sqrt(lr / (eps BL) * |d|max / |x|max)``, ``b = sqrt(lr / (eps BL) * |x|max / |d|max)``
  (update management: both trains have the same largest probability), and cell ``(j, i)``
  gets one pulse per coincidence, of sign ``-sign(x_i d_j)``. The expected count is
  ``lr |x_i d_j| / eps`` until a probability clips at 1 (then at most ``BL``). SGD only.

Pulses are counted per cell (signed: ``+`` raises the weight, a SET; ``-`` lowers it, a
RESET, or a SET of the negative device of a pair); analog SGD's pulses of one step are
applied together (clipping once), its counts keep both signs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from desim.errors import SpecError
from desim.hw.analog_device import DeviceSpec
from desim.training.functional.model import FloatModel, Layer
from desim.training.functional.ops import matmul
from desim.training.options import TrainOptions
from desim.workload.op import OpKind

#: layers whose weights live on crossbars (desim maps conv2d and fully connected to AIMC)
ON_DEVICES = (OpKind.CONV2D, OpKind.FULLY_CONNECTED)

#: random slots drawn at once by the stochastic update (bounds its memory)
_CHUNK_SLOTS = 4_000_000


@dataclass(frozen=True)
class LayerPulses:
    """Write pulses of one device layer over a run."""

    name: str
    cells: int
    w_max: float
    #: weight change of one pulse
    eps: float
    #: pulses per step of the most written cell (its total over the steps)
    max_per_step: float
    #: pulses per step of a cell, averaged over the cells
    mean_per_step: float
    #: most pulses one cell took in one update
    peak: int
    #: signed pulses per cell of the last update that wrote the layer (+ SET, - RESET),
    #: as the crossbar holds the weights: one row per input (``Kh*Kw*Ci`` or ``Nin``),
    #: one column per output; analog SGD: the net count of the last step
    last: np.ndarray
    #: analog SGD: pulse slots per step (sum of the train lengths; 0 in the other modes)
    slots_per_step: float

    def to_dict(self) -> dict[str, object]:
        return {"cells": self.cells, "w_max": self.w_max, "eps": self.eps,
                "max_pulses_per_cell_step": self.max_per_step,
                "mean_pulses_per_cell_step": self.mean_per_step, "peak_pulses": self.peak,
                "pulse_slots_per_step": self.slots_per_step}


@dataclass
class _Cells:
    """The devices of one layer: range, granularity and pulse counts."""

    w_max: float
    eps: float
    total: np.ndarray
    last: np.ndarray
    peak: int = 0
    slots: int = 0
    chi: np.ndarray | None = None
    levels: np.ndarray | None = None
    crossbar: np.ndarray | None = None

    def record(self, net: np.ndarray, count: np.ndarray) -> None:
        self.total += count.astype(np.int64)
        self.last = net.astype(np.int64)
        self.peak = max(self.peak, int(count.max(initial=0)))


def _slots(fire: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Firing slots ``(events, lines, slots)`` of the lines ``keep`` selects, as a
    ``lines x (events * slots)`` 0/1 matrix (a coincidence count is a product of two)."""
    bits = fire & keep[:, :, None]
    return bits.transpose(1, 0, 2).reshape(bits.shape[1], -1).astype(np.float32)


def stochastic_pulses(x: np.ndarray, d: np.ndarray, scale: float, trains: int,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
    """Coincidence counts of the rank-one updates ``scale * d[e] x[e]^T`` (``scale`` =
    lr / eps) as pulse trains of at most ``trains`` slots: ``(set, reset, slots)``, the
    SET and RESET counts per cell (``len(d[0]) x len(x[0])``) and the slots used."""
    x, d = x.astype(np.float64), d.astype(np.float64)
    xmax, dmax = np.abs(x).max(axis=1), np.abs(d).max(axis=1)
    live = scale * xmax * dmax > 0
    x, d, xmax, dmax = x[live], d[live], xmax[live], dmax[live]
    length = np.minimum(trains, np.ceil(scale * xmax * dmax)).astype(np.int64)
    gain = np.sqrt(scale / length)
    p = np.minimum(1.0, (gain * np.sqrt(dmax / xmax))[:, None] * np.abs(x))
    q = np.minimum(1.0, (gain * np.sqrt(xmax / dmax))[:, None] * np.abs(d))
    rows, cols = d.shape[1], x.shape[1]
    up = np.zeros((rows, cols), np.float64)
    down = np.zeros((rows, cols), np.float64)
    step = max(1, _CHUNK_SLOTS // ((rows + cols) * trains))
    slot = np.arange(trains)
    for e in range(0, len(x), step):
        sl = slice(e, e + step)
        on = slot[None, None, :] < length[sl, None, None]
        fx = (rng.random((len(x[sl]), cols, trains), np.float32) < p[sl, :, None]) & on
        fd = (rng.random((len(d[sl]), rows, trains), np.float32) < q[sl, :, None]) & on
        xp, xn = _slots(fx, x[sl] > 0), _slots(fx, x[sl] < 0)
        dp, dn = _slots(fd, d[sl] > 0), _slots(fd, d[sl] < 0)
        down += matmul(dp, xp.T) + matmul(dn, xn.T)  # sign(x d) > 0: positive gradient
        up += matmul(dp, xn.T) + matmul(dn, xp.T)
    return up.astype(np.int64), down.astype(np.int64), int(length.sum())


class Crossbars:
    """The device layers of one training run in AIMC ``mode`` and their pulse counts."""

    def __init__(self, mode: str, device: DeviceSpec, options: TrainOptions,
                 model: FloatModel, rng: np.random.Generator):
        self.mode, self.device, self.options, self.rng = mode, device, options, rng
        self.reprogrammings = 0
        self.steps = 0
        self.cells: dict[str, _Cells] = {}
        for name in model.trained:
            layer = model.layers[name]
            if layer.op.kind not in ON_DEVICES:
                continue
            w_max = float(np.abs(layer.w).max())
            if w_max == 0:
                raise SpecError(f"layer {name} has all-zero weights: its crossbar range is "
                                "set by the largest |w| of the initial weights; start from "
                                "non-zero weights")
            zeros = np.zeros(layer.w.shape, np.int64)
            cells = _Cells(w_max, w_max / device.levels, zeros.copy(), zeros.copy())
            levels, weights = self._program(cells, layer.w, None, None)
            if mode == "forward-only":
                cells.levels, cells.crossbar = levels, weights
            else:
                layer.w = weights
                cells.chi = np.zeros(layer.w.shape, np.float32)
            self.cells[name] = cells
        if not self.cells:
            raise SpecError(f"--aimc-training {mode}: no trained layer is a conv2d or "
                            "fully_connected (the layers crossbars hold); train one of them")

    def _program(self, cells: _Cells, w: np.ndarray, levels: np.ndarray | None,
                 weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Levels and programmed weights for targets ``w``; cells at their level already
        (``levels``, ``weights``: the present state) are not rewritten."""
        top = self.device.levels
        new = np.clip(np.rint(w / cells.eps), -top, top).astype(np.int64)
        noise = self.device.pulse_noise * self.rng.standard_normal(w.shape)
        written = np.clip((new + noise) * cells.eps, -cells.w_max, cells.w_max)
        if levels is not None and weights is not None:
            written = np.where(new != levels, written, weights)
        return new, written.astype(np.float32)

    def _pulse(self, cells: _Cells, layer: Layer, net: np.ndarray, count: np.ndarray
               ) -> None:
        noise = self.device.pulse_noise * np.sqrt(count) * self.rng.standard_normal(net.shape)
        layer.w = np.clip(layer.w + cells.eps * (net + noise), -cells.w_max, cells.w_max
                          ).astype(np.float32)
        cells.record(net, count)

    def forward_weights(self) -> dict[str, np.ndarray]:
        """Weights the forward reads instead of the layers' own (the crossbar copies)."""
        if self.mode != "forward-only":
            return {}
        return {name: c.crossbar for name, c in self.cells.items() if c.crossbar is not None}

    def backward_weights(self) -> dict[str, np.ndarray]:
        """Weights the input gradients read instead of the layers' own."""
        return self.forward_weights() if self.options.transposed_read else {}

    def mixed(self, layer: Layer, delta: np.ndarray) -> None:
        """Mixed precision: accumulate ``delta`` and pulse the whole granules out."""
        cells = self.cells[layer.op.name]
        assert cells.chi is not None
        cells.chi += delta
        n = np.trunc(cells.chi / np.float32(cells.eps))
        cells.chi -= n * np.float32(cells.eps)
        self._pulse(cells, layer, n.astype(np.int64), np.abs(n).astype(np.int64))

    def analog_sgd(self, layer: Layer, rows: tuple[np.ndarray, np.ndarray]) -> None:
        """Analog SGD: the weight gradient's rank-one terms ``rows`` as pulse trains."""
        cells = self.cells[layer.op.name]
        x, d = rows
        up, down, slots = stochastic_pulses(x, d, self.options.lr / cells.eps,
                                            self.options.pulse_trains, self.rng)
        shape = layer.w.shape
        self._pulse(cells, layer, (up - down).reshape(shape), (up + down).reshape(shape))
        cells.slots += slots

    def end_step(self, layers: dict[str, Layer]) -> None:
        """Close a step: forward-only reprograms the copies every ``reprogram_every``."""
        self.steps += 1
        if self.mode != "forward-only" or self.steps % self.options.reprogram_every:
            return
        self.reprogrammings += 1
        for name, cells in self.cells.items():
            assert cells.levels is not None
            old = cells.levels
            cells.levels, cells.crossbar = self._program(cells, layers[name].w, old,
                                                         cells.crossbar)
            delta = cells.levels - old
            cells.record(delta, np.abs(delta))

    def report(self) -> tuple[LayerPulses, ...]:
        """Pulse figures of each device layer over the steps so far."""
        steps = max(self.steps, 1)
        return tuple(LayerPulses(name, c.total.size, c.w_max, c.eps,
                                 float(c.total.max()) / steps, float(c.total.mean()) / steps,
                                 c.peak, np.ascontiguousarray(c.last.reshape(
                                     c.last.shape[0], -1).T), c.slots / steps)
                     for name, c in self.cells.items())
