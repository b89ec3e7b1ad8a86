"""Forward and backward of every graph op on float32 NHWC batches (real values, no quantisation).

Weighted ops keep the graph's layouts: conv2d OHWI ``(Co, Kh, Kw, Ci)``, depthwise
``(1, Kh, Kw, C*m)``, fully connected ``(Nout, Nin)``. A fused activation is applied to
the op's result and differentiated through its output (relu: ``y > 0``; relu6:
``0 < y < 6``; relu_n1_to_1: ``-1 < y < 1``; the kinks get gradient 0). Backward gives
the weight and bias gradients summed over the batch and, where asked, the input
gradients; a conv2d or fully connected weight gradient is the product
``d_rows.T @ x_rows`` of the output-gradient rows and the input's patch rows, which are
returned too (the rank-one updates of analog SGD). quantize and dequantize are the
identity on real values (their gradient passes straight through).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from desim.training.functional import kernels
from desim.workload.op import WEIGHTED, Activation, Op, OpKind

F32 = np.float32


@dataclass(frozen=True)
class OpGrads:
    """Gradients of one op: per input (None where not asked), weights, bias, and for
    conv2d / fully connected the rows whose product is the weight gradient."""

    inputs: tuple[np.ndarray | None, ...]
    weights: np.ndarray | None = None
    bias: np.ndarray | None = None
    rows: tuple[np.ndarray, np.ndarray] | None = None


def _f32(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=F32)


def activate(act: Activation, v: np.ndarray) -> np.ndarray:
    """The fused activation applied to ``v``."""
    if act is Activation.RELU:
        return np.maximum(v, F32(0))
    if act is Activation.RELU6:
        return np.minimum(np.maximum(v, F32(0)), F32(6))
    if act is Activation.RELU_N1_TO_1:
        return np.minimum(np.maximum(v, F32(-1)), F32(1))
    return v


def activation_grad(act: Activation, y: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """``dy`` through the fused activation whose output is ``y``."""
    if act is Activation.RELU:
        return dy * (y > 0)
    if act is Activation.RELU6:
        return dy * ((y > 0) & (y < 6))
    if act is Activation.RELU_N1_TO_1:
        return dy * ((y > -1) & (y < 1))
    return dy


# -- windowed geometry -----------------------------------------------------------------

def _window(op: Op) -> tuple[int, ...]:
    """``sh, sw, dh, dw, pt, pl`` of a windowed op."""
    return (*op.stride, *op.dilation, op.padding.top, op.padding.left)


def _out_hw(op: Op) -> tuple[int, int]:
    return op.output.shape[1], op.output.shape[2]


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` in float32 (the jitted loop)."""
    out = np.empty((a.shape[0], b.shape[1]), F32)
    kernels.matmul(_f32(a), _f32(b), out)
    return out


def patch_rows(op: Op, x: np.ndarray) -> np.ndarray:
    """im2col of a conv2d input batch: ``(N*Ho*Wo, Kh*Kw*Ci)``."""
    ho, wo = _out_hw(op)
    kh, kw = op.kernel
    cols = np.empty((x.shape[0] * ho * wo, kh * kw * x.shape[3]), F32)
    kernels.im2col(_f32(x), cols, ho, wo, kh, kw, *_window(op))
    return cols


# -- weighted ops ----------------------------------------------------------------------

def _conv(op: Op, x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    y = matmul(patch_rows(op, x), w.reshape(w.shape[0], -1).T)
    if b is not None:
        y += b
    return y.reshape(x.shape[0], *_out_hw(op), w.shape[0])


def _conv_back(op: Op, x: np.ndarray, d: np.ndarray, w: np.ndarray, need_x: bool,
               need_w: bool) -> OpGrads:
    d2 = _f32(d.reshape(-1, w.shape[0]))
    w2 = w.reshape(w.shape[0], -1)
    dx = dw = db = rows = None
    if need_w:
        cols = patch_rows(op, x)
        dw, db, rows = matmul(d2.T, cols).reshape(w.shape), d2.sum(axis=0), (cols, d2)
    if need_x:
        dx = np.zeros(x.shape, F32)
        kernels.col2im(matmul(d2, w2), dx, *_out_hw(op), *op.kernel, *_window(op))
    return OpGrads((dx,), dw, db, rows)


def _depthwise(op: Op, x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    y = np.zeros((x.shape[0], *_out_hw(op), w.shape[3]), F32)
    if b is not None:
        y += b
    kernels.depthwise_pass(_f32(x), _f32(w), y, y, 0, *_window(op))  # y: the output shape
    return y


def _depthwise_back(op: Op, x: np.ndarray, d: np.ndarray, w: np.ndarray, need_x: bool,
                    need_w: bool) -> OpGrads:
    d = _f32(d)
    dx = dw = db = None
    if need_w:
        dw = np.zeros(w.shape, F32)
        kernels.depthwise_pass(_f32(x), _f32(w), d, dw, 1, *_window(op))
        db = d.sum(axis=(0, 1, 2))
    if need_x:
        dx = np.zeros(x.shape, F32)
        kernels.depthwise_pass(dx, _f32(w), d, dx, 2, *_window(op))  # dx: the input shape
    return OpGrads((dx,), dw, db)


def _fc(op: Op, x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    y = matmul(x.reshape(-1, w.shape[1]), w.T)
    if b is not None:
        y += b
    return y.reshape(-1, *op.output.shape[1:])


def _fc_back(op: Op, x: np.ndarray, d: np.ndarray, w: np.ndarray, need_x: bool,
             need_w: bool) -> OpGrads:
    x2, d2 = _f32(x.reshape(-1, w.shape[1])), _f32(d.reshape(-1, w.shape[0]))
    dx = matmul(d2, w).reshape(x.shape) if need_x else None
    if not need_w:
        return OpGrads((dx,))
    return OpGrads((dx,), matmul(d2.T, x2), d2.sum(axis=0), (x2, d2))


# -- other ops -------------------------------------------------------------------------

def _pool(op: Op, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.empty((x.shape[0], *_out_hw(op), x.shape[3]), F32)
    arg = np.zeros(y.shape, np.int64)
    kernels.pool_forward(_f32(x), y, arg, *op.kernel, *op.stride, op.padding.top,
                         op.padding.left, op.kind is OpKind.MAX_POOL2D)
    return y, arg


def _pool_back(op: Op, x: np.ndarray, d: np.ndarray) -> np.ndarray:
    is_max = op.kind is OpKind.MAX_POOL2D
    arg = _pool(op, x)[1] if is_max else np.zeros(d.shape, np.int64)
    dx = np.zeros(x.shape, F32)
    kernels.pool_backward(_f32(d), arg, dx, *op.kernel, *op.stride, op.padding.top,
                          op.padding.left, is_max)
    return dx


def softmax(op: Op, x: np.ndarray) -> np.ndarray:
    """``softmax(beta * x)`` over the last axis."""
    z = F32(op.beta) * x
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).astype(F32)


def _pad_back(op: Op, d: np.ndarray) -> np.ndarray:
    return d[tuple(slice(a, d.shape[i] - b) for i, (a, b) in enumerate(op.pads))]


def _concat_back(op: Op, xs: list[np.ndarray], d: np.ndarray) -> list[np.ndarray]:
    cuts = np.cumsum([x.shape[op.axis] for x in xs])[:-1]
    return np.split(d, cuts, axis=op.axis)


# -- entry points ----------------------------------------------------------------------

def forward(op: Op, xs: list[np.ndarray], w: np.ndarray | None = None,
            b: np.ndarray | None = None) -> np.ndarray:
    """The output of ``op`` for input batches ``xs`` (and its weights and bias)."""
    k, x = op.kind, xs[0]
    if k in WEIGHTED:
        assert w is not None
        v = {OpKind.CONV2D: _conv, OpKind.DEPTHWISE_CONV2D: _depthwise,
             OpKind.FULLY_CONNECTED: _fc}[k](op, x, w, b)
    elif k in (OpKind.AVG_POOL2D, OpKind.MAX_POOL2D):
        v = _pool(op, x)[0]
    elif k is OpKind.ADD:
        v = xs[0] + xs[1]
    elif k is OpKind.CONCAT:
        v = np.concatenate(xs, axis=op.axis)
    elif k is OpKind.RESHAPE:
        v = x.reshape(-1, *op.output.shape[1:])
    elif k is OpKind.PAD:
        v = np.pad(x, op.pads)
    elif k is OpKind.SOFTMAX:
        v = softmax(op, x)
    else:  # quantize, dequantize
        v = x
    return activate(op.activation, v)


def backward(op: Op, xs: list[np.ndarray], y: np.ndarray, dy: np.ndarray,
             w: np.ndarray | None, need: tuple[bool, ...], need_w: bool) -> OpGrads:
    """Gradients of ``op`` given its inputs ``xs``, output ``y`` and output gradient
    ``dy``; ``need[i]`` asks for input ``i``'s, ``need_w`` for the weights' and bias'."""
    d = activation_grad(op.activation, y, dy)
    k, x = op.kind, xs[0]
    if k in WEIGHTED:
        assert w is not None
        back = {OpKind.CONV2D: _conv_back, OpKind.DEPTHWISE_CONV2D: _depthwise_back,
                OpKind.FULLY_CONNECTED: _fc_back}[k]
        return back(op, x, d, w, need[0], need_w)
    if k in (OpKind.AVG_POOL2D, OpKind.MAX_POOL2D):
        dxs = [_pool_back(op, x, d)]
    elif k is OpKind.ADD:
        dxs = [d, d]
    elif k is OpKind.CONCAT:
        dxs = _concat_back(op, xs, d)
    elif k is OpKind.RESHAPE:
        dxs = [d.reshape(x.shape)]
    elif k is OpKind.PAD:
        dxs = [_pad_back(op, d)]
    elif k is OpKind.SOFTMAX:
        dxs = [F32(op.beta) * y * (d - (d * y).sum(axis=-1, keepdims=True))]
    else:  # quantize, dequantize
        dxs = [d]
    return OpGrads(tuple(g if n else None for g, n in zip(dxs, need, strict=True)))
