"""Graph IR: tensor and op checks, costs in closed form, order, live memory, JSON, table."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from desim.errors import SpecError
from desim.workload import load_workload
from desim.workload.builder import GraphBuilder
from desim.workload.graph import Graph
from desim.workload.op import Activation, Op, OpKind
from desim.workload.serialize import graph_from_dict, load_graph_json
from desim.workload.shapes import Padding, padding_for, same_pads, window_output
from desim.workload.tensor import Quant, Tensor
from desim.workload.zoo import load_zoo

# -- tensors --------------------------------------------------------------------------


def test_tensor_sizes_and_checks():
    t = Tensor("w", (8, 3, 3, 4), "int8", Quant((0.1,) * 8, (0,) * 8, 0), const=True)
    assert (t.size, t.nbytes, t.quant.per_channel) == (288, 288, True)
    assert Tensor("b", (8,), "int32").nbytes == 32
    with pytest.raises(SpecError, match=r"tensor w: 8 per-channel scales on axis 3"):
        Tensor("w", (8, 3, 3, 4), "int8", Quant((0.1,) * 8, (0,) * 8, 3))
    with pytest.raises(SpecError, match="dynamic or negative dimension"):
        Tensor("x", (1, -1, 4))
    with pytest.raises(SpecError, match="data must be a numpy int8 array, got int32"):
        Tensor("w", (2,), "int8", data=np.zeros(2, np.int32))
    with pytest.raises(SpecError, match="quantisation on a float32 tensor"):
        Tensor("x", (2,), "float32", Quant((0.1,), (0,)))
    with pytest.raises(SpecError, match="scales must be finite and > 0"):
        Quant((0.0,), (0,))


def test_tensor_data_is_a_read_only_copy_and_counts_in_equality():
    src = np.arange(4, dtype=np.int8)
    t = Tensor("w", (4,), "int8", data=src)
    src[0] = 9
    assert t.data[0] == 0 and t.const and not t.data.flags.writeable
    assert t == Tensor("w", (4,), "int8", data=np.arange(4, dtype=np.int8))
    assert t != Tensor("w", (4,), "int8", data=np.arange(4, dtype=np.int8)[::-1].copy())
    assert t != Tensor("w", (4,), "int8", const=True)


# -- padding --------------------------------------------------------------------------


def test_same_padding_closed_forms():
    """SAME pads total = max((ceil(n/s)-1)*s + k - n, 0), before = total // 2."""
    assert same_pads(32, 3, 2) == (0, 1)  # 15*2 + 3 - 32 = 1
    assert same_pads(49, 10, 2) == (4, 5)  # 24*2 + 10 - 49 = 9
    assert same_pads(32, 1, 2) == (0, 0)  # 15*2 + 1 - 32 < 0
    assert same_pads(7, 3, 1, dilation=2) == (2, 2)  # effective kernel 5
    assert padding_for("valid", (9, 9), (3, 3), (2, 2)) == Padding()
    with pytest.raises(SpecError, match="'same' or 'valid'"):
        padding_for("full", (9, 9), (3, 3), (1, 1))


@given(n=st.integers(1, 300), k=st.integers(1, 11), s=st.integers(1, 4), d=st.integers(1, 3))
def test_same_padding_gives_ceil_output(n, k, s, d):
    before, after = same_pads(n, k, s, d)
    assert window_output(n, k, s, before, after, d) == math.ceil(n / s)
    assert before <= after <= before + 1


# -- ops ------------------------------------------------------------------------------


def _conv(x_shape, co, k, stride=1, padding="same", kind=OpKind.CONV2D, mult=1):
    x = Tensor("x", x_shape)
    ci = x_shape[3]
    pad = padding_for(padding, x_shape[1:3], (k, k), (stride, stride))
    ho = window_output(x_shape[1], k, stride, pad.top, pad.bottom)
    wo = window_output(x_shape[2], k, stride, pad.left, pad.right)
    if kind is OpKind.CONV2D:
        w = Tensor("w", (co, k, k, ci), const=True)
    else:
        co = ci * mult
        w = Tensor("w", (1, k, k, co), const=True)
    b = Tensor("b", (co,), "int32", const=True)
    return Op("op", kind, (x,), Tensor("y", (x_shape[0], ho, wo, co)), w, b, (k, k),
              (stride, stride), padding=pad)


def test_conv_depthwise_fc_costs():
    """conv MACs = Ho*Wo*Co*Kh*Kw*Ci, depthwise = Ho*Wo*Co*Kh*Kw, FC = Nin*Nout."""
    conv = _conv((1, 10, 12, 3), 8, 3, stride=2)
    assert conv.output.shape == (1, 5, 6, 8)
    assert (conv.macs, conv.params) == (5 * 6 * 8 * 9 * 3, 8 * 9 * 3 + 8)
    assert conv.weight_bytes == 8 * 9 * 3 + 4 * 8
    assert (conv.act_in_bytes, conv.act_out_bytes) == (360, 240)
    dw = _conv((1, 6, 6, 4), 0, 3, kind=OpKind.DEPTHWISE_CONV2D, mult=2)
    assert (dw.depth_multiplier, dw.macs, dw.params) == (2, 6 * 6 * 8 * 9, 8 * 9 + 8)
    fc = Op("fc", OpKind.FULLY_CONNECTED, (Tensor("x", (2, 64)),), Tensor("y", (2, 10)),
            Tensor("w", (10, 64), const=True))
    assert (fc.macs, fc.params) == (2 * 64 * 10, 640)


def test_op_checks_name_the_op_and_the_fix():
    x = Tensor("x", (1, 8, 8, 4))
    w = Tensor("w", (4, 3, 3, 4), const=True)
    with pytest.raises(SpecError, match=r"conv2d op c1: output shape \(1, 8, 8, 4\) differs "
                                        r"from \(1, 6, 6, 4\)"):
        Op("c1", OpKind.CONV2D, (x,), Tensor("y", (1, 8, 8, 4)), w, kernel=(3, 3))
    with pytest.raises(SpecError, match="op c2: unknown kind 'conv3d'; supported: conv2d, "):
        Op("c2", "conv3d", (x,), x)
    with pytest.raises(SpecError, match="a reshape op cannot fuse activation 'relu'"):
        Op("r", OpKind.RESHAPE, (x,), Tensor("y", (1, 256)), activation="relu")
    with pytest.raises(SpecError, match="a conv2d op needs weights"):
        Op("c3", OpKind.CONV2D, (x,), x)
    with pytest.raises(SpecError, match="no broadcasting"):
        Op("a", OpKind.ADD, (x, Tensor("z", (1, 1, 1, 4))), x)
    with pytest.raises(SpecError, match="softmax runs over the last axis only"):
        Op("s", OpKind.SOFTMAX, (x,), Tensor("y", x.shape), axis=1)


# -- graphs ---------------------------------------------------------------------------


def _two_branches() -> Graph:
    """x(10 B) -> a1(100) -> a2(5); x -> b1(100) -> b2(5); concat(a2, b2) -> c(10)."""
    b = GraphBuilder("branches")
    x = b.input((1, 10))
    a1 = b.fully_connected(x, 100, name="a1")
    b1 = b.fully_connected(x, 100, name="b1")
    a2 = b.fully_connected(a1, 5, name="a2")
    b2 = b.fully_connected(b1, 5, name="b2")
    return b.build([b.concat([a2, b2], name="c")])


def test_live_memory_depends_on_the_order():
    """Depth first keeps one 100 B tensor alive at a time (peak x + a1 + a2 = 115 B);
    breadth first holds both (x + a1 + b1 = 210 B)."""
    g = _two_branches()
    assert [op.name for op in g.topological_order()] == ["a1", "b1", "a2", "b2", "c"]
    assert g.live_bytes(["a1", "a2", "b1", "b2", "c"]) == [110, 115, 115, 110, 20]
    assert g.peak_activation_bytes(["a1", "a2", "b1", "b2", "c"]) == 115
    assert g.live_bytes() == [110, 210, 205, 110, 20]
    with pytest.raises(SpecError, match="op a2 runs before 'a1/out' is produced"):
        g.live_bytes(["a2", "a1", "b1", "b2", "c"])
    with pytest.raises(SpecError, match="must list each of its 5 ops exactly once"):
        g.live_bytes(["a1", "a2"])


def test_topological_order_is_stable_and_cycles_are_refused():
    g = _two_branches()
    shuffled = Graph("g", tuple(reversed(g.ops)), g.inputs, g.outputs)
    # among ready ops the one listed first goes first: b2 (listed 2nd) before a1 (5th)
    assert [op.name for op in shuffled.topological_order()] == ["b1", "b2", "a1", "a2", "c"]
    assert shuffled.consumers("input")[0].name == "b1" and shuffled.producer("input") is None
    t1, t2, x = Tensor("t1", (1, 4)), Tensor("t2", (1, 4)), Tensor("x", (1, 4))
    ops = (Op("p", OpKind.ADD, (x, t2), t1), Op("q", OpKind.ADD, (x, t1), t2))
    with pytest.raises(SpecError, match="has a cycle through ops p, q"):
        Graph("loop", ops, (x,), (t2,))


def test_graph_checks():
    x, y = Tensor("x", (1, 4)), Tensor("y", (1, 4))
    soft = Op("s", OpKind.SOFTMAX, (x,), y)
    with pytest.raises(SpecError, match="two ops are named 's'"):
        Graph("g", (soft, Op("s", OpKind.SOFTMAX, (y,), Tensor("z", (1, 4)))), (x,), (y,))
    with pytest.raises(SpecError, match="op s reads 'x', which no op produces"):
        Graph("g", (soft,), (), (y,))
    with pytest.raises(SpecError, match="tensor 'y' is written twice"):
        Graph("g", (soft, Op("t", OpKind.SOFTMAX, (x,), y)), (x,), (y,))
    with pytest.raises(SpecError, match="tensor 'x' in op s differs"):
        Graph("g", (soft,), (Tensor("x", (1, 5)),), (y,))


def test_json_round_trip(tmp_path):
    """With weights: equal graph. Without: same structure and parameters, no data."""
    g = load_zoo("dscnn").with_random_weights(3)
    doc = json.loads(json.dumps(g.to_dict(weights=True)))
    assert graph_from_dict(doc) == g
    light = Graph.from_dict(json.loads(json.dumps(g.to_dict())))
    stripped = g.replace_tensors({t.name: Tensor(t.name, t.shape, t.dtype, t.quant, True)
                                  for t in g.tensors.values() if t.const})
    assert light == stripped and not light.has_weights
    path = g.save(tmp_path / "dscnn.json", weights=True)
    assert load_workload(str(path)) == g
    assert load_graph_json(path).ops[0].weights.quant == g.ops[0].weights.quant


def test_json_errors_are_spec_errors(tmp_path):
    with pytest.raises(SpecError, match="not a desim graph document"):
        graph_from_dict({"format": "other"})
    doc = load_zoo("resnet8").to_dict()
    doc["ops"][0]["output"] = "nowhere"
    with pytest.raises(SpecError, match="names output 'nowhere', which no entry"):
        graph_from_dict(doc)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SpecError, match="cannot read graph JSON"):
        load_graph_json(bad)


def test_table_lists_every_op_and_totals():
    text = load_zoo("resnet8").table()
    lines = text.splitlines()
    assert lines[0].startswith("resnet8  (zoo:resnet8)  inputs: input 32x32x3 int8")
    rows = [line.split() for line in lines if re.match(r"\s*\d+  ", line)]
    assert [int(r[0]) for r in rows] == list(range(16))
    assert any(line.split()[:3] == ["4", "conv2d_3", "conv2d"] and "0,1,0,1" in line
               for line in lines)
    total = next(line for line in lines if line.strip().startswith("total"))
    assert total.split()[1:] == ["77,706", "12,501,632"]
    assert lines[-1] == ("16 ops, 77,706 params, 12,501,632 MACs, weights 78,744 B, largest "
                         "layer in+out 49,152 B, peak live activations 49,152 B "
                         "(topological order)")


def test_activation_enum_and_builder_names():
    g = load_zoo("mobilenetv2")
    assert g.op("block2/add").kind is OpKind.ADD
    assert g.op("block1/depthwise").activation is Activation.RELU6
    with pytest.raises(SpecError, match="graph mobilenetv2 has no op 'nope'"):
        g.op("nope")


def test_importing_desim_workload_stays_light():
    """import desim.workload loads neither numpy nor onnx nor tflite; a zoo graph needs
    numpy only."""
    code = ("import sys, desim.cli, desim.workload as w; a = set(sys.modules); "
            "w.load_workload('resnet8'); b = set(sys.modules); "
            "print(sorted(m for m in ('numpy', 'onnx', 'tflite') if m in a), "
            "sorted(m for m in ('onnx', 'tflite') if m in b))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[] []"
