"""Functional mode on imc_cluster: AIMC layers against the digital (bit-exact) result.

ResNet-8's AIMC layers include matrices of K = 288 and 576 rows, cut into 2 and 3 row
blocks on 256-row crossbars, whose partial sums the cluster accumulates.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from desim.driver import elaborate, simulate
from desim.functional.analog import AnalogModel
from desim.functional.kernels.aimc import CrossbarSpec
from desim.functional.mode import Functional, random_inputs
from desim.functional.ops import full_region, run_graph
from desim.workload import load_workload

#: exact cells and DAC: 8-bit weights are their own levels, 9-bit DAC codes cover x - zp
EXACT_CELLS = {"aimc.weight_bits": "8", "aimc.dac_bits": "9"}


def _run(graph, overrides=None, tweak=None, seed=0):
    """Run ``graph`` on imc_cluster functionally; ``tweak(fn, schedule)`` may replace or
    wrap the crossbars' model first. Returns the SoC, the schedule and the Functional."""
    _, sim, _, soc = elaborate("imc_cluster", overrides or {}, seed, False)
    schedule = soc.map(graph)
    fn = Functional(graph, schedule, random_inputs(graph, seed))
    fn.attach(soc.engines.values(), schedule, seed)
    if tweak is not None:
        tweak(fn, schedule)
    sim.process(soc.execute(schedule, fn), "main")
    sim.run()
    return soc, schedule, fn


def _blocks(schedule):
    return {x.name: x.payload.blocks for x in schedule.layers if x.engine == "aimc"}


@pytest.fixture(scope="module")
def resnet8():
    return load_workload("resnet8").with_random_weights(0)


@pytest.fixture(scope="module")
def resnet8_file(resnet8, tmp_path_factory):
    """ResNet-8 with its random weights as a workload file: the weights stay fixed."""
    return str(resnet8.save(tmp_path_factory.mktemp("graph") / "resnet8.json", weights=True))


def test_ideal_crossbars_equal_the_digital_result_bit_for_bit(resnet8):
    """No noise, 8-bit cells, 9-bit DAC, a 24-bit ADC over the full column range
    (adc_gain 1): an ADC LSB is 256 * 255 * 127 / (2^23 - 1) = 0.988 < 1 accumulator
    units, so each block rounds to its exact partial sum and every tensor equals the
    digital graph's."""
    ideal = CrossbarSpec(weight_bits=8, dac_bits=9, adc_bits=24, read_noise_sigma=0.0)
    def ideal_model(fn, schedule):
        fn.models["aimc"] = AnalogModel(fn, _blocks(schedule), ideal)

    soc, schedule, fn = _run(resnet8, tweak=ideal_model)
    assert max(x.payload.row_blocks for x in schedule.layers if x.engine == "aimc") == 3
    assert len(fn.models["aimc"].layers) == 10
    digital = run_graph(fn.compute, fn.order, dict(fn.inputs))
    for name, value in digital.items():
        np.testing.assert_array_equal(fn.values[name], value, err_msg=name)


def test_a_coarse_adc_errs_by_at_most_half_an_lsb_per_row_block(resnet8):
    """Noise off, exact cells and DAC, a 12-bit ADC over 32 products: each block's sum is
    off by at most half an LSB, FS / A * x_fs * s_c = 32 / 2047 * 255 * 127 = 506
    accumulator units, plus the rounding to an integer; through the requantisation
    (multiplier M_c) an output differs from the digital layer fed the same input by at
    most M_c * row_blocks * (LSB / 2 + 1/2) + 1 codes."""
    soc, schedule, fn = _run(resnet8, {**EXACT_CELLS, "aimc.adc_bits": "12",
                                       "analog.adc_full_scale": "32",
                                       "analog.read_noise_sigma": "0"})
    worst = 0
    for layer in schedule.layers:
        if layer.engine != "aimc":
            continue
        analog, op = fn.models["aimc"].layers[layer.name], fn.ops[layer.name]
        spec = analog.spec
        lsb = 32 / spec.adc_levels * spec.input_full_scale * spec.weight_levels
        assert lsb == pytest.approx(506.2, abs=0.1)
        st = analog.stage
        m = st.multiplier * np.exp2(st.shift.astype(float) - 31)
        bound = np.floor(m * layer.payload.row_blocks * (lsb / 2 + 0.5)) + 1
        got = fn.values[op.output.name].astype(int)
        want = np.asarray(fn.compute[layer.name](fn.values, full_region(op)),
                          int).reshape(got.shape)
        diff = np.abs(got - want).reshape(-1, got.shape[-1])
        assert np.all(diff <= bound), layer.name
        worst = max(worst, int(diff.max()))
    assert worst >= 1  # the ADC does show


def _layer0_snr(path, **analog):
    """SNR (dB) of the first AIMC layer, whose input is the same in every run."""
    overrides = {**EXACT_CELLS, **{f"analog.{k}": str(v) for k, v in analog.items()}}
    r = simulate("imc_cluster", path, trace=False, functional=True, overrides=overrides)
    return r.functional["layer_snr_db"]["conv2d_0"]


def test_snr_is_finite_and_falls_as_read_noise_grows(resnet8_file):
    """Read noise quadrupled (0.5 %, 2 %, 8 % of full scale) costs the first AIMC layer
    about 12 dB each time, once it dominates the 8-bit ADC's 0.23 % rounding."""
    snr = [_layer0_snr(resnet8_file, read_noise_sigma=s) for s in (0.005, 0.02, 0.08)]
    assert all(s is not None and math.isfinite(s) for s in snr)
    assert snr[0] - snr[1] > 8 and snr[1] - snr[2] > 10


def test_programming_noise_and_drift_lower_the_snr(resnet8_file):
    base = _layer0_snr(resnet8_file, read_noise_sigma=0.0)
    assert _layer0_snr(resnet8_file, read_noise_sigma=0.0, prog_noise_sigma=0.05) < base - 10
    drifted = _layer0_snr(resnet8_file, read_noise_sigma=0.0, drift_nu=0.05,
                          weights_age_s=86400)
    assert drifted < base - 10  # (86400 / 20)^-0.05 = 0.66: every output 34 % small


def test_summary_reports_agreement_and_is_deterministic(resnet8, resnet8_file):
    """Same seed, same tensors and summary; another seed changes only the noise when the
    weights and the input are fixed."""
    path = resnet8_file
    x = random_inputs(resnet8, 0)["input"]
    runs = [simulate("imc_cluster", path, seed=s, trace=False, inputs=x)
            for s in (1, 1, 2)]
    a, b, c = (r.functional for r in runs)
    assert isinstance(a["top1_agreement"], bool) and isinstance(a["snr_db"], float)
    assert set(a["layer_snr_db"]) == {f"conv2d_{i}" for i in range(9)} | {
        "fully_connected_0"}
    assert a == b and np.array_equal(runs[0].outputs[0], runs[1].outputs[0])
    assert a["layer_snr_db"] != c["layer_snr_db"]
    digital = simulate("pulp_cluster", path, seed=2, trace=False, inputs=x)
    assert "snr_db" not in digital.functional


def test_programming_noise_is_drawn_once_per_programming(resnet8):
    """On one crossbar with 50 ns writes the layers are reprogrammed group by group: one
    payload (one draw of programming noise) per ProgramJob; pinned weights get one per
    block."""
    calls = []

    def counting(fn, schedule):
        model = fn.models["aimc"]
        weights = model.block_weights
        model.block_weights = lambda block, xbar: calls.append(block.tag) or weights(block,
                                                                                      xbar)

    soc, _, _ = _run(resnet8, {"aimc.n_crossbars": "1", "aimc.program_write_ns": "50",
                               "analog.prog_noise_sigma": "0.02"}, counting)
    assert len(calls) == soc.aimc.counters["programs"] == len(set(calls))
    calls.clear()
    soc, schedule, _ = _run(resnet8, {"analog.prog_noise_sigma": "0.02"}, counting)
    assert len(calls) == sum(len(b) for b in _blocks(schedule).values())


def test_read_noise_is_drawn_per_mvm(resnet8):
    """Two identical input vectors give different column outputs with read noise, the same
    without."""
    soc, schedule, fn = _run(resnet8)
    layer = next(layer for layer in schedule.layers if layer.engine == "aimc")
    analog = fn.models["aimc"].layers[layer.name]
    block = layer.payload.blocks[0]
    state = analog.program(block, np.random.default_rng(0))
    x = np.repeat(np.arange(block.rows)[None, :] % 50, 2, axis=0)
    cols = slice(0, block.cols)
    noisy = analog.partial(state, x, cols, 0.0, np.random.default_rng(1))
    assert not np.array_equal(noisy[0], noisy[1])
    state = dataclasses.replace(state, spec=dataclasses.replace(analog.spec,
                                                                read_noise_sigma=0.0))
    same = analog.partial(state, x, cols, 0.0, np.random.default_rng(1))
    np.testing.assert_array_equal(same[0], same[1])
