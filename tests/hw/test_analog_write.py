"""Analog weight updates: NeuroSim's row-by-row write model, expected costs and wear."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from desim.errors import DesimError
from desim.hw.aimc import AimcSpec
from desim.hw.analog_device import DeviceSpec
from desim.hw.analog_write import (
    AnalogWriteSpec,
    analog_sgd_cost,
    device_pulses,
    mixed_precision_cost,
    refresh_cost,
    reprogram_cost,
    update_cost,
    wear,
)
from desim.spec import describe

RRAM = DeviceSpec.from_preset("rram")
PCM = DeviceSpec.from_preset("pcm")
# a pulse of the defaults: V_w = 1.5 V, G = (0.1 + 25) / 2 uS, 100 ns -> pJ
PCM_PULSE_PJ = 1.5**2 * 12.55 * 100 * 1e-3  # 2.82375 pJ


def bare(device: DeviceSpec = RRAM, **kw) -> AnalogWriteSpec:
    """No line capacitance and no select latency: only the cells' pulses cost."""
    return AnalogWriteSpec(device=device, **{"wl_cap_ff": 0.0, "bl_cap_ff": 0.0,
                                             "select_ns": 0.0, **kw})


# -- closed forms ----------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 7, 200])
def test_single_cell_n_pulses(n):
    cost = update_cost(np.array([[n]]), bare(PCM))
    assert cost.time_ns == n * 100
    assert cost.energy_pj == pytest.approx(n * PCM_PULSE_PJ)
    assert (cost.pulses_total, cost.max_pulses_per_cell, cost.devices_pulsed,
            cost.rows_written) == (n, n, 1, 1)


def test_a_row_lasts_as_long_as_its_largest_count():
    cost = update_cost(np.array([[2, 9, 4, 0, 1]]), bare(RRAM))
    assert cost.time_ns == 9 * RRAM.pulse_ns
    assert cost.pulses_total == 16 and cost.devices_pulsed == 4
    assert cost.mean_pulses_per_cell == pytest.approx(16 / 5)


def test_set_and_reset_phases_add_and_each_pays_its_select_latency():
    spec = dataclasses.replace(bare(RRAM), select_ns=3.0)
    cost = update_cost(np.array([[3, -5, 1]]), spec)
    assert cost.time_ns == (3 + 5) * 10 + 2 * 3
    assert (cost.set_pulses, cost.reset_pulses) == (4, 5)
    only_set = update_cost(np.array([[3, 0, 1]]), spec)
    assert only_set.time_ns == 3 * 10 + 3  # a phase without pulses costs nothing


def test_rows_are_written_one_after_another():
    cost = update_cost(np.array([[4, 0], [0, -2], [1, 1]]), bare(RRAM))
    assert cost.time_ns == (4 + 2 + 1) * 10
    assert cost.rows_written == 3


def test_two_rows_in_parallel_halve_the_time_not_the_energy():
    p = np.array([[5, -3], [-4, 5], [2, 2], [1, -3]])
    one = update_cost(p, bare(RRAM))
    two = update_cost(p, bare(RRAM, rows_parallel=2))
    # groups (rows 0-1, rows 2-3): SET max 5 + RESET max 4, then SET 2 + RESET 3
    assert two.time_ns == (5 + 4 + 2 + 3) * 10
    assert one.time_ns == (5 + 3 + 5 + 4 + 2 + 1 + 3) * 10
    same = np.array([[6, -2]] * 4)
    assert update_cost(same, bare(RRAM, rows_parallel=2)).time_ns == \
        update_cost(same, bare(RRAM)).time_ns / 2
    assert two.energy_pj == pytest.approx(one.energy_pj)


def test_a_pcm_pair_sets_the_second_device_for_a_decrease():
    p = np.array([[3, -5, 0]])
    per_device = device_pulses(p, PCM)
    assert per_device.shape == (2, 1, 3)
    assert per_device[0].tolist() == [[3, 0, 0]] and per_device[1].tolist() == [[0, 5, 0]]
    assert device_pulses(p, RRAM).tolist() == [[[3, 5, 0]]]
    pair = update_cost(p, bare(PCM))
    assert pair.time_ns == 5 * 100  # one SET phase: both devices rise together
    assert (pair.set_pulses, pair.reset_pulses) == (8, 0)
    assert pair.mean_pulses_per_device == pytest.approx(8 / 6)
    assert update_cost(p, bare(dataclasses.replace(PCM, bidirectional=True))).time_ns == 800


@pytest.mark.parametrize("device", [PCM, RRAM])
def test_no_pulse_costs_nothing(device):
    for p in (np.zeros((4, 3), dtype=int), np.zeros((0, 3), dtype=int)):
        cost = update_cost(p, AnalogWriteSpec(device=device, access_device=False))
        assert (cost.time_ns, cost.energy_pj, cost.pulses_total, cost.rows_written) == (0, 0, 0, 0)


def test_lines_charge_per_slot_and_per_pulse():
    spec = AnalogWriteSpec(device=PCM, select_ns=0.0, wl_cap_ff=0.5, bl_cap_ff=0.25)
    cost = update_cost(np.array([[2, 0, 0]]), spec, array_shape=(10, 3))
    # 2 slots: word line of 3 cells at 1.1 V; 2 pulses: a 10-cell bit line at 1.5 V
    lines = (2 * 3 * 0.5 * 1.1**2 + 2 * 10 * 0.25 * 1.5**2) * 1e-3
    assert cost.energy_pj == pytest.approx(2 * PCM_PULSE_PJ + lines)


def test_a_crosspoint_array_pays_for_its_half_selected_cells():
    """One pulse in a 3 x 3 cross-point array: the 2 other cells of the row and the 2
    of the column see V_w / 2, a quarter of the power each: the cell energy doubles."""
    p = np.zeros((3, 3), dtype=int)
    p[1, 1] = 1
    with_access = update_cost(p, bare(PCM))
    crosspoint = update_cost(p, bare(PCM, access_device=False))
    assert with_access.energy_pj == pytest.approx(PCM_PULSE_PJ)
    assert crosspoint.energy_pj == pytest.approx(2 * PCM_PULSE_PJ)


def test_tracked_conductance_follows_neurosim():
    """A device swept from g_min to g_max in ``levels`` pulses sees NeuroSim's mean
    resistance (1/G_old + 1/G_new) / 2; a saturated device stops moving."""
    spec = bare(PCM)
    full = update_cost(np.array([[PCM.levels]]), spec, g_us=PCM.g_min_us)
    g = 2 / (1 / 0.1 + 1 / 25.0)
    assert full.energy_pj == pytest.approx(PCM.levels * 1.5**2 * g * 100 * 1e-3)
    at_top = update_cost(np.array([[3]]), spec, g_us=PCM.g_max_us)
    assert at_top.energy_pj == pytest.approx(3 * 1.5**2 * 25.0 * 100 * 1e-3)
    down = update_cost(np.array([[-1]]), bare(RRAM), g_us=[[RRAM.g_max_us]])
    g_new = RRAM.g_max_us - RRAM.step_us
    g_avg = 2 / (1 / RRAM.g_max_us + 1 / g_new)
    assert down.energy_pj == pytest.approx(2.0**2 * g_avg * 10 * 1e-3)


# -- reference figures -------------------------------------------------------------------

NEUROSIM = DeviceSpec(technology="custom", levels=60, g_min_us=1e6 / 24e6, g_max_us=1e6 / 240e3,
                      pulse_ns=50.0, write_v=4.0, bidirectional=True)


def test_neurosim_defaults_write_a_subarray_in_pulses_times_50_ns():
    """NeuroSim: writeLatencyArray = totalNumWritePulse * writePulseWidth, with a SET and
    a RESET phase per row as long as the row's largest count (128 x 128, 60 levels)."""
    spec = bare(NEUROSIM)
    p = np.zeros((128, 128), dtype=int)
    p[:, 0], p[:, 1], p[:, 2] = 60, -60, 7
    cost = update_cost(p, spec)
    assert cost.time_ns == pytest.approx(128 * 120 * 50)  # 768 us
    # a pulse at NeuroSim's average case: 4 V, (1/R_on + 1/R_off) / 2, 50 ns = 1.683 pJ
    assert update_cost(np.array([[1]]), spec).energy_pj == pytest.approx(1.68333, rel=1e-5)


def test_ima_reprogramming_takes_8_2_ms_per_array():
    spec = AnalogWriteSpec()
    full = reprogram_cost(256, 256, AimcSpec(), 1e9, spec)
    assert full.time_ns == pytest.approx(8.2e6, rel=1e-3)
    assert full.cycles(1e9) == 256 * 32 * 1001  # GVSoC: 1000 ns per word, floor + 1
    assert reprogram_cost(1, 256, AimcSpec(), 1e9, spec).time_ns == pytest.approx(32e3,
                                                                                    rel=1e-3)
    assert full.energy_pj == 256 * 256 * 2 * 100.0  # a device pair at 100 pJ per access
    assert full.max_pulses_per_cell == 10 and full.devices_pulsed == 2 * 256 * 256


def test_analog_sgd_time_is_independent_of_the_array_size():
    spec = AnalogWriteSpec(device=RRAM)
    small, big = analog_sgd_cost(8, 8, spec), analog_sgd_cost(1024, 1024, spec)
    assert small.time_ns == big.time_ns == 2 * (31 * 10 + 2)
    assert big.energy_pj == pytest.approx(small.energy_pj * 128 * 128)
    assert analog_sgd_cost(8, 8, spec, pulse_trains=7).time_ns == 2 * (7 * 10 + 2)


def test_analog_sgd_pulses_are_coincidences_of_two_trains():
    cost = analog_sgd_cost(100, 50, bare(PCM), x_activity=0.5, d_activity=0.2)
    assert cost.mean_pulses_per_cell == pytest.approx(31 * 0.1)
    assert cost.max_pulses_per_cell == 31  # the largest |x| and |d| fire every slot
    assert cost.energy_pj == pytest.approx(100 * 50 * 3.1 * PCM_PULSE_PJ)
    always = analog_sgd_cost(4, 4, bare(PCM), x_activity=1.0, d_activity=1.0)
    assert always.devices_pulsed == 16 and always.pulses_total == 16 * 31


def test_mixed_precision_transfers_what_accumulates():
    spec = bare(RRAM)
    drift = mixed_precision_cost(64, 32, spec, update_ratio=0.1)
    walk = mixed_precision_cost(64, 32, spec, update_ratio=0.1, persistent=False)
    assert drift.mean_pulses_per_cell == pytest.approx(0.1)
    assert walk.mean_pulses_per_cell == pytest.approx(0.01)
    assert walk.time_ns < drift.time_ns
    assert mixed_precision_cost(64, 32, spec, update_ratio=0.0).time_ns == 0
    # every cell transfers 2.5 pulses a step: every row has a 3-pulse SET and RESET phase
    big = mixed_precision_cost(64, 32, spec, update_ratio=2.5)
    assert big.time_ns == pytest.approx(64 * 2 * 3 * 10)
    assert big.max_pulses_per_cell == 3 and big.rows_written == pytest.approx(64)
    pair = mixed_precision_cost(64, 32, bare(PCM), update_ratio=2.5)
    assert pair.time_ns == pytest.approx(64 * 3 * 100)  # a pair: one SET phase per row


# -- wear ------------------------------------------------------------------------------

def test_wear_of_a_bidirectional_device_is_endurance_over_pulses():
    w = wear(20.0, 2.0, AnalogWriteSpec(device=RRAM))
    assert (w.steps_max, w.steps_mean, w.refreshes_per_step) == (1e6 / 20, 1e6 / 2, 0)
    assert wear(0.0, 0.0, AnalogWriteSpec(device=RRAM)).steps_max == math.inf


def test_a_pcm_pair_pays_for_its_refreshes():
    """A whole-block refresh when the busiest device has taken ``levels`` pulses; each
    refresh adds 1 RESET + refresh_fill * levels / 2 SET pulses per device."""
    spec = AnalogWriteSpec(device=dataclasses.replace(PCM, levels=100), refresh_fill=0.5)
    w = wear(10.0, 1.0, spec)
    assert w.refreshes_per_step == pytest.approx(0.1)
    assert w.max_pulses_per_step == pytest.approx(10 + 0.1 * 26)
    assert w.mean_pulses_per_step == pytest.approx(1 + 0.1 * 26)
    assert w.steps_max == pytest.approx(1e9 / 12.6)


def test_a_refresh_resets_every_pair_and_reprograms_the_difference():
    spec = bare(dataclasses.replace(PCM, levels=100), refresh_fill=0.5)
    cost = refresh_cost(16, 8, spec)
    assert cost.time_ns == 16 * (1 + 100) * 100
    assert (cost.reset_pulses, cost.set_pulses) == (2 * 16 * 8, 16 * 8 * 50)
    assert cost.energy_pj == pytest.approx(cost.pulses_total * PCM_PULSE_PJ)
    assert refresh_cost(16, 8, AnalogWriteSpec(device=RRAM)).time_ns == 0


# -- properties ------------------------------------------------------------------------

SPECS = st.builds(AnalogWriteSpec, device=st.sampled_from([PCM, RRAM]),
                  rows_parallel=st.integers(1, 4), access_device=st.booleans())
COUNTS = hnp.arrays(np.int64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=6),
                    elements=st.integers(-40, 40))


@settings(max_examples=60, deadline=None)
@given(COUNTS, SPECS, st.data())
def test_more_pulses_never_take_less_time(p, spec, data):
    i = data.draw(st.integers(0, p.shape[0] - 1))
    j = data.draw(st.integers(0, p.shape[1] - 1))
    more = p.copy()
    more[i, j] += data.draw(st.integers(1, 30)) * (1 if p[i, j] >= 0 else -1)
    base, grown = update_cost(p, spec), update_cost(more, spec)
    assert grown.time_ns >= base.time_ns
    assert grown.energy_pj > base.energy_pj


@settings(max_examples=60, deadline=None)
@given(COUNTS, SPECS)
def test_energy_adds_over_rows(p, spec):
    whole = update_cost(p, spec).energy_pj
    rows = sum(update_cost(p[i:i + 1], spec, array_shape=p.shape).energy_pj
               for i in range(p.shape[0]))
    assert whole == pytest.approx(rows, rel=1e-9, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.floats(0.01, 1e3), st.floats(0, 1), st.floats(1.01, 100),
       st.sampled_from([PCM, RRAM]))
def test_wear_steps_are_inversely_proportional_to_pulses(hi, frac, scale, device):
    spec = AnalogWriteSpec(device=device)
    a, b = wear(hi, hi * frac, spec), wear(hi * scale, hi * frac * scale, spec)
    assert b.steps_max == pytest.approx(a.steps_max / scale)
    assert b.steps_mean == pytest.approx(a.steps_mean / scale)


# -- spec and bad input ----------------------------------------------------------------

def test_every_parameter_is_documented_with_a_source():
    for row in describe(AnalogWriteSpec()):
        assert row["doc"] and row["source"], row["key"]


def test_a_device_preset_is_set_by_name():
    spec = AnalogWriteSpec().with_overrides({"device": "rram", "rows_parallel": "4"})
    assert spec.device == RRAM and spec.rows_parallel == 4
    assert spec.devices_per_cell == 1 and AnalogWriteSpec().devices_per_cell == 2


@pytest.mark.parametrize("call, match", [
    (lambda s: update_cost(np.array([[1.5]]), s), "integer array"),
    (lambda s: update_cost(np.array([1, 2]), s), "2-D"),
    (lambda s: update_cost(np.array([[1]]), s, g_us=1e3), "g_us must lie"),
    (lambda s: update_cost(np.array([[1, 2]]), s, g_us=[1.0, 2.0, 3.0]), "broadcast"),
    (lambda s: update_cost(np.ones((4, 4), int), s, array_shape=(2, 8)), "array_shape"),
    (lambda s: analog_sgd_cost(8, 8, s, x_activity=0.0), "x_activity"),
    (lambda s: analog_sgd_cost(8, 8, s, pulse_trains=0), "pulse_trains"),
    (lambda s: analog_sgd_cost(0, 8, s), "rows"),
    (lambda s: mixed_precision_cost(8, 8, s, update_ratio=-1.0), "update_ratio"),
    (lambda s: wear(1.0, 2.0, s), "mean_pulses"),
    (lambda s: wear(math.nan, 0.0, s), "max_pulses"),
])
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(DesimError, match=match):
        call(AnalogWriteSpec())
