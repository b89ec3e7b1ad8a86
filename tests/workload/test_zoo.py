"""The zoo networks equal the reference layer tables of shared/reference, row by row."""

from __future__ import annotations

import re

import numpy as np
import pytest

from desim.workload import DEFAULT_WORKLOAD, load_workload, workload_names
from desim.workload.graph import Graph
from desim.workload.op import WINDOWED, OpKind
from desim.workload.shapes import Padding, padding_for
from desim.workload.table import fmt_shape
from desim.workload.zoo import load_zoo, zoo_dir, zoo_names

#: totals of shared/reference/mlperf_tiny_layers.md, kept here so that the test still
#: checks them when the reference folder is absent:
#: (operators, params, MACs, weight bytes, largest single-layer in+out bytes)
TOTALS = {
    "resnet8": (16, 77_706, 12_501_632, 78_744, 49_152),
    "dscnn": (13, 22_604, 2_656_768, 24_368, 16_000),
    "mobilenetv1_vww": (31, 210_850, 7_489_664, 219_064, 55_296),
    "autoencoder": (10, 265_864, 264_192, 270_880, 768),
    "mobilenetv2": (66, 3_487_816, 300_774_272, 3_541_984, 1_505_280),
}

SECTIONS = {"ResNet-8": "resnet8", "DS-CNN": "dscnn", "MobileNetV1": "mobilenetv1_vww",
            "FC autoencoder": "autoencoder", "MobileNetV2": "mobilenetv2"}
KINDS = {"Conv2D": OpKind.CONV2D, "DepthwiseConv2D": OpKind.DEPTHWISE_CONV2D,
         "FullyConnected": OpKind.FULLY_CONNECTED, "AvgPool2D": OpKind.AVG_POOL2D,
         "Add": OpKind.ADD, "Reshape": OpKind.RESHAPE, "Softmax": OpKind.SOFTMAX}


def parse_reference(text: str) -> dict[str, list[dict[str, str]]]:
    """The per-network tables of mlperf_tiny_layers.md as lists of row dicts."""
    tables: dict[str, list[dict[str, str]]] = {}
    current = None
    header: list[str] = []
    for line in text.splitlines():
        if line.startswith("### "):
            current = next((v for k, v in SECTIONS.items() if line[4:].startswith(k)), None)
            header = []
        elif current and line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not header:
                header = cells
            elif re.fullmatch(r"\d+", cells[0]):
                tables.setdefault(current, []).append(dict(zip(header, cells, strict=True)))
    return tables


def _number(text: str) -> int:
    return int(text.replace(",", "").replace("*", "") or 0)


def _activation(note: str) -> str:
    return "relu6" if "ReLU6" in note else "relu" if "ReLU" in note else "none"


@pytest.fixture
def reference(shared_dir):
    path = shared_dir / "reference" / "mlperf_tiny_layers.md"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return parse_reference(path.read_text())


@pytest.mark.parametrize("name", sorted(TOTALS))
def test_every_row_equals_the_reference(reference, name):
    """kind, input, kernel, stride, padding mode, output, params, MACs, act in/out, act."""
    rows = reference[name]
    graph = load_zoo(name)
    assert len(rows) == len(graph.ops)
    for row, op in zip(rows, graph.ops, strict=True):
        where = f"{name} row {row['#']} ({op.name})"
        assert op.kind is KINDS[row["op"]], where
        assert fmt_shape(op.input.shape) == row["input HxWxC"], where
        assert fmt_shape(op.output.shape) == row["output HxWxC"], where
        assert (op.params, op.macs) == (_number(row["params"]), _number(row["MACs"])), where
        assert (op.act_in_bytes, op.act_out_bytes) == (
            _number(row["act in (B)"]), _number(row["act out (B)"])), where
        assert op.activation.value == _activation(row["note"]), where
        if op.kind in WINDOWED:
            assert "x".join(map(str, op.kernel)) == row["kernel"], where
            assert ",".join(map(str, op.stride)) == row["stride"], where
            expected = padding_for(row["pad"], op.input.shape[1:3], op.kernel, op.stride)
            assert op.padding == expected, where
        elif op.kind is OpKind.FULLY_CONNECTED:
            assert f"{op.weights.shape[1]}x{op.weights.shape[0]}" == row["kernel"], where


@pytest.mark.parametrize("name", sorted(TOTALS))
def test_totals(name):
    ops, params, macs, weight_bytes, largest = TOTALS[name]
    g = load_zoo(name)
    assert (len(g.ops), g.params, g.macs, g.weight_bytes) == (ops, params, macs, weight_bytes)
    assert g.summary()["largest_layer_bytes"] == largest


def test_reference_totals_match_the_literals(reference, shared_dir):
    """The literals above are the reference's totals (guards against a stale copy)."""
    text = (shared_dir / "reference" / "mlperf_tiny_layers.md").read_text()
    for name, (ops, params, macs, _, largest) in TOTALS.items():
        assert len(reference[name]) == ops
        assert sum(_number(r["params"]) for r in reference[name]) == params
        assert sum(_number(r["MACs"]) for r in reference[name]) == macs
        assert f"{params:,} params, {macs:,} MACs" in text
        assert f"footprint {largest:,} B" in text


def test_resnet8_peak_live_memory():
    """Stage 1 holds the block input, the second conv's output and the add's output:
    3 x 16 KiB = 49,152 B; running the shortcut conv first does not lower it."""
    g = load_zoo("resnet8")
    assert g.peak_activation_bytes() == 49_152
    assert g.live_bytes()[:4] == [3_072 + 16_384, 16_384 * 2, 16_384 * 3, 16_384 * 3]
    order = [op.name for op in g.ops]
    order.insert(4, order.pop(6))  # shortcut conv2d_5 before conv2d_3
    live = g.live_bytes(order)
    assert live[4:7] == [16_384 + 8_192, 16_384 + 2 * 8_192, 3 * 8_192]
    assert max(live) == 49_152


def test_stride2_same_padding_is_tflite_asymmetric():
    """ResNet-8's 3x3 stride-2 conv on 32x32 pads 0 top/left and 1 bottom/right."""
    assert load_zoo("resnet8").ops[4].padding == Padding(0, 1, 0, 1)
    assert load_zoo("mobilenetv2").ops[0].padding == Padding(0, 1, 0, 1)


def test_zoo_registry():
    assert zoo_names() == sorted(TOTALS)
    assert (zoo_dir() / "resnet8.py").is_file()
    assert set(TOTALS) | {"tiles", "tiles_membound"} <= set(workload_names())
    assert DEFAULT_WORKLOAD == "resnet8" and load_workload("tiles").name == "tiles"
    g = load_workload("dscnn")
    assert isinstance(g, Graph) and g.source == "zoo:dscnn" and g is load_workload("dscnn")


def test_zoo_dir_falls_back_to_the_source_tree(monkeypatch):
    """Without the installed desim.zoo package the workloads/ folder beside desim is used."""
    import builtins
    from pathlib import Path

    import desim

    if not (Path(desim.__file__).resolve().parents[1] / "workloads").is_dir():
        pytest.skip("desim is installed, not imported from a source checkout")

    real_import = builtins.__import__

    def no_zoo(name, *args, **kwargs):
        if name == "desim.zoo":
            raise ModuleNotFoundError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_zoo)
    path = zoo_dir()
    assert path.name == "workloads" and (path / "mobilenetv2.py").is_file()


@pytest.mark.parametrize("name", ["resnet8", "mobilenetv1_vww", "autoencoder"])
def test_random_weights_are_valid_and_seeded(name):
    """Every constant gets data of its dtype with TFLite-style parameters; same seed, same
    graph; another seed, other weights; the timing-only graph is unchanged."""
    g = load_zoo(name)
    a, b, c = g.with_random_weights(7), g.with_random_weights(7), g.with_random_weights(8)
    assert a == b and a != c and not g.has_weights and a.has_weights
    assert (a.macs, a.params) == (g.macs, g.params)
    for op in a.ops:
        assert op.output.quant is not None, op.name
        if op.weights is None:
            continue
        w, bias, x = op.weights, op.bias, op.input
        assert w.data.dtype == np.int8 and w.data.min() >= -127
        assert set(w.quant.zero_point) == {0}
        assert w.quant.axis == {OpKind.CONV2D: 0, OpKind.DEPTHWISE_CONV2D: 3}.get(op.kind)
        expected = np.float32(x.quant.scale[0]) * np.asarray(w.quant.scale, np.float32)
        np.testing.assert_array_equal(np.broadcast_to(bias.quant.scale, bias.shape),
                                      np.broadcast_to(expected.astype(np.float64), bias.shape))
        assert bias.data.dtype == np.int32
    softmax = [op for op in a.ops if op.kind is OpKind.SOFTMAX]
    assert all(op.output.quant.scale == (1 / 256,) for op in softmax)
    assert all(op.output.quant.zero_point == (-128,) for op in softmax)
