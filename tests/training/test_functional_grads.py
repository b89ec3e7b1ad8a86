"""Gradients of the functional-training ops against an independent numpy reference
(sliding windows and einsum, float64) and central finite differences of that reference."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from desim.training.functional import ops
from desim.training.functional.losses import Loss
from desim.training.functional.model import FloatModel
from desim.training.options import TrainOptions
from desim.workload.builder import GraphBuilder
from desim.workload.op import Op, OpKind
from desim.workload.shapes import Padding, window_output
from desim.workload.tensor import Tensor


def make_op(kind: OpKind, x_shape, out_c, kernel=(1, 1), stride=(1, 1), dilation=(1, 1),
            pads=(0, 0, 0, 0), w_shape=None, activation="none") -> Op:
    n, h, w, _ = x_shape
    ho = window_output(h, kernel[0], stride[0], pads[0], pads[1], dilation[0])
    wo = window_output(w, kernel[1], stride[1], pads[2], pads[3], dilation[1])
    weights = bias = None
    if w_shape is not None:
        weights = Tensor("w", w_shape, "float32", const=True)
        bias = Tensor("b", (out_c,), "float32", const=True)
    return Op("op", kind, (Tensor("x", x_shape, "float32"),),
              Tensor("y", (n, ho, wo, out_c), "float32"), weights, bias, kernel, stride,
              dilation, Padding(*pads), activation)


# -- the reference: float64 numpy, written from the definitions ---------------------------

def windows(x, op: Op, fill=0.0):
    """``(N, Ho, Wo, C, Kh, Kw)`` input windows of a windowed op (padding = ``fill``)."""
    p = op.padding
    xp = np.pad(x.astype(np.float64), ((0, 0), (p.top, p.bottom), (p.left, p.right), (0, 0)),
                constant_values=fill)
    span = [(k - 1) * d + 1 for k, d in zip(op.kernel, op.dilation, strict=True)]
    win = sliding_window_view(xp, span, axis=(1, 2))
    return win[:, ::op.stride[0], ::op.stride[1], :, ::op.dilation[0], ::op.dilation[1]]


def unwindow(dwin, x_shape, op: Op):
    """The transpose of :func:`windows`: add window gradients back onto the input."""
    p = op.padding
    n, h, w, c = x_shape
    dxp = np.zeros((n, h + p.top + p.bottom, w + p.left + p.right, c))
    ho, wo = dwin.shape[1:3]
    for a in range(op.kernel[0]):
        for b in range(op.kernel[1]):
            r0, c0 = a * op.dilation[0], b * op.dilation[1]
            dxp[:, r0:r0 + op.stride[0] * (ho - 1) + 1:op.stride[0],
                c0:c0 + op.stride[1] * (wo - 1) + 1:op.stride[1], :] += dwin[..., a, b]
    return dxp[:, p.top:p.top + h, p.left:p.left + w, :]


def ref_conv(x, w, b, op):
    return np.einsum("nhwcab,oabc->nhwo", windows(x, op), w.astype(np.float64)) + b


def ref_conv_grads(x, w, dy, op):
    win = windows(x, op)
    dwin = np.einsum("nhwo,oabc->nhwcab", dy, w.astype(np.float64))
    return (unwindow(dwin, x.shape, op), np.einsum("nhwo,nhwcab->oabc", dy, win),
            dy.sum(axis=(0, 1, 2)))


def _dw_split(w, c):
    _, kh, kw, cm = w.shape
    return w[0].astype(np.float64).reshape(kh, kw, c, cm // c)


def ref_depthwise(x, w, b, op):
    n, c = x.shape[0], x.shape[3]
    y = np.einsum("nhwcab,abcm->nhwcm", windows(x, op), _dw_split(w, c))
    return y.reshape(n, y.shape[1], y.shape[2], -1) + b


def ref_depthwise_grads(x, w, dy, op):
    c = x.shape[3]
    win = windows(x, op)
    d5 = dy.reshape(*dy.shape[:3], c, -1)
    dwin = np.einsum("nhwcm,abcm->nhwcab", d5, _dw_split(w, c))
    dw = np.einsum("nhwcm,nhwcab->abcm", d5, win).reshape(1, *w.shape[1:])
    return unwindow(dwin, x.shape, op), dw, dy.sum(axis=(0, 1, 2))


def ref_pool(x, op):
    win = windows(x, op, fill=np.nan)
    reduce = np.nanmax if op.kind is OpKind.MAX_POOL2D else np.nanmean
    return reduce(win, axis=(-2, -1))


def fd_grad(f, x, dy, h=1e-6):
    """Central differences of ``sum(dy * f(x))`` with respect to each element of ``x``."""
    x = x.astype(np.float64)
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = h
        g.flat[i] = (np.sum(dy * f(x + e)) - np.sum(dy * f(x - e))) / (2 * h)
    return g


def close(a, b, tol=2e-5):
    """Equal to ``tol`` of the larger magnitude (float32 kernels, float64 reference)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape
    scale = max(np.abs(b).max(), 1e-12)
    assert np.abs(a - b).max() <= tol * scale, (np.abs(a - b).max(), scale)


def rand(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


CONVS = {
    "stride 2, padding 1": dict(x=(2, 7, 6, 3), co=4, kernel=(3, 3), stride=(2, 2),
                                pads=(1, 1, 1, 1)),
    "stride (2, 1), dilation (1, 2), uneven padding": dict(
        x=(1, 8, 9, 2), co=3, kernel=(3, 2), stride=(2, 1), dilation=(1, 2),
        pads=(0, 2, 1, 0)),
    "pointwise": dict(x=(2, 4, 3, 5), co=6),
    "padding wider than the kernel reach": dict(x=(1, 3, 3, 2), co=2, kernel=(2, 2),
                                                stride=(2, 2), pads=(2, 1, 2, 1)),
}


def _conv_op(kind, case):
    x, co = case["x"], case["co"]
    kernel = case.get("kernel", (1, 1))
    if kind is OpKind.CONV2D:
        w_shape = (co, *kernel, x[3])
    else:
        co = x[3] * case.get("multiplier", 1)
        w_shape = (1, *kernel, co)
    return make_op(kind, x, co, kernel, case.get("stride", (1, 1)),
                   case.get("dilation", (1, 1)), case.get("pads", (0, 0, 0, 0)), w_shape)


@pytest.mark.parametrize("case", CONVS.values(), ids=CONVS.keys())
def test_conv2d_matches_reference_and_finite_differences(case):
    rng = np.random.default_rng(1)
    op = _conv_op(OpKind.CONV2D, case)
    x, w = rand(rng, *op.input.shape), rand(rng, *op.weights.shape)
    b = rand(rng, op.output.shape[3])
    y = ops.forward(op, [x], w, b)
    close(y, ref_conv(x, w, b, op))
    dy = rng.standard_normal(y.shape)
    g = ops.backward(op, [x], y, dy.astype(np.float32), w, (True,), True)
    dx, dw, db = ref_conv_grads(x, w, dy, op)
    close(g.inputs[0], dx)
    close(g.weights, dw)
    close(g.bias, db)
    close(g.inputs[0], fd_grad(lambda v: ref_conv(v, w, b, op), x, dy), 1e-4)
    close(g.weights, fd_grad(lambda v: ref_conv(x, v, b, op), w, dy), 1e-4)
    # the returned rows multiply into the weight gradient (the rank-one terms)
    x_rows, d_rows = g.rows
    close((d_rows.T.astype(np.float64) @ x_rows).reshape(w.shape), dw)


DEPTHWISE = {
    "stride 2, same padding": dict(x=(2, 6, 7, 3), co=None, kernel=(3, 3), stride=(2, 2),
                                   pads=(0, 1, 1, 1)),
    "multiplier 2, dilation 2": dict(x=(1, 7, 7, 2), co=None, kernel=(3, 3), multiplier=2,
                                     dilation=(2, 2), pads=(2, 2, 2, 2)),
}


@pytest.mark.parametrize("case", DEPTHWISE.values(), ids=DEPTHWISE.keys())
def test_depthwise_matches_reference_and_finite_differences(case):
    rng = np.random.default_rng(2)
    op = _conv_op(OpKind.DEPTHWISE_CONV2D, case)
    x, w = rand(rng, *op.input.shape), rand(rng, *op.weights.shape)
    b = rand(rng, op.output.shape[3])
    y = ops.forward(op, [x], w, b)
    close(y, ref_depthwise(x, w, b, op))
    dy = rng.standard_normal(y.shape)
    g = ops.backward(op, [x], y, dy.astype(np.float32), w, (True,), True)
    dx, dw, db = ref_depthwise_grads(x, w, dy, op)
    close(g.inputs[0], dx)
    close(g.weights, dw)
    close(g.bias, db)
    close(g.inputs[0], fd_grad(lambda v: ref_depthwise(v, w, b, op), x, dy), 1e-4)
    close(g.weights, fd_grad(lambda v: ref_depthwise(x, v, b, op), w, dy), 1e-4)


def test_fully_connected_matches_reference_and_finite_differences():
    rng = np.random.default_rng(3)
    x_t, y_t = Tensor("x", (1, 10), "float32"), Tensor("y", (1, 4), "float32")
    op = Op("fc", OpKind.FULLY_CONNECTED, (x_t,), y_t,
            Tensor("w", (4, 10), "float32", const=True), Tensor("b", (4,), "float32", const=True))
    x, w, b = rand(rng, 5, 10), rand(rng, 4, 10), rand(rng, 4)

    def ref(xv, wv):
        return np.einsum("ni,oi->no", xv, wv.astype(np.float64)) + b

    y = ops.forward(op, [x], w, b)
    close(y, ref(x, w))
    dy = rng.standard_normal(y.shape)
    g = ops.backward(op, [x], y, dy.astype(np.float32), w, (True,), True)
    close(g.inputs[0], np.einsum("no,oi->ni", dy, w.astype(np.float64)))
    close(g.weights, np.einsum("no,ni->oi", dy, x.astype(np.float64)))
    close(g.bias, dy.sum(axis=0))
    close(g.inputs[0], fd_grad(lambda v: ref(v, w), x, dy), 1e-4)
    close(g.weights, fd_grad(lambda v: ref(x, v), w, dy), 1e-4)


POOLS = {
    "max 3x3 stride 2 padded": (OpKind.MAX_POOL2D, (3, 3), (2, 2), (1, 1, 1, 1)),
    "average 3x3 stride 2 padded (in-bounds count)": (OpKind.AVG_POOL2D, (3, 3), (2, 2),
                                                      (1, 1, 0, 1)),
    "average global": (OpKind.AVG_POOL2D, (5, 4), (1, 1), (0, 0, 0, 0)),
    "max 2x2 stride 1": (OpKind.MAX_POOL2D, (2, 2), (1, 1), (0, 0, 0, 0)),
}


@pytest.mark.parametrize("case", POOLS.values(), ids=POOLS.keys())
def test_pools_match_reference_and_finite_differences(case):
    kind, kernel, stride, pads = case
    rng = np.random.default_rng(4)
    op = make_op(kind, (2, 5, 4, 3), 3, kernel, stride, pads=pads)
    x = rand(rng, 2, 5, 4, 3)
    y = ops.forward(op, [x])
    close(y, ref_pool(x, op))
    dy = rng.standard_normal(y.shape)
    g = ops.backward(op, [x], y, dy.astype(np.float32), None, (True,), False)
    close(g.inputs[0], fd_grad(lambda v: ref_pool(v, op), x, dy, h=1e-7), 1e-4)


ACTIVATIONS = {"relu": lambda v: np.maximum(v, 0), "relu6": lambda v: np.clip(v, 0, 6),
               "relu_n1_to_1": lambda v: np.clip(v, -1, 1), "none": lambda v: v}


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_add_with_each_fused_activation(act):
    rng = np.random.default_rng(5)
    shape = (2, 3, 4, 5)
    t = [Tensor(n, shape, "float32") for n in ("a", "b", "y")]
    op = Op("add", OpKind.ADD, (t[0], t[1]), t[2], activation=act)
    a, b = rand(rng, *shape) * 4, rand(rng, *shape) * 4
    s = a.astype(np.float64) + b
    for kink in (0.0, 6.0, -1.0, 1.0):  # keep the sums off the kinks
        near = np.abs(s - kink) < 1e-3
        a[near] += 0.01
    ref = ACTIVATIONS[act]
    y = ops.forward(op, [a, b])
    close(y, ref(a.astype(np.float64) + b))
    dy = rng.standard_normal(shape)
    g = ops.backward(op, [a, b], y, dy.astype(np.float32), None, (True, True), False)
    close(g.inputs[0], fd_grad(lambda v: ref(v + b), a, dy), 1e-6)
    close(g.inputs[1], fd_grad(lambda v: ref(a + v), b, dy), 1e-6)


def test_softmax_op_backward():
    rng = np.random.default_rng(6)
    t = [Tensor(n, (1, 7), "float32") for n in ("x", "y")]
    op = Op("sm", OpKind.SOFTMAX, (t[0],), t[1], beta=1.7)
    x = rand(rng, 3, 7)

    def ref(v):
        e = np.exp(1.7 * v - (1.7 * v).max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    y = ops.forward(op, [x])
    close(y, ref(x))
    dy = rng.standard_normal(y.shape)
    g = ops.backward(op, [x], y, dy.astype(np.float32), None, (True,), False)
    close(g.inputs[0], fd_grad(ref, x, dy), 1e-4)


# -- losses ---------------------------------------------------------------------------

def _classifier(softmax: bool, beta: float = 1.0, reshaped: bool = False) -> FloatModel:
    b = GraphBuilder("clf", dtype="float32")
    x = logits = b.fully_connected(b.input((1, 6)), 5)
    if softmax:
        x = b.softmax(x, beta=beta)
    if reshaped:
        x = b.reshape(x, (1, 1, 5))
    model = FloatModel(b.build([x]), TrainOptions())
    assert Loss.of(model, "cross_entropy").tensor == logits.name
    return model


@pytest.mark.parametrize("softmax, beta, reshaped", [
    (True, 1.0, False), (True, 0.5, False), (False, 1.0, False), (True, 2.0, True)])
def test_cross_entropy_value_and_gradient(softmax, beta, reshaped):
    """From the logits, whether or not a softmax (then a reshape) follows them."""
    rng = np.random.default_rng(7)
    model = _classifier(softmax, beta, reshaped)
    loss = Loss.of(model, "cross_entropy")
    z = rand(rng, 4, 5) * 3
    labels = np.array([0, 3, 4, 3])
    values = {loss.tensor: z}

    def ref(v):
        s = beta * v
        logp = s - s.max(axis=1, keepdims=True)
        logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))
        return -logp[np.arange(4), labels].mean()

    value, grads = loss.value_and_grad(values, labels)
    assert value == pytest.approx(ref(z.astype(np.float64)), rel=1e-6)
    close(grads[loss.tensor], fd_grad(ref, z, np.ones(())), 1e-5)


def test_mse_value_and_gradient():
    rng = np.random.default_rng(8)
    b = GraphBuilder("reg", dtype="float32")
    model = FloatModel(b.build([b.fully_connected(b.input((1, 6)), 3)]), TrainOptions())
    loss = Loss.of(model, "mse")
    y, t = rand(rng, 4, 3), rand(rng, 4, 3)

    def ref(v):
        return ((v - t) ** 2).mean()

    value, grads = loss.value_and_grad({loss.tensor: y}, t)
    assert value == pytest.approx(ref(y.astype(np.float64)), rel=1e-6)
    close(grads[loss.tensor], fd_grad(ref, y, np.ones(())), 1e-5)


# -- a whole graph ----------------------------------------------------------------------

def small_net() -> FloatModel:
    """Every differentiable op kind: strided conv, depthwise, a residual add feeding two
    branches, pools, pad, concat, reshape, fully connected, softmax."""
    b = GraphBuilder("net", dtype="float32")
    x = b.input((1, 9, 8, 3))
    a = b.conv2d(x, 6, 3, stride=2, activation="relu")
    y = b.depthwise_conv2d(a, 3, activation="relu6")
    y = b.conv2d(y, 6, 1)
    a = b.add(a, y, activation="relu")
    m = b.max_pool2d(b.pad(a, ((0, 0), (1, 0), (0, 1), (0, 0))), 2, stride=2)
    v = b.avg_pool2d(a, 2, stride=2, padding="same")
    z = b.concat([m, v], axis=3)
    z = b.fully_connected(b.flatten(z), 5)
    return b.build([b.softmax(z)])


def directional_errors(model: FloatModel, x, labels, rng, h=1e-3):
    """Per layer weight / bias tensor, ``|fd - g.v| / (|g| |v|)`` for directions ``v``:
    the gradient itself (its length) and two random ones, ``fd`` the loss' central
    difference along ``v`` (the float32 model's own loss)."""
    loss = Loss.of(model, "cross_entropy")
    feats = model.features(x)
    values = model.forward(feats)
    grads = model.backward(values, loss.value_and_grad(values, labels)[1])
    assert set(grads) == set(model.trained)
    errors = {}
    for name in model.trained:
        layer = model.layers[name]
        for part, g in (("w", grads[name].weights), ("b", grads[name].bias)):
            g = g.astype(np.float64)
            base = getattr(layer, part).copy()
            worst = 0.0
            for v in (g, rng.standard_normal(g.shape), rng.standard_normal(g.shape)):
                v = v / np.linalg.norm(v)
                losses = []
                for sign in (1, -1):
                    setattr(layer, part, (base + sign * h * v).astype(np.float32))
                    losses.append(loss.value_and_grad(model.forward(feats), labels)[0])
                setattr(layer, part, base)
                fd = (losses[0] - losses[1]) / (2 * h)
                worst = max(worst, abs(fd - np.sum(g * v)) / np.linalg.norm(g))
            errors[f"{name}.{part}"] = worst
    return errors


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_model_gradients_match_finite_differences_of_the_loss(seed):
    """Backward through a whole graph (skip connection, branches, every op kind) against
    the loss' central differences; nonzero biases keep pre-activations off the kinks."""
    rng = np.random.default_rng(seed)
    model = FloatModel(small_net(), TrainOptions(), seed=seed)
    for layer in model.layers.values():
        layer.b = 0.1 * rand(rng, *layer.b.shape)
    errors = directional_errors(model, rand(rng, 4, 9, 8, 3), np.array([0, 1, 4, 2]), rng)
    assert max(errors.values()) < 0.02, errors


def test_frozen_prefix_gets_no_input_gradient_and_frozen_layers_no_weight_gradient(
        monkeypatch):
    model = FloatModel(small_net(), TrainOptions(trainable="conv2d_1,fully_connected_0"))
    asked = []
    real = ops.backward

    def spy(op, xs, y, dy, w, need, need_w):
        asked.append((op.name, need, need_w))
        return real(op, xs, y, dy, w, need, need_w)

    monkeypatch.setattr(ops, "backward", spy)
    rng = np.random.default_rng(10)
    loss = Loss.of(model, "cross_entropy")
    values = model.forward(model.features(rand(rng, 2, 9, 8, 3)))
    grads = model.backward(values, loss.value_and_grad(values, np.array([1, 2]))[1])
    assert set(grads) == {"conv2d_1", "fully_connected_0"}
    by_op = {name: (need, need_w) for name, need, need_w in asked}
    # conv2d_1 reads the frozen depthwise output: weight gradient only
    assert by_op["conv2d_1"] == ((False,), True)
    # the add reads the frozen conv2d_0 output and the trained conv2d_1 output
    assert by_op["add_0"] == ((False, True), False)
    assert by_op["fully_connected_0"] == ((True,), True)
    assert not {"conv2d_0", "depthwise_conv2d_0"} & set(by_op)  # the frozen prefix
