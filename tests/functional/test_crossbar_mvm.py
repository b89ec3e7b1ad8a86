"""AIMC crossbar MVM: exact when ideal, each non-ideality as configured."""

from __future__ import annotations

import numpy as np
import pytest

from desim.errors import SpecError
from desim.functional.kernels.aimc import CrossbarSpec, drift_factor, mvm, program
from desim.spec import describe

IDEAL = dict(read_noise_sigma=0.0, prog_noise_sigma=0.0, drift_nu=0.0)


def _exact_gain(spec: CrossbarSpec) -> float:
    """ADC gain at which one ADC code is one unit of x @ W (weights given as codes)."""
    return spec.rows * spec.input_full_scale * spec.weight_levels / spec.adc_levels


def test_defaults_carry_the_ima_and_hermes_figures_with_sources():
    """256 x 256, 4-bit weights, 8-bit DAC/ADC, 1.94 % MVM error; every default sourced."""
    s = CrossbarSpec()
    assert (s.rows, s.cols, s.weight_bits, s.dac_bits, s.adc_bits) == (256, 256, 4, 8, 8)
    assert s.read_noise_sigma == pytest.approx(0.0194)
    assert (s.dac_levels, s.weight_levels, s.adc_levels) == (127, 7, 127)
    assert all(row["source"] for row in describe(s))


def test_ideal_crossbar_equals_the_integer_matmul():
    """No noise, no drift, a 24-bit ADC at 1 code per unit: out == x @ W exactly."""
    rng = np.random.default_rng(0)
    spec = CrossbarSpec(adc_bits=24, **IDEAL)
    w = rng.integers(-7, 8, (256, 256))
    x = rng.integers(-127, 128, (16, 256))
    state = program(w, rng, spec, weight_scale=7, adc_gain=_exact_gain(spec))
    y = mvm(state, x, 3600.0, rng)
    np.testing.assert_array_equal(np.rint(y), x @ w)
    np.testing.assert_allclose(y, x @ w, rtol=1e-12)


def test_weight_and_dac_quantisation_closed_form():
    """Column [1, 0.5, -0.25] -> codes [7, 4, -2]; 3-bit DAC: x = 64 of 127 -> round(1.51)/3."""
    spec = CrossbarSpec(rows=3, cols=1, adc_bits=24, dac_bits=3, **IDEAL)
    state = program(np.array([[1.0], [0.5], [-0.25]]), np.random.default_rng(0), spec)
    np.testing.assert_array_equal(state.conductance[:, 0] * 7, [7, 4, -2])
    y = mvm(state, np.array([64, 0, 0]), 0.0, None)
    u = 2 / 3  # round(64 / 127 * 3) = 2 of 3 DAC levels
    assert y[0] == pytest.approx(u * 127 * 1.0, rel=1e-5)


def test_read_noise_std_matches_the_configured_sigma():
    """Output error std, as a fraction of ADC full scale, is read_noise_sigma within 10 %."""
    rng = np.random.default_rng(1)
    spec = CrossbarSpec(adc_bits=16, read_noise_sigma=0.03)
    w = rng.integers(-7, 8, (256, 256))
    x = rng.integers(-127, 128, (200, 256))
    state = program(w, rng, spec, weight_scale=7)
    clean = program(w, rng, CrossbarSpec(adc_bits=16, **IDEAL), weight_scale=7)
    err = (mvm(state, x, 0.0, rng) - mvm(clean, x, 0.0, rng)) / (state.lsb * spec.adc_levels)
    assert np.std(err) == pytest.approx(0.03, rel=0.1)
    assert abs(np.mean(err)) < 0.003


def test_programming_noise_std_matches_the_configured_sigma():
    """Error of column c = sum_r u_r * eps_rc: std = sigma_prog * |u|, drawn once per program."""
    rng = np.random.default_rng(2)
    spec = CrossbarSpec(adc_bits=20, read_noise_sigma=0.0, prog_noise_sigma=0.04)
    w = rng.integers(-7, 8, (256, 256))
    x = rng.integers(-127, 128, 256)
    u = x / 127
    ideal = program(w, rng, CrossbarSpec(adc_bits=20, **IDEAL), weight_scale=7)
    errors = []
    for _ in range(4):
        noisy = program(w, rng, spec, weight_scale=7)
        errors.append((mvm(noisy, x, 0.0, rng) - mvm(ideal, x, 0.0, rng)) / (127 * 7))
        again = mvm(noisy, x, 0.0, rng)
        np.testing.assert_array_equal(again, mvm(noisy, x, 0.0, rng))  # frozen after program
    assert np.std(errors) / np.linalg.norm(u) == pytest.approx(0.04, rel=0.1)


def test_drift_scales_outputs_by_the_power_law():
    """nu = 0.05: at t = 1000 t0 outputs shrink by 1000^-0.05 = 0.708; none before t0."""
    rng = np.random.default_rng(3)
    spec = CrossbarSpec(adc_bits=24, drift_nu=0.05, read_noise_sigma=0.0)
    state = program(rng.integers(-7, 8, (128, 64)), rng, spec, weight_scale=7)
    x = rng.integers(-127, 128, (8, 128))
    fresh = mvm(state, x, 0.0, rng)
    np.testing.assert_array_equal(mvm(state, x, spec.drift_t0_s / 2, rng), fresh)
    late = mvm(state, x, 1000 * spec.drift_t0_s, rng)
    assert drift_factor(spec, 1000 * spec.drift_t0_s) == pytest.approx(1000 ** -0.05)
    ratio = np.sum(late * fresh) / np.sum(fresh * fresh)
    assert ratio == pytest.approx(1000 ** -0.05, rel=1e-4)
    with pytest.raises(SpecError, match="t_s"):
        drift_factor(spec, -1.0)


def test_adc_clips_at_full_scale():
    """A high gain saturates large sums at +-A codes: +-127 * lsb."""
    rng = np.random.default_rng(4)
    spec = CrossbarSpec(**IDEAL)
    state = program(np.full((256, 4), 7), rng, spec, weight_scale=7, adc_gain=64.0)
    y = mvm(state, np.stack([np.full(256, 127), np.full(256, -127), np.zeros(256)]), 0.0, rng)
    np.testing.assert_array_equal(y / state.lsb, [[127] * 4, [-127] * 4, [0] * 4])


def test_bad_shapes_are_refused():
    rng = np.random.default_rng(5)
    with pytest.raises(SpecError, match="weights"):
        program(np.zeros((300, 4)), rng)
    state = program(np.ones((10, 4)), rng)
    with pytest.raises(SpecError, match="x"):
        mvm(state, np.zeros(11), 0.0, rng)
    with pytest.raises(SpecError, match="weight_scale"):
        program(np.ones((10, 4)), rng, weight_scale=0.0)
