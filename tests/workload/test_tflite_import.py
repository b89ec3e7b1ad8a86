"""TFLite import: the four MLPerf Tiny int8 models, small written models, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from desim.errors import SpecError
from desim.workload import load_workload
from desim.workload.op import Activation, OpKind
from desim.workload.shapes import Padding

pytest.importorskip("tflite")
from desim.workload.tflite_import import SUPPORTED_OPS, load_tflite, parse_tflite  # noqa: E402

MLPERF_MODELS = {"resnet8": "pretrainedResnet_quant.tflite", "dscnn": "kws_ref_model.tflite",
                 "mobilenetv1_vww": "vww_96_int8.tflite", "autoencoder": "ad01_int8.tflite"}

#: input and output (scale, zero point) from shared/models/mlperf_tiny/README.md
README_QUANT = {
    "resnet8": ((1.0, -128), (1 / 256, -128)), "dscnn": ((0.5847, 83), (1 / 256, -128)),
    "mobilenetv1_vww": ((1 / 255, -128), (1 / 256, -128)),
    "autoencoder": ((0.3910, 89), (0.3645, 96)),
}


def _model(shared_dir, zoo_name):
    path = shared_dir / "models" / "mlperf_tiny" / MLPERF_MODELS[zoo_name]
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path


def _rows(graph):
    return [(op.kind, tuple(t.shape for t in op.inputs), op.output.shape, op.params, op.macs,
             op.kernel, op.stride, op.padding, op.activation, op.act_in_bytes, op.act_out_bytes)
            for op in graph.ops]


@pytest.mark.parametrize("zoo_name", sorted(MLPERF_MODELS))
def test_reference_model_equals_the_zoo(shared_dir, zoo_name):
    """Kinds, shapes, params, MACs, padding, activations and bytes match op by op."""
    g = load_workload(str(_model(shared_dir, zoo_name)))
    zoo = load_workload(zoo_name)
    assert _rows(g) == _rows(zoo)
    assert (g.macs, g.params, g.weight_bytes) == (zoo.macs, zoo.params, zoo.weight_bytes)
    assert g.peak_activation_bytes() == zoo.peak_activation_bytes()
    assert g.has_weights and not zoo.has_weights


@pytest.mark.parametrize("zoo_name", sorted(MLPERF_MODELS))
def test_reference_model_quantisation(shared_dir, zoo_name):
    """int8 everywhere, int32 biases, per-channel conv/depthwise weights (axis 0 / 3),
    per-tensor FC weights, and the README's input/output parameters."""
    g = load_tflite(_model(shared_dir, zoo_name))
    (in_s, in_z), (out_s, out_z) = README_QUANT[zoo_name]
    assert g.inputs[0].quant.scale[0] == pytest.approx(in_s, rel=1e-4)
    assert g.inputs[0].quant.zero_point == (in_z,)
    assert g.outputs[0].quant.scale[0] == pytest.approx(out_s, rel=1e-4)
    assert g.outputs[0].quant.zero_point == (out_z,)
    for op in g.ops:
        assert op.output.dtype == "int8" and op.output.quant is not None
        if op.weights is None:
            continue
        assert op.weights.dtype == "int8" and op.bias.dtype == "int32"
        axis = {OpKind.CONV2D: 0, OpKind.DEPTHWISE_CONV2D: 3}.get(op.kind)
        assert op.weights.quant.axis == axis, op.name
        n = 1 if axis is None else op.weights.shape[axis]
        assert len(op.weights.quant.scale) == n and set(op.weights.quant.zero_point) == {0}


def test_weights_are_kept_bit_for_bit(shared_dir):
    """The first conv's weights and bias equal a direct flatbuffer read of those tensors."""
    import tflite

    path = _model(shared_dir, "resnet8")
    buf = path.read_bytes()
    sg = tflite.Model.GetRootAsModel(buf, 0).Subgraphs(0)
    model = tflite.Model.GetRootAsModel(buf, 0)
    op0 = sg.Operators(0)
    w_t, b_t = sg.Tensors(op0.Inputs(1)), sg.Tensors(op0.Inputs(2))
    w_raw = model.Buffers(w_t.Buffer()).DataAsNumpy().view(np.int8).reshape(w_t.ShapeAsNumpy())
    b_raw = model.Buffers(b_t.Buffer()).DataAsNumpy().view("<i4")
    conv = load_tflite(path).ops[0]
    np.testing.assert_array_equal(conv.weights.data, w_raw)
    np.testing.assert_array_equal(conv.bias.data, b_raw)
    assert conv.weights.quant.scale == tuple(w_t.Quantization().ScaleAsNumpy().astype(float))
    assert conv.weights.data.shape == (16, 3, 3, 3) and not conv.weights.data.flags.writeable


def test_same_padding_is_explicit_as_tflite_computes_it(shared_dir):
    """DS-CNN's 10x4 stride-2 conv on 49x10: pad H 9 = 4 top + 5 bottom, W 2 = 1 + 1."""
    g = load_tflite(_model(shared_dir, "dscnn"))
    assert g.ops[0].padding == Padding(4, 5, 1, 1)
    assert g.ops[0].output.shape == (1, 25, 5, 64)


# -- small written models -------------------------------------------------------------

def _q(scale=0.05, zp=0):
    return {"scale": [scale], "zero_point": [zp]}


def test_pad_pool_concat_quantize(write_tflite):
    """PAD -> MAX_POOL_2D (SAME, stride 2, ReLU6) and AVERAGE_POOL_2D (VALID) -> concat on
    channels, between QUANTIZE and DEQUANTIZE."""
    import tflite

    def pool(padding, stride, k, act):
        def build(b):
            tflite.Pool2DOptionsStart(b)
            tflite.Pool2DOptionsAddPadding(b, padding)
            tflite.Pool2DOptionsAddStrideH(b, stride)
            tflite.Pool2DOptionsAddStrideW(b, stride)
            tflite.Pool2DOptionsAddFilterHeight(b, k)
            tflite.Pool2DOptionsAddFilterWidth(b, k)
            tflite.Pool2DOptionsAddFusedActivationFunction(b, act)
            return tflite.Pool2DOptionsEnd(b)
        return (tflite.BuiltinOptions.Pool2DOptions, build)

    def concat(b):
        tflite.ConcatenationOptionsStart(b)
        tflite.ConcatenationOptionsAddAxis(b, -1)
        return tflite.ConcatenationOptionsEnd(b)

    pads = np.array([[0, 0], [1, 1], [0, 0], [0, 0]], np.int32)
    tensors = [
        {"name": "x", "shape": [1, 6, 8, 2], "dtype": "float32"},
        {"name": "xq", "shape": [1, 6, 8, 2], "dtype": "int8", **_q()},
        {"name": "pads", "shape": [4, 2], "dtype": "int32", "data": pads},
        {"name": "p", "shape": [1, 8, 8, 2], "dtype": "int8", **_q()},
        {"name": "m", "shape": [1, 4, 4, 2], "dtype": "int8", **_q()},
        {"name": "a", "shape": [1, 4, 4, 2], "dtype": "int8", **_q()},
        {"name": "c", "shape": [1, 4, 4, 4], "dtype": "int8", **_q()},
        {"name": "y", "shape": [1, 4, 4, 4], "dtype": "float32"},
    ]
    ops = [
        {"code": 114, "inputs": [0], "outputs": [1]},
        {"code": 34, "inputs": [1, 2], "outputs": [3]},
        {"code": 17, "inputs": [3], "outputs": [4], "options": pool(0, 2, 3, 3)},
        {"code": 1, "inputs": [3], "outputs": [5], "options": pool(1, 2, 2, 0)},
        {"code": 2, "inputs": [4, 5], "outputs": [6],
         "options": (tflite.BuiltinOptions.ConcatenationOptions, concat)},
        {"code": 6, "inputs": [6], "outputs": [7]},
    ]
    g = parse_tflite(write_tflite(tensors, ops, [0], [7]))
    quant, pad, mx, avg, cat, deq = g.ops
    assert [op.kind for op in g.ops] == [OpKind.QUANTIZE, OpKind.PAD, OpKind.MAX_POOL2D,
                                         OpKind.AVG_POOL2D, OpKind.CONCAT, OpKind.DEQUANTIZE]
    assert pad.pads == ((0, 0), (1, 1), (0, 0), (0, 0))
    # SAME, k=3, s=2 on 8: out 4, total pad (4-1)*2+3-8 = 1 -> 0 before, 1 after
    assert mx.padding == Padding(0, 1, 0, 1) and mx.activation is Activation.RELU6
    assert (mx.kernel, mx.stride) == ((3, 3), (2, 2))
    assert avg.padding == Padding() and avg.kernel == (2, 2)
    assert cat.axis == 3 and quant.output.quant.scale == (np.float32(0.05).item(),)
    assert deq.output.dtype == "float32"


def _single_op_model(write_tflite, code, in_shape=(1, 4), signature=None, options=None):
    t_in = {"name": "x", "shape": list(in_shape), "dtype": "int8", **_q()}
    if signature is not None:
        t_in["signature"] = signature
    op = {"code": code, "inputs": [0], "outputs": [1]}
    if options is not None:
        op["options"] = options
    tensors = [t_in, {"name": "y", "shape": list(in_shape), "dtype": "int8", **_q()}]
    return write_tflite(tensors, [op], [0], [1])


def test_unsupported_op_names_type_operator_and_supported_set(write_tflite):
    with pytest.raises(SpecError) as err:
        parse_tflite(_single_op_model(write_tflite, 28), source="m.tflite")  # TANH
    msg = str(err.value)
    assert msg.startswith("m.tflite: unsupported TFLite op TANH at operator 0 (output 'y')")
    assert all(name in msg for name in SUPPORTED_OPS) and "\n" not in msg


def test_dynamic_shape_is_refused_but_dynamic_batch_is_not(write_tflite):
    """A -1 batch in the shape signature uses the stored batch (1), as the interpreter does;
    a -1 anywhere else is an error."""
    g = parse_tflite(_single_op_model(write_tflite, 25, signature=[-1, 4]))  # SOFTMAX
    assert g.inputs[0].shape == (1, 4)
    with pytest.raises(SpecError, match=r"tensor 'x' has a dynamic shape"):
        parse_tflite(_single_op_model(write_tflite, 25, signature=[1, -1]))


def test_unsupported_fused_activation(write_tflite):
    import tflite

    def add_opts(b):
        tflite.AddOptionsStart(b)
        tflite.AddOptionsAddFusedActivationFunction(b, 4)  # TANH
        return tflite.AddOptionsEnd(b)

    tensors = [{"name": n, "shape": [1, 4], "dtype": "int8", **_q()} for n in "xzy"]
    ops = [{"code": 0, "inputs": [0, 1], "outputs": [2],
            "options": (tflite.BuiltinOptions.AddOptions, add_opts)}]
    with pytest.raises(SpecError, match="fused activation TANH is not supported"):
        parse_tflite(write_tflite(tensors, ops, [0, 1], [2]))


def test_truncated_and_non_model_files(shared_dir, tmp_path):
    """Every truncation of a real model and a non-model file give one SpecError line."""
    buf = _model(shared_dir, "resnet8").read_bytes()
    for cut in (0, 7, 100, 2_000, len(buf) // 2, len(buf) - 1_000):
        path = tmp_path / f"cut{cut}.tflite"
        path.write_bytes(buf[:cut])
        with pytest.raises(SpecError) as err:
            load_workload(str(path))
        assert str(path) in str(err.value) and "\n" not in str(err.value)
    text = tmp_path / "notes.tflite"
    text.write_text("hello, not a flatbuffer\n")
    with pytest.raises(SpecError, match="is not a TFLite model"):
        load_workload(str(text))
