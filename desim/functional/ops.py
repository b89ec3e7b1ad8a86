"""Digital int8 operators over output regions, bit-exact with TFLite's int8 kernels.

Each op of a graph is prepared once (:func:`prepare`: quantisation parameters computed
as TFLite prepares them, :mod:`desim.functional.kernels.quant`), then computes any output region
``[r0, r1) x [c0, c1)`` (rows and channels, in the HWC view the tiler uses) from its
input window, as a tile does on a real deployment:

* conv2d, depthwise, pools: the input rows of :func:`desim.functional.kernels.geometry.input_window`
  with that window's own padding; the region's output channels (depthwise: whole groups of
  input channels); the jitted operators of :mod:`desim.functional.kernels`;
* fully_connected: every row of the flattened input, the region's output neurons;
* add, quantize, dequantize: the same region of the inputs;
* softmax: the region's rows over all channels (a channel slice needs the whole row);
* pad, concat: the part of each input that falls into the region.

Softmax follows TFLite's int8 kernel (a float32 table of ``exp(-s * beta * d)`` for
``d = max - x``, a float32 sum in row order, ``round(p / s_out) + zp_out``); it matches the
reference interpreter bit for bit on the MLPerf Tiny models. QUANTIZE of a float is
``round(x / s) + zp`` in float32 (TFLite ``AffineQuantize``); int8 to int8 QUANTIZE and
a concat input whose quantisation differs from the output's are requantised with the
fixed-point multiplier ``s_in / s_out``; DEQUANTIZE is ``float32(s * (q - zp))``.
Importing this module loads no numba: the jitted operators are loaded when an op is
prepared (functional mode only).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from desim.errors import SpecError
from desim.functional import kernels
from desim.functional.kernels.geometry import input_window
from desim.functional.kernels.quant import (
    activation_range,
    add_params,
    channel_multipliers,
    quantize_multiplier,
)
from desim.mapping.tiler import geometry
from desim.workload.op import Op, OpKind
from desim.workload.tensor import Tensor

Values = dict[str, np.ndarray]


class Region(NamedTuple):
    """Output rows ``[r0, r1)`` and channels ``[c0, c1)`` (a tile's, or a whole tensor's)."""

    r0: int
    r1: int
    c0: int
    c1: int


#: computes an op's output values in a region from the tensors computed so far
Compute = Callable[[Values, Region], np.ndarray]


def full_region(op: Op) -> Region:
    """The region covering the whole output of ``op``."""
    g = geometry(op)
    return Region(0, g.h_out, 0, g.c_out)


def region_index(shape: tuple[int, ...], r: Region) -> tuple[slice, ...]:
    """Index of region ``r`` in a tensor of ``shape``: rows on axis 1 of a 4-D (NHWC)
    tensor, channels on the last axis (the tiler's HWC view)."""
    if not shape:
        return ()
    index = [slice(None)] * len(shape)
    if len(shape) == 4:
        index[1] = slice(r.r0, r.r1)
    index[-1] = slice(r.c0, r.c1)
    return tuple(index)


def quant_of(op: Op, t: Tensor) -> tuple[float, int]:
    """Per-tensor ``(scale, zero point)`` of an activation of ``op``."""
    if t.quant is None or len(t.quant.scale) != 1:
        raise SpecError(f"functional mode: tensor {t.name} of op {op.name} needs per-tensor "
                        "quantisation (one scale and zero point); quantise the model to int8")
    return t.quant.scale[0], t.quant.zero_point[0]


def act_range(op: Op) -> tuple[int, int]:
    """int8 clamp of ``op``'s fused activation at its output quantisation."""
    scale, zp = quant_of(op, op.output)
    return activation_range(op.activation.value.upper(), scale, zp)


def _need_int8(op: Op, *tensors: Tensor) -> None:
    for t in tensors:
        if t.dtype != "int8":
            raise SpecError(f"functional mode runs int8 graphs: op {op.name} ({op.kind}) "
                            f"has {t.dtype} tensor {t.name}; quantise the model to int8")


# -- weighted ops ----------------------------------------------------------------------

class OutputStage(NamedTuple):
    """Requantisation of a weighted op's int32 accumulators to its int8 output."""

    bias: np.ndarray | None
    multiplier: np.ndarray
    shift: np.ndarray
    zero_point: int
    act_min: int
    act_max: int
    rounding: str  # "double" (convolutions) or "single" (fully connected)


def output_stage(op: Op) -> OutputStage:
    """Multipliers, shifts, bias and clamp of a conv, depthwise or fully connected op."""
    x, w = op.input, op.weights
    assert w is not None
    _need_int8(op, x, w, op.output)
    if w.quant is None or w.data is None:
        raise SpecError(f"functional mode: weights {w.name} of op {op.name} have no data or "
                        "quantisation; give a model with weights (zoo graphs get random ones)")
    b = op.bias
    if b is not None and (b.dtype != "int32" or b.data is None):
        raise SpecError(f"functional mode: bias {b.name} of op {op.name} must be int32 data")
    s_in, _ = quant_of(op, x)
    s_out, zp_out = quant_of(op, op.output)
    fc = op.kind is OpKind.FULLY_CONNECTED
    channels = w.shape[0] if op.kind is not OpKind.DEPTHWISE_CONV2D else w.shape[3]
    # TFLite forms s_in * s_w in float32 on the per-tensor fully connected path
    mult, shift = channel_multipliers(s_in, w.quant.scale, s_out, channels,
                                      float32_product=fc and len(w.quant.scale) == 1)
    lo, hi = act_range(op)
    return OutputStage(None if b is None else b.data, mult, shift, zp_out, lo, hi,
                       "single" if fc else "double")


def weight_zero_point(op: Op) -> int:
    """The weights' zero point: nonzero only on TFLite's per-tensor fully connected path."""
    q = op.weights.quant if op.weights is not None else None
    return q.zero_point[0] if q is not None and len(q.scale) == 1 else 0


def weight_data(op: Op) -> np.ndarray:
    """The weight values of a weighted op (checked present by :func:`output_stage`)."""
    assert op.weights is not None and op.weights.data is not None
    return op.weights.data


def _check_window(op: Op) -> None:
    if op.dilation != (1, 1):
        raise SpecError(f"functional mode: op {op.name} is dilated {op.dilation}; the int8 "
                        "kernels take dilation 1")


def window(op: Op, r: Region) -> tuple[int, int, tuple[int, int, int, int]]:
    """Input rows ``[a, b)`` of region ``r`` and the padding the tile must use."""
    p = op.padding
    win = input_window(r.r0, r.r1, op.stride[0], op.kernel[0], p.top, op.input.shape[1])
    return win.start, win.stop, (win.pad_before, win.pad_after, p.left, p.right)


def _conv(op: Op) -> Compute:
    _check_window(op)
    st = output_stage(op)
    w = weight_data(op)
    _, zp_in = quant_of(op, op.input)

    def compute(values: Values, r: Region) -> np.ndarray:
        a, b, pads = window(op, r)
        c = slice(r.c0, r.c1)
        return kernels.conv2d(values[op.input.name][:, a:b], w[c],
                              None if st.bias is None else st.bias[c], st.multiplier[c],
                              st.shift[c], stride=op.stride, padding=pads,
                              input_zero_point=zp_in, output_zero_point=st.zero_point,
                              act_min=st.act_min, act_max=st.act_max)
    return compute


def _depthwise(op: Op) -> Compute:
    _check_window(op)
    st = output_stage(op)
    w = weight_data(op)
    m = op.depth_multiplier
    _, zp_in = quant_of(op, op.input)

    def compute(values: Values, r: Region) -> np.ndarray:
        a, b, pads = window(op, r)
        i0, i1 = r.c0 // m, -(-r.c1 // m)  # whole groups of input channels
        c = slice(i0 * m, i1 * m)
        y = kernels.depthwise_conv2d(values[op.input.name][:, a:b, :, i0:i1], w[..., c],
                                     None if st.bias is None else st.bias[c],
                                     st.multiplier[c], st.shift[c], stride=op.stride,
                                     padding=pads, input_zero_point=zp_in,
                                     output_zero_point=st.zero_point, act_min=st.act_min,
                                     act_max=st.act_max)
        return y[..., r.c0 - i0 * m:r.c1 - i0 * m]
    return compute


def _fully_connected(op: Op) -> Compute:
    st = output_stage(op)
    w = weight_data(op)
    n_in = w.shape[1]
    _, zp_in = quant_of(op, op.input)
    zp_w = weight_zero_point(op)

    def compute(values: Values, r: Region) -> np.ndarray:
        c = slice(r.c0, r.c1)
        return kernels.fully_connected(
            values[op.input.name].reshape(-1, n_in), w[c],
            None if st.bias is None else st.bias[c], st.multiplier[c], st.shift[c],
            input_zero_point=zp_in, weight_zero_point=zp_w, output_zero_point=st.zero_point,
            act_min=st.act_min, act_max=st.act_max)
    return compute


# -- other ops -------------------------------------------------------------------------

def _pool(op: Op) -> Compute:
    _need_int8(op, op.input, op.output)
    if quant_of(op, op.input) != quant_of(op, op.output):
        raise SpecError(f"functional mode: pool {op.name} changes the quantisation of its "
                        "input; TFLite's int8 pools keep it (give the output the input's)")
    lo, hi = act_range(op)
    pool = kernels.max_pool2d if op.kind is OpKind.MAX_POOL2D else kernels.avg_pool2d

    def compute(values: Values, r: Region) -> np.ndarray:
        a, b, pads = window(op, r)
        return pool(values[op.input.name][:, a:b, :, r.c0:r.c1], op.kernel, stride=op.stride,
                    padding=pads, act_min=lo, act_max=hi)
    return compute


def _add(op: Op) -> Compute:
    _need_int8(op, *op.inputs, op.output)
    (s1, z1), (s2, z2) = (quant_of(op, t) for t in op.inputs)
    params = add_params(s1, z1, s2, z2, *quant_of(op, op.output),
                        op.activation.value.upper())
    a, b = (t.name for t in op.inputs)

    def compute(values: Values, r: Region) -> np.ndarray:
        index = region_index(op.output.shape, r)
        return kernels.add(values[a][index], values[b][index], params)
    return compute


def softmax_int8(x: np.ndarray, input_scale: float, beta: float, output_scale: float,
                 output_zero_point: int) -> np.ndarray:
    """TFLite int8 SOFTMAX over the last axis (the float32 lookup-table algorithm)."""
    f32 = np.float32
    scale = f32(-f32(input_scale) * f32(beta))
    # table[255 - d] = exp(scale * d): exp in double, rounded once to float32
    d = np.arange(256, dtype=np.float32)
    table = np.empty(256, np.float32)
    table[255 - np.arange(256)] = np.exp((scale * d).astype(np.float64)).astype(np.float32)
    rows = x.reshape(-1, x.shape[-1]).astype(np.int64)
    out = np.empty(rows.shape, np.int8)
    for i, row in enumerate(rows):
        e = table[255 - row.max() + row]
        total = np.cumsum(e, dtype=np.float32)[-1]  # sequential float32 sum, as the C loop
        inv = f32(1.0) / f32(total * f32(output_scale))
        p = (e * inv).astype(np.float32)
        q = np.sign(p) * np.floor(np.abs(p) + f32(0.5))  # std::round: halves away from zero
        out[i] = np.clip(q.astype(np.int64) + output_zero_point, -128, 127)
    return out.reshape(x.shape)


def _softmax(op: Op) -> Compute:
    _need_int8(op, op.input, op.output)
    s_in, _ = quant_of(op, op.input)
    s_out, zp_out = quant_of(op, op.output)
    channels = op.output.shape[-1] if op.output.shape else 1

    def compute(values: Values, r: Region) -> np.ndarray:
        rows = values[op.input.name][region_index(op.input.shape, r._replace(c0=0,
                                                                             c1=channels))]
        return softmax_int8(rows, s_in, op.beta, s_out, zp_out)[..., r.c0:r.c1]
    return compute


def _requantizer(op: Op, t: Tensor) -> Callable[[np.ndarray], np.ndarray]:
    """int8 values of ``t`` to the quantisation of ``op``'s output (identity when equal)."""
    s_in, zp_in = quant_of(op, t)
    s_out, zp_out = quant_of(op, op.output)
    if (s_in, zp_in) == (s_out, zp_out):
        return lambda v: v
    mult, shift = quantize_multiplier(float(np.float32(s_in)) / float(np.float32(s_out)))
    return lambda v: kernels.requantize(v.astype(np.int32) - zp_in, mult, shift,
                                        output_zero_point=zp_out)


def _quantize(op: Op) -> Compute:
    _need_int8(op, op.output)
    x = op.input
    if x.dtype == "int8":
        requant = _requantizer(op, x)

        def compute(values: Values, r: Region) -> np.ndarray:
            return requant(values[x.name][region_index(x.shape, r)])
        return compute
    if x.dtype != "float32":
        raise SpecError(f"functional mode: quantize {op.name} reads {x.dtype}; it takes "
                        "float32 or int8")
    scale, zp = quant_of(op, op.output)

    def from_float(values: Values, r: Region) -> np.ndarray:
        v = values[x.name][region_index(x.shape, r)].astype(np.float32) / np.float32(scale)
        q = np.sign(v) * np.floor(np.abs(v) + 0.5)
        return np.clip(q + zp, -128, 127).astype(np.int8)
    return from_float


def _dequantize(op: Op) -> Compute:
    _need_int8(op, op.input)
    scale, zp = quant_of(op, op.input)

    def compute(values: Values, r: Region) -> np.ndarray:
        q = values[op.input.name][region_index(op.input.shape, r)].astype(np.float64)
        return (float(np.float32(scale)) * (q - zp)).astype(np.float32)
    return compute


def _spans(shape: tuple[int, ...], index: tuple[slice, ...]) -> list[tuple[int, int]]:
    return [sl.indices(n)[:2] for sl, n in zip(index, shape, strict=True)]


def _pad(op: Op) -> Compute:
    _need_int8(op, op.input, op.output)
    if quant_of(op, op.input) != quant_of(op, op.output):
        raise SpecError(f"functional mode: pad {op.name} changes the quantisation of its input")
    _, zp = quant_of(op, op.input)
    x = op.input

    def compute(values: Values, r: Region) -> np.ndarray:
        spans = _spans(op.output.shape, region_index(op.output.shape, r))
        out = np.full([b - a for a, b in spans], zp, np.int8)
        src, dst = [], []
        for (a, b), (before, _), n in zip(spans, op.pads, x.shape, strict=True):
            lo, hi = max(a - before, 0), min(b - before, n)  # input span inside the region
            if lo >= hi:
                return out
            src.append(slice(lo, hi))
            dst.append(slice(lo + before - a, hi + before - a))
        out[tuple(dst)] = values[x.name][tuple(src)]
        return out
    return compute


def _concat(op: Op) -> Compute:
    _need_int8(op, *op.inputs, op.output)
    lo, hi = act_range(op)
    parts, offset = [], 0
    for t in op.inputs:
        parts.append((t, offset, _requantizer(op, t)))
        offset += t.shape[op.axis]

    def compute(values: Values, r: Region) -> np.ndarray:
        spans = _spans(op.output.shape, region_index(op.output.shape, r))
        out = np.empty([b - a for a, b in spans], np.int8)
        a, b = spans[op.axis]
        for t, off, requant in parts:
            s, e = max(a, off), min(b, off + t.shape[op.axis])
            if s >= e:
                continue
            src = [slice(p, q) for p, q in spans]
            src[op.axis] = slice(s - off, e - off)
            dst = [slice(None)] * len(spans)
            dst[op.axis] = slice(s - a, e - a)
            out[tuple(dst)] = requant(values[t.name][tuple(src)])
        return np.clip(out, lo, hi)
    return compute


_PREPARE: dict[OpKind, Callable[[Op], Compute]] = {
    OpKind.CONV2D: _conv, OpKind.DEPTHWISE_CONV2D: _depthwise,
    OpKind.FULLY_CONNECTED: _fully_connected, OpKind.AVG_POOL2D: _pool,
    OpKind.MAX_POOL2D: _pool, OpKind.ADD: _add, OpKind.SOFTMAX: _softmax,
    OpKind.QUANTIZE: _quantize, OpKind.DEQUANTIZE: _dequantize, OpKind.PAD: _pad,
    OpKind.CONCAT: _concat,
}


def prepare(op: Op) -> Compute:
    """``op`` ready to compute regions (not for reshapes, which alias their input);
    a :class:`SpecError` names what functional mode cannot run."""
    return _PREPARE[op.kind](op)


def run_graph(ops: dict[str, Compute], order: tuple[Op, ...], values: Values) -> Values:
    """Every op of ``order`` over its whole output, in place into ``values`` (which holds
    the graph inputs); a reshape's output is a view of its input."""
    for op in order:
        if op.kind is OpKind.RESHAPE:
            values[op.output.name] = values[op.input.name].reshape(op.output.shape)
        else:
            values[op.output.name] = np.asarray(ops[op.name](values, full_region(op))
                                                ).reshape(op.output.shape)
    return values
