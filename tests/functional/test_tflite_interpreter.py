"""Bit-exact against TFLite's reference interpreter, layer by layer, on the MLPerf Tiny models.

The interpreter (``ai-edge-litert``, reference op resolver, every intermediate tensor
kept) runs each int8 model on a seeded random input; then every CONV_2D,
DEPTHWISE_CONV_2D, FULLY_CONNECTED, AVERAGE_POOL_2D, MAX_POOL_2D and ADD is recomputed
from the interpreter's own input tensors with desim's kernels, its parameters prepared by
:mod:`desim.functional.kernels.quant` from the model's scales, and must equal the interpreter's
output bit for bit. Skips where ai-edge-litert or the ``tflite`` flatbuffer reader is
not installed (``pip install ai-edge-litert tflite``).
"""

from __future__ import annotations

import numpy as np
import pytest

from desim.functional.kernels import int8
from desim.functional.kernels.quant import activation_range, add_params, channel_multipliers

MODELS = ("vww_96_int8", "kws_ref_model", "pretrainedResnet_quant", "ad01_int8")
tflite = pytest.importorskip("tflite", reason="the tflite flatbuffer reader is not installed")

ACT = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6"}
OPS = {getattr(tflite.BuiltinOperator, name): name for name in (
    "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "MAX_POOL_2D",
    "ADD")}


def _options(op, cls):
    table = op.BuiltinOptions()
    opts = cls()
    opts.Init(table.Bytes, table.Pos)
    return opts


def _padding(opts) -> str:
    return "SAME" if opts.Padding() == tflite.Padding.SAME else "VALID"


class Layer:
    """One operator: its tensors' values and quantisation, from the interpreter."""

    def __init__(self, interp, details, op):
        self.ins = [int(i) for i in op.InputsAsNumpy()]
        self.out = int(op.OutputsAsNumpy()[0])
        self.interp, self.details = interp, details

    def value(self, k: int) -> np.ndarray | None:
        idx = self.ins[k] if k >= 0 else self.out
        return None if idx < 0 else self.interp.get_tensor(idx)  # -1: an absent bias

    def quant(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        q = self.details[self.ins[k] if k >= 0 else self.out]["quantization_parameters"]
        return q["scales"], q["zero_points"]


def _requant(layer: Layer, act: int, channels: int, float32_product: bool = False) -> dict:
    (s_in,), (zp_in,) = layer.quant(0)
    s_w, _ = layer.quant(1)
    (s_out,), (zp_out,) = layer.quant(-1)
    mult, shift = channel_multipliers(s_in, s_w, s_out, channels,
                                      float32_product=float32_product)
    lo, hi = activation_range(ACT[act], s_out, int(zp_out))
    return {"multiplier": mult, "shift": shift, "input_zero_point": int(zp_in),
            "output_zero_point": int(zp_out), "act_min": lo, "act_max": hi}


def _recompute(name: str, layer: Layer, op) -> np.ndarray:
    x = layer.value(0)
    w = layer.value(1) if len(layer.ins) > 1 else None
    if name == "CONV_2D":
        o = _options(op, tflite.Conv2DOptions)
        assert (o.DilationHFactor(), o.DilationWFactor()) == (1, 1)
        return int8.conv2d(x, w, layer.value(2), stride=(o.StrideH(), o.StrideW()),
                           padding=_padding(o),
                           **_requant(layer, o.FusedActivationFunction(), w.shape[0]))
    if name == "DEPTHWISE_CONV_2D":
        o = _options(op, tflite.DepthwiseConv2DOptions)
        assert (o.DilationHFactor(), o.DilationWFactor()) == (1, 1)
        return int8.depthwise_conv2d(
            x, w, layer.value(2), stride=(o.StrideH(), o.StrideW()), padding=_padding(o),
            **_requant(layer, o.FusedActivationFunction(), w.shape[3]))
    if name == "FULLY_CONNECTED":
        o = _options(op, tflite.FullyConnectedOptions)
        s_w, zp_w = layer.quant(1)
        kw = _requant(layer, o.FusedActivationFunction(), w.shape[0],
                      float32_product=s_w.size == 1)
        return int8.fully_connected(x.reshape(-1, w.shape[1]), w, layer.value(2),
                                    weight_zero_point=int(zp_w[0]) if zp_w.size == 1 else 0,
                                    **kw)
    if name in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        o = _options(op, tflite.Pool2DOptions)
        (s_out,), (zp_out,) = layer.quant(-1)
        lo, hi = activation_range(ACT[o.FusedActivationFunction()], s_out, int(zp_out))
        pool = int8.avg_pool2d if name == "AVERAGE_POOL_2D" else int8.max_pool2d
        return pool(x, (o.FilterHeight(), o.FilterWidth()), stride=(o.StrideH(), o.StrideW()),
                    padding=_padding(o), act_min=lo, act_max=hi)
    o = _options(op, tflite.AddOptions)
    (s1,), (z1,) = layer.quant(0)
    (s2,), (z2,) = layer.quant(1)
    (so,), (zo,) = layer.quant(-1)
    params = add_params(s1, int(z1), s2, int(z2), so, int(zo), ACT[o.FusedActivationFunction()])
    return int8.add(x, w, params)


@pytest.mark.parametrize("model", MODELS)
def test_every_layer_matches_the_reference_interpreter(reference_interpreter, model):
    """Each supported layer, fed the interpreter's inputs, reproduces its int8 output."""
    path, interp = reference_interpreter(model)
    inp = interp.get_input_details()[0]
    assert inp["dtype"] == np.int8
    rng = np.random.default_rng(7)
    interp.set_tensor(inp["index"], rng.integers(-128, 128, inp["shape"], dtype=np.int8))
    interp.invoke()
    details = {d["index"]: d for d in interp.get_tensor_details()}
    fb = tflite.Model.GetRootAsModel(path.read_bytes(), 0)
    graph = fb.Subgraphs(0)
    checked = []
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code = fb.OperatorCodes(op.OpcodeIndex())
        name = OPS.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()))
        if name is None:
            continue
        layer = Layer(interp, details, op)
        expected = layer.value(-1)
        got = _recompute(name, layer, op).reshape(expected.shape)
        mismatches = int(np.count_nonzero(got != expected))
        assert mismatches == 0, f"{model} op {i} {name}: {mismatches} of {got.size} differ"
        checked.append(name)
    assert len(checked) >= 10
