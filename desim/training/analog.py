"""Training with crossbars: the crossbar layers of a training step, and their writes.

The layers the inference mapping puts on the crossbars keep their place there: their
forward MVMs (and, with a transposed read, their input gradients) run as the inference
layer's MVM jobs. Their weight updates are writes to the devices, priced per crossbar
block by :mod:`desim.hw.analog_write` (expected pulse counts: a timing run has no real
gradients):

* ``forward-only``: the digital master weights are programmed onto the crossbars every
  ``reprogram_every`` steps by write-verify (the inference programming model); a step
  carries ``1 / reprogram_every`` of it;
* ``mixed-precision``: the digital weight gradient accumulates in chi; per step the
  cells whose chi passed the device granularity take pulses, row by row;
* ``analog-sgd``: every sample's outer product is applied in the array by stochastic
  pulse trains, once per output pixel of a convolution (each pixel is a rank-1 update).

Wear: each block's pulses per device per step give steps to wear-out for the busiest and
the mean device (a PCM pair's refreshes included).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from desim.hw.analog_write import (
    WriteCost,
    analog_sgd_cost,
    mixed_precision_cost,
    reprogram_cost,
    wear,
)
from desim.mapping.schedule import Layer, Schedule, Tile
from desim.training.engines import Write
from desim.training.step import TrainingStep

#: a layer without data movement: one tile, nothing loaded or stored
_NO_DATA = (Tile(0, 0, 1, 0, 1, 0, (), (), 0, 0, 0),)


def finite(x: float) -> float | None:
    """``x``, or None for a device never written (JSON has no infinity)."""
    return None if x == math.inf else x


def block_cost(mode: str, rows: int, cols: int, aimc: Any, clock_hz: float,
               pulse_trains: int, updates: int) -> WriteCost:
    """Expected write cost of one update step of a ``rows x cols`` crossbar block."""
    spec, w = aimc.spec, aimc.spec.write
    shape = (spec.rows, spec.cols)
    if mode == "forward-only":
        return reprogram_cost(rows, cols, spec, clock_hz, w)
    if mode == "mixed-precision":
        return mixed_precision_cost(rows, cols, w, array_shape=shape)
    return analog_sgd_cost(rows, cols, w, pulse_trains=pulse_trains, array_shape=shape)


def layers(step: TrainingStep, soc: Any, inference: Schedule
           ) -> tuple[dict[str, Layer], dict[str, Any]]:
    """The schedule layers of the step's crossbar primitives (by primitive name) and the
    crossbars' entry of the summary (pulses and wear; write time and energy are added
    from the run)."""
    o = step.options
    mode = o.aimc_training
    assert mode is not None
    aimc = soc.engines["aimc"].aimc
    clock = aimc.clock.freq_hz
    on_array = {x.name: x for x in inference.layers if x.engine == "aimc"}
    extra: dict[str, Layer] = {}
    per_layer: dict[str, dict[str, Any]] = {}
    pulses_max = 0.0
    pulses_sum = cells = 0.0
    for p in step.primitives:
        if p.job == "aimc_forward":
            extra[p.name] = on_array[p.layer]  # keeps the op's name: its programming groups
        elif p.job == "aimc_backward":
            # the transposed read: as many MVMs as the forward; nothing to program
            inf = on_array[p.layer]
            extra[p.name] = replace(inf, name=p.name, payload=replace(inf.payload, program=()))
        elif p.job == "aimc_write":
            op = step.graph.op(p.layer)
            # one rank-1 update per output pixel in analog SGD; one transfer otherwise
            updates = (op.output.size // op.output.shape[-1]
                       if mode == "analog-sgd" else 1)
            share = 1 / o.reprogram_every if mode == "forward-only" else 1.0
            by_xbar: dict[int, list[float]] = {}
            rec = per_layer.setdefault(p.layer, {"blocks": 0, "pulses_per_step": 0.0,
                                                 "max_pulses_per_device": 0.0})
            for b in on_array[p.layer].payload.blocks:
                cost = block_cost(mode, b.rows, b.cols, aimc, clock, o.pulse_trains, updates)
                t = by_xbar.setdefault(b.crossbar, [0.0, 0.0])
                t[0] += cost.time_ns * updates * share
                t[1] += cost.energy_pj * updates * share
                most = cost.max_pulses_per_cell * updates * share
                if mode == "forward-only":  # the program-and-verify pulses hit every device
                    most = cost.mean_pulses_per_device * share
                rec["blocks"] += 1
                rec["pulses_per_step"] += cost.pulses_total * updates * share
                rec["max_pulses_per_device"] = max(rec["max_pulses_per_device"], most)
                pulses_max = max(pulses_max, most)
                pulses_sum += cost.mean_pulses_per_device * cost.cells * updates * share
                cells += cost.cells
            writes = tuple(Write(x, round(ns * 1000), pj) for x, (ns, pj) in by_xbar.items())
            extra[p.name] = Layer(0, p.name, "aimc_write", "aimc_write", 0, writes, _NO_DATA,
                                  0)
    mean = pulses_sum / cells if cells else 0.0
    worn = wear(pulses_max, min(mean, pulses_max), aimc.spec.write)
    device = aimc.spec.write.device
    report = {
        "mode": mode, "device": device.technology,
        "estimate": "expected pulse counts (no real gradients in a timing run)",
        "reprogram_every": o.reprogram_every if mode == "forward-only" else None,
        "pulses_per_cell": {"max": round(pulses_max, 6), "mean": round(mean, 6)},
        "pulses_per_device_per_step": {"max": round(worn.max_pulses_per_step, 6),
                                       "mean": round(worn.mean_pulses_per_step, 6)},
        "refreshes_per_step": round(worn.refreshes_per_step, 9),
        "endurance_cycles": device.endurance_cycles,
        "steps_to_wear_out": {"max": finite(worn.steps_max), "mean": finite(worn.steps_mean)},
        "layers": {k: {**v, "pulses_per_step": round(v["pulses_per_step"], 3),
                       "max_pulses_per_device": round(v["max_pulses_per_device"], 6)}
                   for k, v in per_layer.items()},
    }
    return extra, report
