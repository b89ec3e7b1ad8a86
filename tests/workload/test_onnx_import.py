"""ONNX import: float, QDQ and QLinear graphs built with onnx.helper, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from desim.errors import SpecError
from desim.workload import load_workload
from desim.workload.op import Activation, OpKind
from desim.workload.shapes import Padding

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from desim.workload.onnx_import import parse_onnx  # noqa: E402


class Net:
    """Writes an NCHW ONNX graph; with ``qdq`` every activation passes Q/DQ and weights are
    int8 behind DequantizeLinear (per-channel for convs), biases int32."""

    def __init__(self, qdq: bool = False, seed: int = 0):
        self.qdq, self.rng = qdq, np.random.default_rng(seed)
        self.nodes: list = []
        self.inits: list = []
        self.n = 0
        self.scale: dict[str, float] = {}

    def name(self, base: str) -> str:
        self.n += 1
        return f"{base}{self.n}"

    def const(self, array: np.ndarray, base: str = "c") -> str:
        name = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op: str, inputs: list[str], base: str = "t", **attrs) -> str:
        out = self.name(base)
        self.nodes.append(helper.make_node(op, inputs, [out], name=self.name(op), **attrs))
        return out

    def qdq_act(self, x: str, scale: float, zp: int = 0) -> str:
        """Quantise then dequantise an activation (the QDQ pattern between two ops)."""
        if not self.qdq:
            return x
        s, z = self.const(np.float32(scale)), self.const(np.int8(zp))
        q = self.node("QuantizeLinear", [x, s, z], "q")
        return self.node("DequantizeLinear", [q, s, z], "dq")

    def weights(self, shape: tuple[int, ...], axis: int | None) -> tuple[str, np.ndarray]:
        if not self.qdq:
            w = self.rng.standard_normal(shape).astype(np.float32)
            return self.const(w, "w"), w
        w = self.rng.integers(-127, 128, shape, dtype=np.int8)
        n = 1 if axis is None else shape[axis]
        scale = self.rng.uniform(0.001, 0.01, n).astype(np.float32)
        wq = self.const(w, "wq")
        s = self.const(scale if axis is not None else scale[0])
        z = self.const(np.zeros(n, np.int8) if axis is not None else np.int8(0))
        attrs = {"axis": axis} if axis is not None else {}
        return self.node("DequantizeLinear", [wq, s, z], "w", **attrs), w

    def bias(self, n: int) -> str:
        if not self.qdq:
            return self.const(self.rng.standard_normal(n).astype(np.float32), "b")
        bq = self.const(self.rng.integers(-1000, 1000, n, dtype=np.int32), "bq")
        s = self.const(np.full(n, 1e-4, np.float32))
        return self.node("DequantizeLinear", [bq, s, self.const(np.zeros(n, np.int32))], "b",
                         axis=0)

    def conv(self, x: str, cin: int, cout: int, k: int, stride: int = 1, relu: bool = False,
             pads: tuple[int, int, int, int] | None = None, group: int = 1) -> str:
        w, _ = self.weights((cout, cin // group, k, k), 0)
        if pads is None:
            pads = (k // 2,) * 4 if stride == 1 else (0, 0, 1, 1)
        y = self.node("Conv", [x, w, self.bias(cout)], kernel_shape=[k, k],
                      strides=[stride, stride], pads=list(pads), group=group)
        if relu:
            y = self.node("Relu", [y])
        return self.qdq_act(y, 0.05, -128 if relu else 0)

    def add(self, a: str, b: str, relu: bool = False) -> str:
        y = self.node("Add", [a, b])
        if relu:
            y = self.node("Relu", [y])
        return self.qdq_act(y, 0.08, -128 if relu else 0)

    def model(self, x_shape: list, out: str, opset: int = 17, domains=()) -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes, "net", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
            [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)], self.inits)
        opsets = [helper.make_opsetid("", opset), *(helper.make_opsetid(d, 1) for d in domains)]
        return helper.make_model(graph, opset_imports=opsets)


def resnet8_onnx(qdq: bool) -> onnx.ModelProto:
    """ResNet-8 as a PyTorch-style NCHW export: Conv/Relu/Add, AveragePool, Flatten, Gemm."""
    net = Net(qdq)
    x = net.qdq_act("x", 1 / 128)
    x = net.conv(x, 3, 16, 3, relu=True)
    y = net.conv(x, 16, 16, 3, relu=True)
    y = net.conv(y, 16, 16, 3)
    x = net.add(x, y, relu=True)
    cin = 16
    for c in (32, 64):
        y = net.conv(x, cin, c, 3, stride=2, relu=True)
        y = net.conv(y, c, c, 3)
        s = net.conv(x, cin, c, 1, stride=2, pads=(0, 0, 0, 0))
        x = net.add(s, y, relu=True)
        cin = c
    x = net.qdq_act(net.node("AveragePool", [x], kernel_shape=[8, 8], strides=[8, 8]), 0.08)
    x = net.qdq_act(net.node("Flatten", [x], axis=1), 0.08)
    w, _ = net.weights((10, 64), None)
    x = net.qdq_act(net.node("Gemm", [x, w, net.bias(10)], transB=1), 0.1)
    x = net.qdq_act(net.node("Softmax", [x], axis=-1), 1 / 256, -128)
    return net.model([1, 3, 32, 32], x)


def _rows(ops):
    return [(op.kind, op.input.shape, op.output.shape, op.params, op.macs, op.kernel,
             op.stride, op.padding, op.activation) for op in ops]


@pytest.mark.parametrize("qdq", [False, True], ids=["float", "qdq"])
def test_resnet8_mirror_matches_the_zoo(qdq):
    """The NCHW export imports to the zoo's NHWC layer list, op by op."""
    g = parse_onnx(resnet8_onnx(qdq))
    zoo = load_workload("resnet8")
    ops = g.ops
    if qdq:  # a float input is quantised first and the float output dequantised last
        assert [ops[0].kind, ops[-1].kind] == [OpKind.QUANTIZE, OpKind.DEQUANTIZE]
        ops = ops[1:-1]
    assert _rows(ops) == _rows(zoo.ops)
    assert (g.macs, g.params) == (12_501_632, 77_706)
    dtype = "int8" if qdq else "float32"
    assert {op.output.dtype for op in ops} == {dtype}
    assert {op.weights.dtype for op in ops if op.weights is not None} == {dtype}
    assert {op.bias.dtype for op in ops if op.bias is not None} == {
        "int32" if qdq else "float32"}


def test_load_workload_reads_an_onnx_file(tmp_path):
    path = tmp_path / "r8.onnx"
    path.write_bytes(resnet8_onnx(False).SerializeToString())
    g = load_workload(str(path))
    assert (g.name, g.source, g.macs) == ("r8", str(path), 12_501_632)
    assert g == parse_onnx(resnet8_onnx(False), name="r8", source=str(path))


def test_qdq_keeps_weights_and_parameters():
    """Weights are transposed OIHW -> OHWI bit for bit, with their per-channel scales."""
    model = resnet8_onnx(qdq=True)
    g = parse_onnx(model)
    init = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    conv = g.ops[1]
    dq = {n.output[0]: n for n in model.graph.node if n.op_type == "DequantizeLinear"}
    first_conv = next(n for n in model.graph.node if n.op_type == "Conv")
    w_node = dq[first_conv.input[1]]
    w_onnx = init[w_node.input[0]]
    np.testing.assert_array_equal(conv.weights.data, w_onnx.transpose(0, 2, 3, 1))
    assert conv.weights.quant.axis == 0
    assert conv.weights.quant.scale == tuple(init[w_node.input[1]].astype(np.float64))
    assert conv.output.quant.scale == (np.float32(0.05).item(),)
    assert conv.output.quant.zero_point == (-128,)
    assert conv.activation is Activation.RELU
    assert g.ops[0].output.quant.scale == (np.float32(1 / 128).item(),)


def test_float_conv_weights_are_transposed_and_bn_folded():
    """Conv -> BatchNormalization folds: w' = w * g / sqrt(v + eps), b' = (b - m) * k + beta."""
    net = Net()
    w, w_data = net.weights((4, 2, 3, 3), 0)
    b = net.bias(4)
    y = net.node("Conv", ["x", w, b], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    gamma, beta = np.float32([1, 2, 3, 4]), np.float32([0.5, 0, -1, 2])
    mean, var = np.float32([0.1, 0.2, 0.3, 0.4]), np.float32([1, 4, 9, 16])
    y = net.node("BatchNormalization", [y, *(net.const(a) for a in (gamma, beta, mean, var))],
                 epsilon=0.0)
    y = net.node("Relu", [y])
    g = parse_onnx(net.model([1, 2, 5, 5], y))
    (op,) = g.ops
    k = gamma / np.sqrt(var)
    np.testing.assert_allclose(op.weights.data, (w_data * k[:, None, None, None])
                               .transpose(0, 2, 3, 1), rtol=1e-6)
    b_data = numpy_helper.to_array(next(i for i in net.inits if i.name == b))
    np.testing.assert_allclose(op.bias.data, (b_data - mean) * k + beta, rtol=1e-6)
    assert op.activation is Activation.RELU and op.output.shape == (1, 5, 5, 4)


def test_depthwise_matmul_bias_clip_pad_maxpool_concat():
    """Pad, depthwise (group = C) with Clip(0, 6) -> relu6, MaxPool with SAME_UPPER, Concat
    on channels -> NHWC axis 3, MatMul + Add -> one FC with bias."""
    net = Net()
    p = net.node("Pad", ["x", net.const(np.int64([0, 0, 1, 0, 0, 0, 0, 1]))])
    a = net.conv(p, 8, 8, 3, stride=2, group=8, pads=(1, 1, 1, 1))
    a = net.node("Clip", [a, net.const(np.float32(0)), net.const(np.float32(6))])
    m = net.node("MaxPool", [p], kernel_shape=[3, 3], strides=[2, 2], auto_pad=b"SAME_UPPER")
    c = net.node("Concat", [a, m], axis=1)
    f = net.node("Flatten", [net.node("GlobalAveragePool", [c])])
    w, w_data = net.weights((16, 5), None)
    y = net.node("Add", [net.node("MatMul", [f, w]), net.const(np.ones(5, np.float32))])
    g = parse_onnx(net.model([1, 8, 10, 10], y))
    kinds = [op.kind for op in g.ops]
    assert kinds == [OpKind.PAD, OpKind.DEPTHWISE_CONV2D, OpKind.MAX_POOL2D, OpKind.CONCAT,
                     OpKind.AVG_POOL2D, OpKind.RESHAPE, OpKind.FULLY_CONNECTED]
    pad, dw, mp, cat, _, _, fc = g.ops
    assert pad.pads == ((0, 0), (1, 0), (0, 1), (0, 0)) and pad.output.shape == (1, 11, 11, 8)
    assert dw.weights.shape == (1, 3, 3, 8) and dw.activation is Activation.RELU6
    assert dw.padding == Padding(1, 1, 1, 1) and dw.output.shape == (1, 6, 6, 8)
    assert mp.padding == Padding(1, 1, 1, 1) and mp.output.shape == (1, 6, 6, 8)
    assert cat.axis == 3 and cat.output.shape == (1, 6, 6, 16)
    np.testing.assert_array_equal(fc.weights.data, w_data.T)
    np.testing.assert_array_equal(fc.bias.data, np.ones(5, np.float32))


def test_flatten_of_a_feature_map_permutes_fc_columns():
    """Flatten of C x H x W feeding Gemm: the FC weight columns move from CHW to HWC order,
    so FC(flatten_nhwc(x)) equals the ONNX result."""
    net = Net()
    f = net.node("Flatten", ["x"])
    w, w_data = net.weights((3, 2 * 2 * 2), None)
    y = net.node("Gemm", [f, w], transB=1)
    g = parse_onnx(net.model([1, 2, 2, 2], y))
    fc = g.ops[1]
    x = np.arange(8, dtype=np.float32).reshape(1, 2, 2, 2)  # NCHW
    expected = x.reshape(1, -1) @ w_data.T
    got = x.transpose(0, 2, 3, 1).reshape(1, -1) @ fc.weights.data.T
    np.testing.assert_allclose(got, expected)


def test_qlinear_graph():
    """QLinearConv -> QLinearAdd -> QLinearGlobalAveragePool -> Flatten -> QLinearMatMul ->
    DequantizeLinear keeps every scale and zero point and the int8 weights."""
    net = Net()
    rng = np.random.default_rng(1)
    s = {k: net.const(np.float32(v)) for k, v in
         {"x": 0.02, "w": 0.005, "y": 0.04, "a": 0.06, "p": 0.06, "o": 0.1}.items()}
    z = {k: net.const(np.int8(v)) for k, v in {"x": 3, "w": 0, "y": -5, "a": -128,
                                                "p": -128, "o": 7}.items()}
    w = rng.integers(-127, 128, (6, 4, 3, 3), dtype=np.int8)
    b = rng.integers(-500, 500, 6, dtype=np.int32)
    y = net.node("QLinearConv", ["x", s["x"], z["x"], net.const(w), s["w"], z["w"], s["y"],
                                 z["y"], net.const(b)], pads=[1, 1, 1, 1])
    a = net.node("QLinearAdd", [y, s["y"], z["y"], y, s["y"], z["y"], s["a"], z["a"]],
                 domain="com.microsoft")
    p = net.node("QLinearGlobalAveragePool", [a, s["a"], z["a"], s["p"], z["p"]],
                 domain="com.microsoft")
    f = net.node("Flatten", [p])
    m = rng.integers(-127, 128, (6, 3), dtype=np.int8)
    o = net.node("QLinearMatMul", [f, s["p"], z["p"], net.const(m), s["w"], z["w"], s["o"],
                                   z["o"]])
    out = net.node("DequantizeLinear", [o, s["o"], z["o"]])
    model = net.model([1, 4, 8, 8], out, domains=["com.microsoft"])
    model.graph.input[0].type.tensor_type.elem_type = TensorProto.INT8
    g = parse_onnx(model)
    conv, add, pool, flat, fc, deq = g.ops
    assert g.inputs[0].dtype == "int8" and g.inputs[0].quant.zero_point == (3,)
    np.testing.assert_array_equal(conv.weights.data, w.transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(conv.bias.data, b)
    assert conv.bias.quant.scale[0] == pytest.approx(0.02 * 0.005, rel=1e-6)
    assert conv.output.quant.zero_point == (-5,) and add.output.quant.zero_point == (-128,)
    assert pool.output.shape == (1, 1, 1, 6) and pool.output.quant.scale == (
        np.float32(0.06).item(),)
    assert flat.output.quant == pool.output.quant
    np.testing.assert_array_equal(fc.weights.data, m.T)
    assert fc.output.quant.zero_point == (7,) and deq.output.dtype == "float32"
    assert g.macs == 8 * 8 * 6 * 9 * 4 + 6 * 3


# -- bad input ------------------------------------------------------------------------

def test_unsupported_op_names_type_node_and_supported_set():
    net = Net()
    net.nodes.append(helper.make_node("Sigmoid", ["x"], ["y"], name="gate"))
    with pytest.raises(SpecError) as err:
        parse_onnx(net.model([1, 4], "y"))
    msg = str(err.value)
    assert "Sigmoid" in msg and "'gate'" in msg and "Conv" in msg and "\n" not in msg


def test_dynamic_input_is_one_clear_line():
    net = Net()
    y = net.node("Softmax", ["x"])
    with pytest.raises(SpecError, match=r"input 'x' has a dynamic shape \['N', 3\]"):
        parse_onnx(net.model(["N", 3], y))


def test_truncated_and_non_model_files(tmp_path):
    data = resnet8_onnx(False).SerializeToString()
    for i, blob in enumerate((data[: len(data) // 2], b"not a model at all\n", b"")):
        path = tmp_path / f"bad{i}.onnx"
        path.write_bytes(blob)
        with pytest.raises(SpecError) as err:
            load_workload(str(path))
        assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_grouped_conv_and_standalone_relu_are_refused():
    net = Net()
    net.conv("x", 4, 4, 3, group=2)
    with pytest.raises(SpecError, match="grouped convolution"):
        parse_onnx(net.model([1, 4, 6, 6], net.nodes[-1].output[0]))
    net = Net()
    y = net.node("Relu", [net.node("MaxPool", ["x"], kernel_shape=[2, 2])])
    with pytest.raises(SpecError, match="cannot be fused"):
        parse_onnx(net.model([1, 4, 6, 6], y))
