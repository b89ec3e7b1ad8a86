"""Training with weights on crossbar devices: granularity, pulse noise, bounded range,
reprogramming, stochastic pulse trains, and the gap to digital training."""

from __future__ import annotations

import json

import numpy as np
import pytest

from desim.errors import SpecError
from desim.hw.analog_device import DeviceSpec
from desim.training.functional import train_functional
from desim.training.functional.analog import Crossbars, stochastic_pulses
from desim.training.functional.losses import Loss
from desim.training.functional.model import FloatModel
from desim.training.functional.optim import Optimizer
from desim.training.functional.train import train_step
from desim.training.options import TrainOptions
from desim.workload.builder import GraphBuilder
from desim.workload.zoo import load_zoo

FC = "fully_connected_0"


def fc_graph(n_in: int = 6, n_out: int = 4):
    b = GraphBuilder("fc", dtype="float32")
    b.fully_connected(b.input((1, n_in)), n_out)
    return b.build()


def on_devices(mode: str, levels: int = 10, noise: float = 0.0, n_in: int = 6, n_out: int = 4,
               **options):
    opts = TrainOptions(aimc_training=mode, **options)
    model = FloatModel(fc_graph(n_in, n_out), opts, seed=0)
    crossbars = Crossbars(mode, DeviceSpec(levels=levels, pulse_noise=noise), opts, model,
                          np.random.default_rng(0))
    return model, crossbars, model.layers[FC], crossbars.cells[FC].eps


def test_device_range_and_granularity_come_from_the_initial_weights():
    model = FloatModel(fc_graph(), TrainOptions(), seed=0)
    w_max = float(np.abs(model.layers[FC].w).max())
    _, crossbars, layer, eps = on_devices("mixed-precision", levels=10)
    assert crossbars.cells[FC].w_max == pytest.approx(w_max)
    assert eps == pytest.approx(w_max / 10)
    # noise-free programming puts every weight on a level
    np.testing.assert_allclose(layer.w / eps, np.rint(layer.w / eps), atol=1e-4)


def test_mixed_precision_pulses_only_whole_granules():
    """Updates below eps accumulate in chi without a pulse; the third 0.4 eps update
    crosses eps: one pulse, 0.2 eps left over."""
    model, crossbars, layer, eps = on_devices("mixed-precision")
    w0 = layer.w.copy()
    w_max = crossbars.cells[FC].w_max
    for _ in range(2):
        crossbars.mixed(layer, np.full(w0.shape, 0.4 * eps, np.float32))
        crossbars.end_step(model.layers)
        assert np.array_equal(layer.w, w0)
    crossbars.mixed(layer, np.full(w0.shape, 0.4 * eps, np.float32))
    crossbars.end_step(model.layers)
    np.testing.assert_allclose(layer.w, np.clip(w0 + eps, -w_max, w_max), atol=1e-6 * w_max)
    np.testing.assert_allclose(crossbars.cells[FC].chi, 0.2 * eps, rtol=1e-4)
    (report,) = crossbars.report()
    assert report.last.shape == (6, 4)  # crossbar rows: the inputs
    assert np.all(report.last == 1) and report.peak == 1
    assert report.max_per_step == report.mean_per_step == pytest.approx(1 / 3)


def test_mixed_precision_truncates_toward_zero():
    _, crossbars, layer, eps = on_devices("mixed-precision")
    crossbars.mixed(layer, np.full(layer.w.shape, -2.5 * eps, np.float32))
    assert np.all(crossbars.report()[0].last == -2)
    np.testing.assert_allclose(crossbars.cells[FC].chi, -0.5 * eps, rtol=1e-4)


def test_pulse_noise_spreads_each_pulse_and_the_range_bounds_the_weights():
    """Four pulses with a 0.6 cycle-to-cycle spread: mean 4 eps, std 0.6 * 2 eps."""
    _, crossbars, layer, eps = on_devices("mixed-precision", levels=1000, noise=0.6,
                                          n_in=200, n_out=100)
    w_max = crossbars.cells[FC].w_max
    w0 = layer.w.copy()
    crossbars.mixed(layer, np.full(w0.shape, 4.5 * eps, np.float32))
    moved = ((layer.w - w0) / eps)[np.abs(w0) < w_max - 20 * eps]
    assert moved.size > 15_000
    assert abs(moved.mean() - 4) < 0.05
    assert abs(moved.std() - 1.2) < 0.05
    crossbars.mixed(layer, np.full(w0.shape, 3 * w_max, np.float32))
    assert layer.w.max() == pytest.approx(w_max) and layer.w.min() >= -w_max


def test_forward_only_reprograms_every_k_steps():
    model, crossbars, layer, eps = on_devices("forward-only", levels=10, reprogram_every=3)
    copy0 = crossbars.forward_weights()[FC].copy()
    master0 = layer.w.copy()
    copies = []
    for step in range(1, 8):
        layer.w = master0 + np.float32(0.35 * eps * step)  # the optimizer's master weights
        crossbars.end_step(model.layers)
        copies.append(crossbars.forward_weights()[FC].copy())
    assert crossbars.reprogrammings == 2

    def programmed(master):
        return np.clip(np.rint(master / eps), -10, 10) * eps

    for step, copy in enumerate(copies, start=1):
        at = master0 + np.float32(0.35 * eps * (step - step % 3))
        np.testing.assert_allclose(copy, copy0 if step < 3 else programmed(at), atol=1e-6)
    levels = [np.rint(c / eps) for c in (copy0, copies[2], copies[5])]
    (report,) = crossbars.report()
    np.testing.assert_array_equal(report.last, (levels[2] - levels[1]).T)
    total = np.abs(levels[1] - levels[0]).sum() + np.abs(levels[2] - levels[1]).sum()
    assert report.mean_per_step * report.cells * 7 == pytest.approx(total)


def test_forward_only_forward_reads_the_crossbar_copy():
    """The step's loss is that of the programmed copy, not of the master weights; the
    input gradient reads the copy only with a transposed read."""
    model, crossbars, layer, _ = on_devices("forward-only", levels=4, noise=0.3)
    loss = Loss.of(model, "mse")
    rng = np.random.default_rng(1)
    feats = {model.input: rng.standard_normal((5, 6)).astype(np.float32)}
    y = rng.standard_normal((5, 4)).astype(np.float32)
    copy = crossbars.forward_weights()[FC]
    assert not np.allclose(copy, layer.w)
    expected = loss.value_and_grad(model.forward(feats, {FC: copy}), y)[0]
    assert train_step(model, loss, feats, y, Optimizer(TrainOptions()), crossbars) == expected
    assert crossbars.backward_weights() == {}
    _, transposed, _, _ = on_devices("forward-only", transposed_read=True)
    assert transposed.backward_weights().keys() == {FC}


def test_stochastic_pulses_expect_lr_x_d_over_eps():
    """Coincidences of the two trains: on average scale * |x_i d_j| pulses per update,
    SET where x_i d_j < 0 (the weight must grow), RESET where it is > 0."""
    x = np.array([0.5, -1.0, 0.25, 0.0])
    d = np.array([1.0, -0.3])
    events = 4000
    scale = 10.0  # lr / eps: 10 pulses for the largest |x d|, within 31 slots
    up, down, slots = stochastic_pulses(np.tile(x, (events, 1)), np.tile(d, (events, 1)),
                                        scale, 31, np.random.default_rng(0))
    expected = scale * np.abs(np.outer(d, x))
    assert slots == events * 10  # trains shortened to the expected largest count
    grow = np.outer(d, x) < 0
    assert np.all(up[~grow] == 0) and np.all(down[grow] == 0)
    counts = (up + down) / events
    p = expected / 10  # per-slot coincidence probability
    sigma = np.sqrt(10 * p * (1 - p) / events)
    assert np.all(np.abs(counts - expected) <= 5 * sigma + 1e-12)


def test_stochastic_pulses_clip_at_the_train_length():
    x = np.array([[0.5, -1.0, 0.25]])
    d = np.array([[1.0, -0.3]])
    up, down, slots = stochastic_pulses(x, d, 100.0, 31, np.random.default_rng(0))
    assert slots == 31
    assert (up + down).max() <= 31 and up[0, 1] == 31  # both trains fire every slot
    none = stochastic_pulses(np.zeros((2, 3)), d.repeat(2, axis=0), 100.0, 31,
                             np.random.default_rng(0))
    assert not none[0].any() and not none[1].any() and none[2] == 0


def test_analog_sgd_applies_the_pulses_it_counts():
    model, crossbars, layer, eps = on_devices("analog-sgd", levels=50)
    w0 = layer.w.copy()
    rng = np.random.default_rng(2)
    rows = (rng.standard_normal((3, 6)), rng.standard_normal((3, 4)))
    crossbars.analog_sgd(layer, rows)
    (report,) = crossbars.report()
    moved = np.rint((layer.w - w0) / eps).T
    w_max = crossbars.cells[FC].w_max
    inside = (np.abs(w0.T) < w_max - 40 * eps)
    np.testing.assert_array_equal(moved[inside], report.last[inside])
    assert report.slots_per_step > 0


def test_optimizers_the_array_cannot_run_are_refused():
    with pytest.raises(SpecError, match="--optimizer sgd"):
        on_devices("analog-sgd", optimizer="adam")
    with pytest.raises(SpecError, match="--weight-decay 0"):
        on_devices("analog-sgd", weight_decay=0.1)
    b = GraphBuilder("dw", dtype="float32")
    x = b.depthwise_conv2d(b.input((1, 4, 4, 2)), 3)
    b.fully_connected(b.flatten(x), 2)
    with pytest.raises(SpecError, match="no trained layer is a conv2d or fully_connected"):
        train_functional(b.build(), TrainOptions(trainable="depthwise_conv2d_0",
                                                 aimc_training="mixed-precision"), steps=1)


@pytest.mark.parametrize("mode", ["forward-only", "mixed-precision", "analog-sgd"])
def test_aimc_runs_report_the_gap_to_the_same_digital_run(mode):
    g = load_zoo("dscnn")
    opts = TrainOptions(trainable="last:1", batch=8, lr=0.1, aimc_training=mode,
                        reprogram_every=2)
    r = train_functional(g, opts, steps=40)
    digital = train_functional(g, TrainOptions(trainable="last:1", batch=8, lr=0.1),
                               steps=40)
    assert r.digital is not None and r.digital.losses == digital.losses
    assert r.loss_gap == r.test_loss - digital.test_loss
    assert r.accuracy_gap == digital.accuracy - r.accuracy
    assert r.losses != digital.losses  # the devices changed the run
    (pulses,) = r.pulses
    assert pulses.name == "fully_connected_0" and pulses.cells == 64 * 12
    assert pulses.max_per_step >= pulses.mean_per_step > 0
    assert r.reprogrammings == (20 if mode == "forward-only" else 0)
    doc = json.loads(json.dumps(r.to_dict()))
    assert doc["pulses"]["fully_connected_0"]["cells"] == 768


def test_coarser_noisier_devices_widen_the_gap():
    g = load_zoo("dscnn")
    opts = TrainOptions(trainable="last:1", batch=8, lr=0.1, aimc_training="mixed-precision")
    gaps = [train_functional(g, opts, steps=300, device=DeviceSpec(levels=lv, pulse_noise=nz)
                             ).loss_gap for lv, nz in ((1_000_000, 0.0), (8, 1.0))]
    assert gaps[1] > 5 * gaps[0]
