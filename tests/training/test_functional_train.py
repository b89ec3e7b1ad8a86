"""Functional training: learning on the generated tasks, frozen layers, gradient
accumulation, optimizer state, training precisions, data checks."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from desim.errors import SpecError
from desim.training.functional import load_data, train_functional
from desim.training.functional.losses import Loss
from desim.training.functional.model import FloatModel
from desim.training.functional.optim import Optimizer
from desim.training.functional.precision import rounder
from desim.training.functional.train import train_step
from desim.training.options import TrainOptions
from desim.workload.builder import GraphBuilder
from desim.workload.zoo import load_zoo


def small_classifier(classes: int = 4):
    b = GraphBuilder("small", dtype="float32")
    x = b.input((1, 6, 6, 2))
    x = b.conv2d(x, 4, 3, stride=2, activation="relu")
    x = b.depthwise_conv2d(x, 3, activation="relu")
    x = b.conv2d(x, 6, 1, activation="relu")
    x = b.fully_connected(b.flatten(b.global_avg_pool(x)), classes)
    return b.build([b.softmax(x)])


def rand(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


# -- learning -------------------------------------------------------------------------

def test_autoencoder_learns_to_reconstruct():
    """All ten layers trained: the held-out error falls below 0.8, where predicting the
    mean of the unit-variance signals scores about 1."""
    r = train_functional(load_zoo("autoencoder"),
                         TrainOptions(optimizer="adam", lr=1e-3, batch=8), steps=300)
    assert r.loss == "mse" and r.accuracy is None and r.metric_name == "loss"
    assert r.test_loss < 0.8 < r.test_loss_before
    assert np.mean(r.losses[-20:]) < 0.6 * np.mean(r.losses[:20])


def test_dscnn_last_layer_adaptation_learns():
    """Only the classifier trained on the frozen backbone's features: well above the
    chance accuracy of 1/12, and a loss below that of a uniform guess (ln 12)."""
    r = train_functional(load_zoo("dscnn"), TrainOptions(trainable="last:1", batch=8,
                                                         optimizer="momentum", lr=0.05),
                         steps=1000)
    assert r.trained_layers == ("fully_connected_0",)
    assert r.loss == "cross_entropy" and r.metric_name == "accuracy"
    assert r.accuracy_before < 0.2 and r.accuracy > 0.6
    assert r.test_loss < math.log(12) < r.test_loss_before
    json.dumps(r.to_dict())


def test_pretrained_tflite_keyword_spotter_adapts_its_last_layer(shared_dir):
    """The MLPerf Tiny DS-CNN with its trained int8 weights (dequantised): its features
    separate the generated classes well, so the retrained classifier nearly always wins."""
    from desim.workload import load_model_file

    path = shared_dir / "models" / "mlperf_tiny" / "kws_ref_model.tflite"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    r = train_functional(load_model_file(path), TrainOptions(
        trainable="last:1", batch=8, optimizer="momentum", lr=0.05), steps=300)
    assert r.accuracy > 0.9 > r.accuracy_before


def test_weights_are_the_graphs_dequantised():
    graph = load_zoo("dscnn").with_random_weights(1)
    model = FloatModel(graph, TrainOptions())
    op = graph.op("conv2d_0")
    q = op.weights.quant
    assert q.axis == 0 and len(q.scale) == 64
    np.testing.assert_allclose(model.layers["conv2d_0"].w,
                               np.asarray(q.scale)[:, None, None, None] * op.weights.data,
                               rtol=1e-6)
    np.testing.assert_allclose(model.layers["conv2d_0"].b,
                               np.asarray(op.bias.quant.scale) * op.bias.data, rtol=1e-6)
    b = GraphBuilder("float", dtype="float32")  # a float graph: its weights as they are
    b.fully_connected(b.input((1, 4)), 2)
    g = b.build().with_random_weights(0)
    np.testing.assert_array_equal(FloatModel(g, TrainOptions()).layers["fully_connected_0"].w,
                                  g.op("fully_connected_0").weights.data)


def test_regression_onto_a_perturbed_teacher_learns():
    """MSE on a graph whose output is not its input: targets of a teacher network."""
    r = train_functional(small_classifier(), TrainOptions(loss="mse", optimizer="adam",
                                                          lr=1e-2, batch=8), steps=200)
    assert "perturbed" in r.task
    assert r.test_loss < 0.5 * r.test_loss_before


def test_runs_are_deterministic_from_the_seed():
    g, opts = small_classifier(), TrainOptions(batch=4)
    a, b = (train_functional(g, opts, steps=20, seed=5) for _ in range(2))
    c = train_functional(g, opts, steps=20, seed=6)
    assert a.losses == b.losses and a.test_loss == b.test_loss
    assert a.losses != c.losses


def test_progress_is_called_after_each_step():
    calls = []
    train_functional(small_classifier(), TrainOptions(), steps=5,
                     progress=lambda done, total: calls.append((done, total)))
    assert calls == [(i, 5) for i in range(1, 6)]


# -- steps ------------------------------------------------------------------------------

def _step_setup(options: TrainOptions, seed: int = 0):
    model = FloatModel(small_classifier(), options, seed=seed)
    rng = np.random.default_rng(seed)
    feats = model.features(rand(rng, 6, 6, 6, 2))
    return model, Loss.of(model, "cross_entropy"), feats, np.array([0, 1, 2, 3, 1, 0])


def test_frozen_layers_do_not_change():
    options = TrainOptions(trainable="conv2d_1,fully_connected_0", optimizer="adam", lr=0.1)
    model, loss, feats, y = _step_setup(options)
    before = {n: (lay.w.copy(), lay.b.copy()) for n, lay in model.layers.items()}
    opt = Optimizer(options)
    for _ in range(3):
        train_step(model, loss, feats, y, opt)
    for name, (w, b) in before.items():
        layer = model.layers[name]
        frozen = name not in options.trained_layers(model.graph)
        assert np.array_equal(layer.w, w) == frozen, name
        assert np.array_equal(layer.b, b) == frozen, name


def test_a_batch_step_applies_the_mean_of_the_samples_gradients():
    options = TrainOptions(lr=0.5)
    model, loss, feats, y = _step_setup(options)
    per_sample = []
    for i in range(len(y)):
        one = {k: v[i:i + 1] for k, v in feats.items()}
        values = model.forward(one)
        per_sample.append(model.backward(values, loss.value_and_grad(values, y[i:i + 1])[1]))
    expected = {n: model.layers[n].w - 0.5 * np.mean([g[n].weights for g in per_sample], axis=0)
                for n in model.layers}
    train_step(model, loss, feats, y, Optimizer(options))
    for name, w in expected.items():
        np.testing.assert_allclose(model.layers[name].w, w, rtol=1e-5, atol=1e-6)


def test_sgd_weight_decay_shrinks_geometrically():
    opt = Optimizer(TrainOptions(lr=0.1, weight_decay=0.5))
    w = np.array([2.0, -4.0], np.float32)
    for _ in range(3):
        w = w + opt.step("w", w, np.zeros(2, np.float32))
    np.testing.assert_allclose(w, [2.0 * 0.95**3, -4.0 * 0.95**3], rtol=1e-6)


def test_momentum_under_a_constant_gradient():
    """Velocity after k steps is g (1 - mu^k) / (1 - mu): a geometric sum."""
    mu, lr, g = 0.9, 0.01, np.array([1.0, -3.0], np.float32)
    opt = Optimizer(TrainOptions(optimizer="momentum", lr=lr, momentum=mu))
    steps = [opt.step("w", np.zeros(2, np.float32), g) for _ in range(4)]
    for k, dw in enumerate(steps, start=1):
        np.testing.assert_allclose(dw, -lr * g * (1 - mu**k) / (1 - mu), rtol=1e-6)
    assert opt.step("other", np.zeros(2, np.float32), g)[0] == pytest.approx(-lr)  # own state


def test_adam_steps_by_lr_whatever_the_gradient_scale():
    """With bias correction, a constant gradient moves each weight by lr * |g| / (|g| +
    eps) per step: lr, independent of the gradient's scale."""
    opt = Optimizer(TrainOptions(optimizer="adam", lr=0.01))
    g = np.array([1e-3, -5.0, 200.0], np.float32)
    for _ in range(3):
        np.testing.assert_allclose(opt.step("w", np.zeros(3, np.float32), g),
                                   [-0.01, 0.01, -0.01], rtol=1e-4)


# -- precisions ------------------------------------------------------------------------

def test_bf16_truncates_and_fp16_rounds():
    bf16, fp16 = rounder("bf16"), rounder("fp16")
    v = np.array([1 + 2**-7, 1 + 2**-8, 1 + 2**-7 + 2**-8, -(2 - 2**-10)], np.float32)
    assert list(bf16(v)) == [1 + 2**-7, 1.0, 1 + 2**-7, -(2 - 2**-7)]
    w = np.array([1 + 2**-11, 1 + 3 * 2**-11, 70000.0], np.float32)
    assert list(fp16(w)) == [1.0, 1 + 2**-9, np.inf]


@pytest.mark.parametrize("dtype, kept", [("fp16", np.float16), ("bf16", None)])
def test_reduced_precision_keeps_weights_and_activations_at_that_precision(dtype, kept):
    options = TrainOptions(dtype=dtype, lr=0.1)
    model, loss, feats, y = _step_setup(options)
    opt = Optimizer(options)
    for _ in range(2):
        train_step(model, loss, feats, y, opt)
    values = model.forward(feats)

    def representable(a):
        if kept is not None:
            return np.array_equal(a, a.astype(kept).astype(np.float32))
        return not np.any(a.view(np.uint32) & 0xFFFF)

    assert all(representable(lay.w) and representable(lay.b) for lay in model.layers.values())
    assert all(representable(v) for v in values.values())


# -- data -------------------------------------------------------------------------------

def test_user_data_trains_and_a_fifth_is_held_out():
    rng = np.random.default_rng(0)
    x = rand(rng, 40, 6, 6, 2)
    y = rng.integers(0, 4, 40)
    r = train_functional(small_classifier(), TrainOptions(batch=4), steps=3, data=(x, y))
    assert r.task == "40 samples given"
    assert r.accuracy is not None and r.accuracy * 8 == round(r.accuracy * 8)  # 8 held out


def test_reconstruction_data_needs_no_targets():
    x = np.random.default_rng(0).standard_normal((10, 640)).astype(np.float32)
    r = train_functional(load_zoo("autoencoder"), TrainOptions(), steps=2, data=(x, None))
    assert len(r.losses) == 2


BAD_DATA = {
    "wrong input shape": (np.zeros((5, 6, 6)), np.zeros(5, int), "data x: shape (5, 6, 6)"),
    "NaN": (np.full((5, 6, 6, 2), np.nan), np.zeros(5, int), "data x: NaN"),
    "object dtype": (np.array([None] * 5, dtype=object), np.zeros(5, int), "not numeric"),
    "labels out of range": (np.zeros((5, 6, 6, 2)), np.array([0, 1, 2, 3, 4]),
                            "labels must lie in [0, 3]"),
    "float labels": (np.zeros((5, 6, 6, 2)), np.zeros(5), "integer class labels"),
    "no labels": (np.zeros((5, 6, 6, 2)), None, "data y: missing"),
    "one sample": (np.zeros((1, 6, 6, 2)), np.zeros(1, int), "at least 2"),
}


@pytest.mark.parametrize("x, y, message", BAD_DATA.values(), ids=BAD_DATA.keys())
def test_bad_data_is_refused_with_the_array_and_the_fix(x, y, message):
    with pytest.raises(SpecError, match="data") as err:
        train_functional(small_classifier(), TrainOptions(), steps=1, data=(x, y))
    assert message in str(err.value)


def test_load_data_reads_npz_and_refuses_pickles(tmp_path):
    good = tmp_path / "good.npz"
    np.savez(good, x=np.ones((3, 2), np.float32), y=np.arange(3))
    x, y = load_data(good)
    assert x.shape == (3, 2) and list(y) == [0, 1, 2]
    np.savez(tmp_path / "nox.npz", inputs=np.ones(3))
    np.savez(tmp_path / "obj.npz", x=np.array([{"a": 1}], dtype=object))
    np.save(tmp_path / "one.npy", np.ones(3))
    for name, message in (("missing.npz", "no such file"), ("nox.npz", "no array 'x'"),
                          ("obj.npz", "cannot read it as numeric arrays"),
                          ("one.npy", "not a .npz archive")):
        with pytest.raises(SpecError, match="--data") as err:
            load_data(tmp_path / name)
        assert message in str(err.value) and "np.savez" in str(err.value)


# -- refused workloads and runs -----------------------------------------------------------

def test_graphs_training_cannot_take_are_refused():
    b = GraphBuilder("batch2", dtype="float32")
    b.fully_connected(b.input((2, 6)), 3)
    with pytest.raises(SpecError, match="batch 1"):
        train_functional(b.build(), TrainOptions(), steps=1)
    b = GraphBuilder("spatial", dtype="float32")
    b.conv2d(b.input((1, 4, 4, 2)), 3, 1)
    with pytest.raises(SpecError, match="one row of class scores"):
        train_functional(b.build(), TrainOptions(loss="cross_entropy"), steps=1)
    with pytest.raises(SpecError, match="--steps"):
        train_functional(small_classifier(), TrainOptions(), steps=0)


def test_divergence_names_the_learning_rate():
    with pytest.raises(SpecError, match="lower --lr"):
        train_functional(load_zoo("autoencoder"), TrainOptions(lr=1e6), steps=50)
