"""Analog weight updates on a crossbar: write time, write energy and wear.

The row-by-row model is NeuroSim's (``GetWriteUpdateEstimation`` in ProcessingUnit.cpp):
a cell needing ``n`` pulses gets ``n`` write pulses; rows are written ``rows_parallel``
at a time, each group in a SET phase and a RESET phase as long as the group's largest
pulse count in that direction::

    phase = k * pulse_ns + select_ns         (k = largest count of the phase; no pulse: 0)
    time  = sum over row groups of set_phase + reset_phase

A uni-directional device (PCM) is a pair per weight: a negative count is SET pulses on
the pair's other device, in the same row, so a row has one SET phase of ``max |n|``.
Energy, per row as if written alone (``R x C`` the array the lines span, ``G`` the
mean conductance ``(g_min + g_max) / 2`` unless the cells' conductances are given)::

    cells   = V_w^2 * G * pulse_ns * pulses                   (NeuroSim: V^2 / R * t)
    lines   = slots * C * c_wl * V_sel^2 + pulses * R * c_bl * V_w^2
    no access device, also:  (V_w / 2)^2 * G * pulse_ns * half-selected cell-slots
                             + (V_w / 2)^2 * ((R - 1) * C * c_wl + C * R * c_bl) per phase

with ``slots`` the pulse slots of the row phases (their ``k``), ``V_sel`` the selected
word line's voltage (the access gate's ``access_v``, or ``V_w`` in a cross-point array).
:func:`analog_sgd_cost`, :func:`mixed_precision_cost` and :func:`reprogram_cost` are the
expected costs of timing-only runs; :func:`wear` turns pulses per step into steps to
wear-out, a PCM pair's periodic refresh included.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from desim.errors import DesimError
from desim.hw.analog_device import DeviceSpec
from desim.kernel import Clock
from desim.spec import Spec, param, subspec

if TYPE_CHECKING:
    from desim.hw.aimc import AimcSpec

_NS = "NeuroSim DNN_NeuroSim_V2.1 18289cb (Training_pytorch/NeuroSIM"
_AK = "IBM aihwkit 4545f11"
#: pJ per (V^2 * uS * ns) and per (fF * V^2)
_PJ = 1e-3

#: analog SGD: mean |x| / max |x| of a layer's input (assumed: ReLU activations are sparse)
X_ACTIVITY = 0.2
#: analog SGD: mean |d| / max |d| of a layer's error (assumed: errors are sparse and peaked)
D_ACTIVITY = 0.2
#: mixed precision: mean |lr * gradient| per step over the weight granularity w_max / levels
#: (assumed: a tenth, so a cell waits several steps for a transfer, as the scheme intends)
UPDATE_RATIO = 0.1


@dataclass(frozen=True)
class AnalogWriteSpec(Spec):
    """Write periphery of a crossbar and the device it programs with pulses."""

    device: DeviceSpec = subspec(DeviceSpec)
    rows_parallel: int = param(
        1, ge=1, le=4096, doc="rows written at the same time (a group lasts as long as its "
        "largest pulse count)", source=f"{_NS}/ProcessingUnit.cpp): rows written one by one")
    select_ns: float = param(
        2.0, unit="ns", ge=0, le=1e6, doc="row decoder and switch-matrix latency of one "
        "write phase (SET or RESET) of a row group",
        source=f"assumed: a few ns (the {_NS}/SubArray.cpp) decoder and switch delays, "
        "computed there from transistor models, are small against 50-100 ns pulses)")
    access_device: bool = param(
        True, doc="each cell has an access transistor (1T1R); False: a cross-point array "
        "whose half-selected cells see V_w / 2", source=f"{_NS}/Param.cpp): accesstype 1, "
        "CMOS access (1T1R)")
    access_v: float = param(
        1.1, unit="V", gt=0, le=100, doc="gate voltage of the selected word line (1T1R)",
        source=f"{_NS}/Param.cpp): accessVoltage 1.1 V")
    wl_cap_ff: float = param(
        0.032, unit="fF", ge=0, le=1e3, doc="word-line capacitance per weight cell",
        source=f"derived: {_NS}/SubArray.cpp) wire 0.2 fF/um over a 4F cell, F = 40 nm "
        "(Param.cpp); access-transistor capacitance not included")
    bl_cap_ff: float = param(
        0.032, unit="fF", ge=0, le=1e3, doc="bit-line capacitance per weight cell",
        source=f"derived: {_NS}/SubArray.cpp) wire 0.2 fF/um over a 4F cell, F = 40 nm "
        "(Param.cpp); access-transistor capacitance not included")
    verify_pulses: int = param(
        10, unit="pulses", ge=1, le=10_000, doc="pulses one program-and-verify write access "
        "applies to a device (reprogramming wear)",
        source="assumed: ~10 program-and-verify pulses per access, as AimcSpec."
        "program_pj_per_device assumes")
    refresh_fill: float = param(
        0.5, ge=0, le=1, doc="mean |w| / w_max re-programmed on one device of a PCM pair "
        "after a refresh", source="assumed: weights spread evenly over the range")

    @property
    def g_mean_us(self) -> float:
        """Conductance a pulse sees, (g_min + g_max) / 2 (NeuroSim's 50/50 R_on/R_off)."""
        return (self.device.g_min_us + self.device.g_max_us) / 2

    @property
    def devices_per_cell(self) -> int:
        """Devices per weight: a pair for a uni-directional device."""
        return 1 if self.device.bidirectional else 2


@dataclass(frozen=True)
class WriteCost:
    """Time, energy and pulse counts of writing one block (expected values are floats)."""

    time_ns: float
    energy_pj: float
    pulses_total: float
    set_pulses: float
    reset_pulses: float
    #: most pulses one cell (one device: an update pulses one device per cell) took
    max_pulses_per_cell: float
    mean_pulses_per_cell: float
    mean_pulses_per_device: float
    devices_pulsed: float
    rows_written: float
    #: weights (cells) the block covers
    cells: int

    def cycles(self, freq_hz: float) -> int:
        """Whole cycles of a clock of ``freq_hz`` the write takes."""
        return math.ceil(round(self.time_ns * freq_hz / 1e9, 6))


@dataclass(frozen=True)
class Wear:
    """Pulses per device per step (refresh included) and steps until wear-out."""

    max_pulses_per_step: float
    mean_pulses_per_step: float
    #: whole-block refreshes of a PCM pair array per step (0 for bidirectional devices)
    refreshes_per_step: float
    #: steps until the most-pulsed device reaches its endurance (inf: never pulsed)
    steps_max: float
    steps_mean: float


def device_pulses(pulses: ArrayLike, device: DeviceSpec) -> np.ndarray:
    """Pulses per device, shape ``(devices, rows, cols)``: ``|n|`` for a bidirectional
    device; for a pair, positive counts on device 0 and negative ones on device 1."""
    p = _counts(pulses)
    if device.bidirectional:
        return np.abs(p)[None]
    return np.stack([np.maximum(p, 0), np.maximum(-p, 0)])


def update_cost(pulses: ArrayLike, spec: AnalogWriteSpec, *, g_us: ArrayLike | None = None,
                array_shape: tuple[int, int] | None = None) -> WriteCost:
    """Row-by-row write of signed per-cell pulse counts (rows x cols; > 0 SET, < 0 RESET).

    ``g_us``: each pulsed device's conductance before the update (broadcast to the
    counts); a cell's pulses then see NeuroSim's ``2 / (1/G_old + 1/G_new)``. Without it,
    every pulse sees :attr:`AnalogWriteSpec.g_mean_us`. ``array_shape``: the crossbar the
    lines span (default: the block's shape)."""
    p = _counts(pulses)
    rows, cols = _array(p.shape, array_shape)
    n = np.abs(p)
    dev = spec.device
    if dev.bidirectional:
        k = np.stack([np.maximum(p, 0).max(axis=1, initial=0),
                      np.maximum(-p, 0).max(axis=1, initial=0)])
    else:
        k = n.max(axis=1, initial=0)[None]
    g = spec.rows_parallel
    pad = -k.shape[1] % g
    groups = np.pad(k, ((0, 0), (0, pad))).reshape(k.shape[0], -1, g).max(axis=2)
    time = (int(groups.sum()) * dev.pulse_ns
            + int(np.count_nonzero(groups)) * spec.select_ns)
    total = int(n.sum())
    if g_us is None:
        cell_pj = dev.write_v**2 * spec.g_mean_us * dev.pulse_ns * total * _PJ
    else:
        cell_pj = _tracked_cell_pj(p, g_us, dev)
    energy = cell_pj + _line_pj(spec, int(k.sum()), total, int(np.count_nonzero(k)),
                                rows, cols)
    reset = int(np.maximum(-p, 0).sum()) if dev.bidirectional else 0
    return WriteCost(
        time_ns=time, energy_pj=energy, pulses_total=total, set_pulses=total - reset,
        reset_pulses=reset, max_pulses_per_cell=int(n.max(initial=0)),
        mean_pulses_per_cell=total / max(p.size, 1),
        mean_pulses_per_device=total / max(p.size * spec.devices_per_cell, 1),
        devices_pulsed=int(np.count_nonzero(p)), rows_written=int(np.count_nonzero(n.any(1))),
        cells=p.size)


def analog_sgd_cost(rows: int, cols: int, spec: AnalogWriteSpec, *, pulse_trains: int = 31,
                    x_activity: float = X_ACTIVITY, d_activity: float = D_ACTIVITY,
                    array_shape: tuple[int, int] | None = None) -> WriteCost:
    """Expected cost of one parallel stochastic update (Gokmen & Vlasov 2016, as aihwkit).

    Row ``i`` fires a train of ``BL = pulse_trains`` slots with probability ``p_x`` per
    slot and column ``j`` with ``p_d``; a coincidence pulses the cell. aihwkit's update
    management scales the largest |x| and |d| to probability 1, so ``E[p_x] = x_activity``
    (mean |x| / max |x|, assumed) and a cell gets ``BL * x_activity * d_activity`` pulses,
    the busiest ``BL``. Every cell is written at once, in one phase per update sign::

        time = 2 * (BL * pulse_ns + select_ns)              (independent of the array size)

    Lines: each row fires ``BL * x_activity`` times, each column ``BL * d_activity``
    times (a cross-point array drives both at V_w / 2; 1T1R: gate at ``access_v``, bit
    line at V_w); cross-point cells with one line firing are half-selected. aihwkit's BL
    management shortens the train for small updates: the time is an upper bound."""
    _size(rows, cols)
    if isinstance(pulse_trains, bool) or not isinstance(pulse_trains, int) \
            or not 1 <= pulse_trains <= 1024:
        raise DesimError(f"pulse_trains must be an integer in [1, 1024], got {pulse_trains!r}")
    for name, a in (("x_activity", x_activity), ("d_activity", d_activity)):
        if not 0 < a <= 1:
            raise DesimError(f"{name} must be in (0, 1] (mean |v| / max |v|), got {a!r}")
    r, c = _array((rows, cols), array_shape)
    dev, bl = spec.device, pulse_trains
    v2, g, t = dev.write_v**2, spec.g_mean_us, dev.pulse_ns
    per_cell = bl * x_activity * d_activity
    total = rows * cols * per_cell
    row_fires, col_fires = rows * bl * x_activity, cols * bl * d_activity
    if spec.access_device:
        lines = (row_fires * c * spec.wl_cap_ff * spec.access_v**2
                 + col_fires * r * spec.bl_cap_ff * v2)
        half = 0.0
    else:
        lines = (row_fires * c * spec.wl_cap_ff + col_fires * r * spec.bl_cap_ff) * v2 / 4
        one_line = x_activity * (1 - d_activity) + d_activity * (1 - x_activity)
        half = v2 / 4 * g * t * rows * cols * bl * one_line
    return WriteCost(
        time_ns=2 * (bl * t + spec.select_ns),
        energy_pj=(v2 * g * t * total + lines + half) * _PJ,
        pulses_total=total, set_pulses=total / 2 if dev.bidirectional else total,
        reset_pulses=total / 2 if dev.bidirectional else 0.0, max_pulses_per_cell=bl,
        mean_pulses_per_cell=per_cell,
        mean_pulses_per_device=per_cell / spec.devices_per_cell,
        devices_pulsed=rows * cols * (1 - (1 - x_activity * d_activity) ** bl),
        rows_written=rows, cells=rows * cols)


def mixed_precision_cost(rows: int, cols: int, spec: AnalogWriteSpec, *,
                         update_ratio: float = UPDATE_RATIO, persistent: bool = True,
                         array_shape: tuple[int, int] | None = None) -> WriteCost:
    """Expected per-step transfer of mixed-precision training (Nandakumar et al. 2020).

    A digital accumulator chi per weight gains ``lr * g`` each step; when ``|chi| >= eps``
    (``eps = w_max / levels``) the cell gets ``floor(|chi| / eps)`` pulses, row by row.
    With ``u = update_ratio`` (mean ``|lr * g| / eps``, assumed) a cell takes ``lam = u``
    pulses per step when its increments keep their sign (``persistent``: every increment
    is transferred eventually, an upper bound), or ``min(u, u^2)`` when their signs are
    random (a random walk of step ``u * eps`` leaves ``(-eps, eps)`` after ``1 / u^2``
    steps). A cell transfers with probability ``q = min(1, lam)``, ``lam / q`` pulses at a
    time; a row phase lasts ``k = ceil(lam / q)`` pulses (the spread of gradients within
    a row is not modelled). Signs are balanced: a bidirectional device's row has a SET
    and a RESET phase each written with probability ``1 - (1 - q/2)^C`` (a pair: one SET
    phase, ``1 - (1 - q)^C``). The chi update is digital work, not counted here."""
    _size(rows, cols)
    if not (math.isfinite(update_ratio) and update_ratio >= 0):
        raise DesimError(f"update_ratio must be a finite number >= 0, got {update_ratio!r}")
    r, c = _array((rows, cols), array_shape)
    dev = spec.device
    u = update_ratio
    lam = u if persistent or u >= 1 else u * u
    if lam == 0:
        return _zero(rows * cols)
    q = min(1.0, lam)
    k = math.ceil(lam / q)
    phases, q_phase = (2, q / 2) if dev.bidirectional else (1, q)
    g = spec.rows_parallel
    sizes = [g] * (rows // g) + ([rows % g] if rows % g else [])
    group_phases = phases * sum(1 - (1 - q_phase) ** (s * cols) for s in sizes)
    row_phases = phases * rows * (1 - (1 - q_phase) ** cols)
    total = rows * cols * lam
    energy = (dev.write_v**2 * spec.g_mean_us * dev.pulse_ns * total * _PJ
              + _line_pj(spec, row_phases * k, total, row_phases, r, c))
    return WriteCost(
        time_ns=group_phases * (k * dev.pulse_ns + spec.select_ns), energy_pj=energy,
        pulses_total=total, set_pulses=total / 2 if dev.bidirectional else total,
        reset_pulses=total / 2 if dev.bidirectional else 0.0, max_pulses_per_cell=k,
        mean_pulses_per_cell=lam, mean_pulses_per_device=lam / spec.devices_per_cell,
        devices_pulsed=rows * cols * q, rows_written=rows * (1 - (1 - q) ** cols),
        cells=rows * cols)


def reprogram_cost(rows: int, cols: int, aimc: AimcSpec, clock_hz: float,
                   spec: AnalogWriteSpec) -> WriteCost:
    """Write-verify programming of a ``rows x cols`` block from digital weights, by the
    crossbar's inference programming model (``AimcSpec.program_cycles`` and
    ``program_energy_pj``: 8.2 ms per 256 x 256 array at the IMA's defaults); each device
    takes ``verify_pulses`` pulses per program-and-verify round."""
    _size(rows, cols)
    clock = Clock("aimc", round(clock_hz))
    per_device = aimc.write_verify_iterations * spec.verify_pulses
    devices = rows * cols * aimc.devices_per_weight
    total = devices * per_device
    return WriteCost(
        time_ns=aimc.program_cycles(rows, cols, clock) * 1e9 / clock.freq_hz,
        energy_pj=aimc.program_energy_pj(rows, cols), pulses_total=total, set_pulses=total,
        reset_pulses=0, max_pulses_per_cell=per_device,
        mean_pulses_per_cell=total / (rows * cols), mean_pulses_per_device=per_device,
        devices_pulsed=devices, rows_written=rows, cells=rows * cols)


def refresh_cost(rows: int, cols: int, spec: AnalogWriteSpec,
                 array_shape: tuple[int, int] | None = None) -> WriteCost:
    """One refresh of a PCM pair block: per row, a RESET phase of one pulse on both
    devices of every pair, then a SET phase re-programming the difference on one device,
    ``refresh_fill * levels`` pulses per weight, ``levels`` pulses long (a row's largest
    weight assumed near w_max). The RESET pulse is costed as a SET pulse (the device has
    one pulse; a PCM RESET is shorter at a higher current). Zero for a bidirectional
    device, which needs no refresh."""
    _size(rows, cols)
    if spec.device.bidirectional:
        return _zero(rows * cols)
    r, c = _array((rows, cols), array_shape)
    dev = spec.device
    levels = dev.levels
    sets = rows * cols * spec.refresh_fill * levels
    resets = 2 * rows * cols
    total = sets + resets
    groups = -(-rows // spec.rows_parallel)
    energy = (dev.write_v**2 * spec.g_mean_us * dev.pulse_ns * total * _PJ
              + _line_pj(spec, rows * (1 + levels), total, 2 * rows, r, c))
    return WriteCost(
        time_ns=groups * ((1 + levels) * dev.pulse_ns + 2 * spec.select_ns),
        energy_pj=energy, pulses_total=total, set_pulses=sets, reset_pulses=resets,
        max_pulses_per_cell=1 + levels, mean_pulses_per_cell=total / (rows * cols),
        mean_pulses_per_device=total / (2 * rows * cols), devices_pulsed=2 * rows * cols,
        rows_written=rows, cells=rows * cols)


def wear(max_pulses: float, mean_pulses: float, spec: AnalogWriteSpec) -> Wear:
    """Steps to wear-out of the most-pulsed and the mean device, from their pulses per
    step (e.g. ``device_pulses(...).max()`` and ``.mean()``, averaged over steps).

    A PCM pair refreshes the whole block when its busiest device would saturate, every
    ``levels / max_pulses`` steps (aihwkit's periodic refresh); a refresh gives every
    device one RESET and, on average, ``refresh_fill * levels / 2`` SET pulses, so each
    device takes ``max_pulses * (1 / levels + refresh_fill / 2)`` more per step."""
    for name, v in (("max_pulses", max_pulses), ("mean_pulses", mean_pulses)):
        if not (math.isfinite(v) and v >= 0):
            raise DesimError(f"{name} must be a finite number >= 0, got {v!r}")
    if mean_pulses > max_pulses:
        raise DesimError(f"mean_pulses ({mean_pulses}) must not exceed max_pulses "
                         f"({max_pulses})")
    dev = spec.device
    refreshes = 0.0 if dev.bidirectional else max_pulses / dev.levels
    extra = refreshes * (1 + spec.refresh_fill * dev.levels / 2)
    hi, mean = max_pulses + extra, mean_pulses + extra
    return Wear(max_pulses_per_step=hi, mean_pulses_per_step=mean,
                refreshes_per_step=refreshes,
                steps_max=dev.endurance_cycles / hi if hi else math.inf,
                steps_mean=dev.endurance_cycles / mean if mean else math.inf)


# -- helpers ---------------------------------------------------------------------------

def _line_pj(spec: AnalogWriteSpec, slots: float, pulses: float, phases: float,
             rows: int, cols: int) -> float:
    """Line (and half-selected cell) energy of row phases with ``slots`` pulse slots,
    ``pulses`` cell pulses and ``phases`` phases with pulses, each row as if alone."""
    v2 = spec.device.write_v**2
    sel2 = spec.access_v**2 if spec.access_device else v2
    pj = slots * cols * spec.wl_cap_ff * sel2 + pulses * rows * spec.bl_cap_ff * v2
    if not spec.access_device:
        half = slots * cols - pulses + (rows - 1) * pulses  # cell-slots at V_w / 2
        pj += v2 / 4 * spec.g_mean_us * spec.device.pulse_ns * half
        pj += v2 / 4 * ((rows - 1) * cols * spec.wl_cap_ff + cols * rows * spec.bl_cap_ff) \
            * phases
    return pj * _PJ


def _tracked_cell_pj(p: np.ndarray, g_us: ArrayLike, dev: DeviceSpec) -> float:
    """NeuroSim's cell energy, ``n * V^2 * t / R_avg`` with ``R_avg = (1/G_old +
    1/G_new) / 2``, the pulsed device moving ``n`` steps (a pair's devices only rise)."""
    try:
        g_old = np.broadcast_to(np.asarray(g_us, dtype=float), p.shape)
    except ValueError:
        raise DesimError(f"g_us (shape {np.shape(g_us)}) must broadcast to the pulse counts' "
                         f"shape {p.shape}") from None
    if not np.all((g_old >= dev.g_min_us) & (g_old <= dev.g_max_us)):
        raise DesimError(f"g_us must lie in [g_min_us, g_max_us] = [{dev.g_min_us}, "
                         f"{dev.g_max_us}] uS (the pulsed devices' conductances)")
    signed = p if dev.bidirectional else np.abs(p)
    g_new = np.clip(g_old + signed * dev.step_us, dev.g_min_us, dev.g_max_us)
    s = g_old + g_new
    g_avg = np.divide(2 * g_old * g_new, s, out=np.zeros_like(s), where=s > 0)
    return float(dev.write_v**2 * dev.pulse_ns * (np.abs(p) * g_avg).sum()) * _PJ


def _counts(pulses: ArrayLike) -> np.ndarray:
    p = np.asarray(pulses)
    if p.ndim != 2 or not np.issubdtype(p.dtype, np.integer):
        raise DesimError(f"pulses must be a 2-D integer array (rows x cols of signed pulse "
                         f"counts), got {p.ndim}-D {p.dtype}; round the counts to integers")
    return p.astype(np.int64, copy=False)


def _size(rows: int, cols: int) -> None:
    for name, v in (("rows", rows), ("cols", cols)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
            raise DesimError(f"{name} must be a positive integer, got {v!r}")


def _array(shape: tuple[int, ...], array_shape: tuple[int, int] | None) -> tuple[int, int]:
    """The rows and columns the lines span: ``array_shape``, at least the block's."""
    rows, cols = shape
    if array_shape is None:
        return max(rows, 1), max(cols, 1)
    r, c = array_shape
    if r < rows or c < cols:
        raise DesimError(f"array_shape {tuple(array_shape)} is smaller than the block "
                         f"({rows}, {cols}); give the crossbar's rows and cols")
    return int(r), int(c)


def _zero(cells: int) -> WriteCost:
    return WriteCost(0.0, 0.0, 0, 0, 0, 0, 0.0, 0.0, 0, 0, cells)
