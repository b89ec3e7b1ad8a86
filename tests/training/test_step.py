"""The training step: PULP-TrainLib's primitives and shapes, skips, options, memory."""

from __future__ import annotations

import pytest

from desim.errors import SpecError
from desim.training.options import TrainOptions
from desim.training.step import build_step
from desim.workload.builder import GraphBuilder
from desim.workload.graph import Graph
from desim.workload.op import Op, OpKind
from desim.workload.tensor import Tensor
from desim.workload.zoo import load_zoo


def _by_name(step):
    return {p.name: p for p in step.primitives}


def _conv_net(stride: int = 2):
    """input 8x8x4 -> conv 3x3 (stride) 8 ch -> fc 10 -> softmax."""
    b = GraphBuilder("tiny")
    x = b.input((1, 8, 8, 4))
    y = b.conv2d(x, 8, 3, stride=stride, padding="same", activation="relu")
    y = b.reshape(y, (1, y.size))
    y = b.fully_connected(y, 10)
    b.softmax(y)
    return b.build()


def test_conv_primitives_have_the_librarys_matrix_shapes():
    g = _conv_net(stride=1)
    conv = g.ops[0]
    step = build_step(g, TrainOptions(trainable="all"))
    p = _by_name(step)
    # forward (C_out, Kh Kw C_in, H_out W_out) with an im2row of the input
    f = p[f"{conv.name}.forward"]
    assert (f.n, f.k, f.m) == (8, 9 * 4, 64) and f.copies == 9 * 4 * 64
    # weight gradient (C_out, H_out W_out, Kh Kw C_in)
    w = p[f"{conv.name}.weight_grad"]
    assert (w.n, w.k, w.m) == (8, 64, 36)
    # the first layer needs no input gradient
    assert f"{conv.name}.input_grad" not in p
    fc = g.ops[2]
    assert (p[f"{fc.name}.weight_grad"].k) == 1  # an outer product
    ig = p[f"{fc.name}.input_grad"]
    assert (ig.n, ig.k, ig.m, ig.axis) == (1, 10, 512, "m")


def test_full_convolution_of_the_input_gradient_executes_more_macs_than_the_forward():
    # ResNet-8's strided 3x3 convolutions: the input gradient runs over H_in x W_in, four
    # times the output pixels, the padding zeros included
    g = load_zoo("resnet8")
    step = build_step(g, TrainOptions())
    strided = [op for op in g.ops if op.kind == "conv2d" and op.stride == (2, 2)
               and op.kernel == (3, 3)]
    assert strided
    p = _by_name(step)
    for op in strided:
        ig = p[f"{op.name}.input_grad"]
        assert ig.algorithmic_macs == op.macs
        assert ig.macs == 4 * op.macs
        ci, kh, kw, co = op.input.shape[3], 3, 3, op.output.shape[3]
        assert (ig.n, ig.k, ig.m) == (ci, kh * kw * co, op.input.shape[1] * op.input.shape[2])
    assert step.macs > step.algorithmic_macs


def test_frozen_prefix_needs_no_input_gradient_and_frozen_layers_no_weight_gradient():
    g = load_zoo("dscnn")
    step = build_step(g, TrainOptions(trainable="last:2"))
    trained = set(step.trained)
    assert trained == {"conv2d_4", "fully_connected_0"}
    names = {p.name for p in step.primitives}
    assert not {n for n in names if n.startswith("conv2d_3.")} - {"conv2d_3.forward",
                                                                  "conv2d_3.activation"}
    assert "conv2d_4.input_grad" not in names  # the first trained layer
    assert "conv2d_4.activation_grad" in names  # its weight gradient needs the ReLU mask
    assert "conv2d_4.weight_grad" in names
    # a frozen layer between trained ones passes gradients but gets no weight gradient
    mid = build_step(g, TrainOptions(trainable="conv2d_3,fully_connected_0"))
    phases = {(p.layer, p.phase) for p in mid.primitives}
    assert ("conv2d_4", "backward_input") in phases
    assert ("conv2d_4", "backward_weight") not in phases


@pytest.mark.parametrize("optimizer, tensors", [("sgd", 0), ("momentum", 1), ("adam", 2)])
def test_optimizer_state_is_counted_per_trained_weight(optimizer, tensors):
    g = load_zoo("dscnn")
    step = build_step(g, TrainOptions(optimizer=optimizer, trainable="last:1"))
    fc = g.op("fully_connected_0")
    assert step.footprint().get("optimizer_state", 0) == tensors * fc.params * 4


def test_fp16_halves_every_tensor():
    g = load_zoo("dscnn")
    fp32 = build_step(g, TrainOptions()).footprint()
    fp16 = build_step(g, TrainOptions(dtype="fp16")).footprint()
    assert {k: 2 * v for k, v in fp16.items()} == fp32


def test_batch_repeats_forward_and_backward_and_updates_once():
    g = load_zoo("dscnn")
    one, four = (build_step(g, TrainOptions(batch=b)) for b in (1, 4))
    fwd = [sum(p.macs for p in s.primitives if p.phase == "forward") for s in (one, four)]
    assert fwd[1] == 4 * fwd[0]
    updates = [sum(1 for p in s.primitives if p.phase == "update") for s in (one, four)]
    assert updates[0] == updates[1] == len(one.trained)


def test_replayed_samples_skip_the_frozen_prefix():
    g = load_zoo("dscnn")
    step = build_step(g, TrainOptions(trainable="last:1", batch=3, replay=100))
    fwd = [p for p in step.primitives if p.phase == "forward"]
    assert sum(1 for p in fwd if p.name == "conv2d_0.forward") == 1  # only the new sample
    assert sum(1 for p in fwd if p.name == "fully_connected_0.forward") == 3
    latent = g.op("fully_connected_0").input
    assert step.footprint()["replay"] == 100 * latent.size * 4


def test_options_are_checked_with_the_flag_and_the_fix():
    g = load_zoo("dscnn")
    with pytest.raises(SpecError, match="--trainable: no weighted layer named nope"):
        TrainOptions(trainable="nope").trained_layers(g)
    with pytest.raises(SpecError, match=r"--trainable last:99: N must be an integer in \[1, 10\]"):
        TrainOptions(trainable="last:99").trained_layers(g)
    with pytest.raises(SpecError, match="--optimizer 'rmsprop' is not supported"):
        TrainOptions(optimizer="rmsprop")
    with pytest.raises(SpecError, match="--batch must be an integer"):
        TrainOptions(batch=0)
    with pytest.raises(SpecError, match="--lr must be a finite number"):
        TrainOptions(lr=float("nan"))


def test_gradients_pass_straight_through_quantisation():
    # an int8 model's trailing dequantize and quantize are taken as the identity
    # (quantisation-aware training's straight-through estimator): a conversion pass each
    x = Tensor("x", (1, 16), "int8")
    w1, w2 = (Tensor(f"w{i}", (n, 16 if i == 1 else 8), "int8", const=True)
              for i, n in ((1, 8), (2, 4)))
    h = Tensor("h", (1, 8), "int8")
    f, q = Tensor("f", (1, 8), "float32"), Tensor("q", (1, 8), "int8")
    y = Tensor("y", (1, 4), "int8")
    g = Graph("quantized", (Op("fc1", OpKind.FULLY_CONNECTED, (x,), h, w1),
                            Op("dq", OpKind.DEQUANTIZE, (h,), f),
                            Op("q", OpKind.QUANTIZE, (f,), q),
                            Op("fc2", OpKind.FULLY_CONNECTED, (q,), y, w2)), (x,), (y,))
    p = _by_name(build_step(g, TrainOptions()))
    assert p["q.input_grad"].job == p["dq.input_grad"].job == "convert"
    assert "fc1.weight_grad" in p


def test_analog_sgd_updates_in_the_array_per_sample():
    g = load_zoo("dscnn")
    analog = frozenset({"conv2d_1", "fully_connected_0"})
    step = build_step(g, TrainOptions(aimc_training="analog-sgd", batch=2), analog)
    p = [x for x in step.primitives if x.layer == "conv2d_1"]
    assert not [x for x in p if x.phase == "backward_weight"]
    assert sum(1 for x in p if x.job == "aimc_write") == 2
    assert any(x.job == "aimc_forward" for x in p)
    mixed = build_step(g, TrainOptions(aimc_training="mixed-precision"), analog)
    assert "chi" in mixed.footprint()
    assert any(x.job == "aimc_write" and x.phase == "aimc_write" for x in mixed.primitives)
