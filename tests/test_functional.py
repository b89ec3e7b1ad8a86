"""Functional mode on the digital cluster: tile-by-tile int8 tensors equal a plain numpy
evaluation of the whole graph, the timing is unchanged, and bad input is one clear line.

The reference evaluates each layer over its whole tensor with
:mod:`desim.functional.kernels.reference` (int64 numpy, written independently of the jitted
kernels), with the layer parameters prepared by :mod:`desim.functional.kernels.quant`; softmax is
computed in float64 and may differ by one code (the int8 kernel rounds a float32 table), every
other tensor must be equal.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from desim.cli import main
from desim.driver import elaborate, simulate
from desim.errors import DesimError
from desim.functional.kernels import reference as ref
from desim.functional.kernels.quant import activation_range, add_params, channel_multipliers
from desim.functional.mode import Functional, random_inputs
from desim.workload import load_workload
from desim.workload.builder import GraphBuilder
from desim.workload.graph import Graph
from desim.workload.op import Op, OpKind
from desim.workload.tensor import Quant, Tensor

SMALL_L1 = {"l1.capacity_bytes": "24576"}  # row and channel tiles in most layers


# -- the numpy reference of a whole graph --------------------------------------------------

def _q(t):
    return t.quant.scale[0], t.quant.zero_point[0]


def _act(op):
    s, z = _q(op.output)
    return activation_range(op.activation.value.upper(), s, z)


def _pads(op):
    p = op.padding
    return (p.top, p.bottom, p.left, p.right)


def _weighted(op, x):
    w = op.weights
    fc = op.kind is OpKind.FULLY_CONNECTED
    channels = w.shape[3] if op.kind is OpKind.DEPTHWISE_CONV2D else w.shape[0]
    mult, shift = channel_multipliers(_q(op.input)[0], w.quant.scale, _q(op.output)[0],
                                      channels, float32_product=fc and len(w.quant.scale) == 1)
    lo, hi = _act(op)
    kw = {"input_zero_point": _q(op.input)[1], "output_zero_point": _q(op.output)[1],
          "act_min": lo, "act_max": hi}
    bias = op.bias.data if op.bias is not None else None
    if fc:
        return ref.fully_connected(x.reshape(-1, w.shape[1]), w.data, bias, mult, shift, **kw)
    f = ref.conv2d if op.kind is OpKind.CONV2D else ref.depthwise_conv2d
    return f(x, w.data, bias, mult, shift, stride=op.stride, padding=_pads(op), **kw)


def _requant(x, t, out):
    if _q(t) == _q(out):
        return x
    from desim.functional.kernels.quant import quantize_multiplier
    m, s = quantize_multiplier(float(np.float32(_q(t)[0])) / float(np.float32(_q(out)[0])))
    return ref.requantize(x.astype(np.int64) - _q(t)[1], m, s, output_zero_point=_q(out)[1])


def _softmax(op, x):
    s_in, _ = _q(op.input)
    s_out, zp = _q(op.output)
    e = np.exp(s_in * op.beta * (x - x.max(axis=-1, keepdims=True)).astype(np.float64))
    p = e / e.sum(axis=-1, keepdims=True)
    return np.clip(np.floor(p / s_out + 0.5) + zp, -128, 127).astype(np.int8)


def reference_graph(graph: Graph, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every tensor of ``graph``, each layer computed over its whole output."""
    v = dict(inputs)
    for op in graph.topological_order():
        x = v[op.inputs[0].name]
        k = op.kind
        if k in (OpKind.CONV2D, OpKind.DEPTHWISE_CONV2D, OpKind.FULLY_CONNECTED):
            y = _weighted(op, x)
        elif k in (OpKind.AVG_POOL2D, OpKind.MAX_POOL2D):
            lo, hi = _act(op)
            f = ref.avg_pool2d if k is OpKind.AVG_POOL2D else ref.max_pool2d
            y = f(x, op.kernel, stride=op.stride, padding=_pads(op), act_min=lo, act_max=hi)
        elif k is OpKind.ADD:
            a, b = op.inputs
            y = ref.add(x, v[b.name], add_params(*_q(a), *_q(b), *_q(op.output),
                                                 op.activation.value.upper()))
        elif k is OpKind.SOFTMAX:
            y = _softmax(op, x)
        elif k is OpKind.RESHAPE:
            y = x
        elif k is OpKind.PAD:
            y = np.pad(x, op.pads, constant_values=_q(op.input)[1])
        elif k is OpKind.CONCAT:
            y = np.clip(np.concatenate([_requant(v[t.name], t, op.output) for t in op.inputs],
                                       axis=op.axis), *_act(op))
        elif k is OpKind.QUANTIZE and x.dtype == np.int8:
            y = _requant(x, op.input, op.output)
        elif k is OpKind.QUANTIZE:
            s, z = _q(op.output)
            q = x.astype(np.float32) / np.float32(s)
            y = np.clip(np.sign(q) * np.floor(np.abs(q) + 0.5) + z, -128, 127)
        else:  # dequantize
            s, z = _q(op.input)
            y = float(np.float32(s)) * (x.astype(np.float64) - z)
        v[op.output.name] = np.asarray(y).astype(op.output.dtype).reshape(op.output.shape)
    return v


def assert_tensors_equal(graph: Graph, got: dict[str, np.ndarray],
                         want: dict[str, np.ndarray]) -> None:
    for op in graph.ops:
        name = op.output.name
        diff = np.abs(got[name].astype(np.int64) - want[name].astype(np.int64))
        limit = 1 if op.kind is OpKind.SOFTMAX else 0
        assert diff.max() <= limit, f"{op.name}: {np.count_nonzero(diff)} values differ"


# -- bit-exact against the reference ------------------------------------------------------

@pytest.mark.parametrize("name", ["resnet8", "dscnn", "mobilenetv1_vww", "autoencoder"])
def test_zoo_graphs_equal_the_numpy_reference_tile_by_tile(name):
    """With a 24 KiB L1 the layers run as many row and channel tiles; every tensor still
    equals the whole-graph reference (softmax within one code)."""
    r = simulate("pulp_cluster", name, seed=3, trace=False, functional=True,
                 overrides=SMALL_L1)
    tiles = [t for layer in r.schedule.layers for t in layer.tiles]
    assert any(t.r0 > 0 for t in tiles) or name == "autoencoder"  # row tiles
    assert any(t.c0 > 0 for t in tiles)  # channel tiles
    graph = r.workload
    inputs = {t.name: r.tensors[t.name] for t in graph.inputs}
    assert_tensors_equal(graph, r.tensors, reference_graph(graph, inputs))
    assert r.functional["weights"] == "random (seed 3)"


def _ops_graph() -> Graph:
    """float input -> quantize -> conv -> pad -> max pool, and a strided conv of the pad
    requantised into a concat -> requantize -> dequantize: the ops importers produce
    besides the zoo's."""
    b = GraphBuilder("ops")
    q = b.input((1, 12, 12, 3), name="q")
    c = b.conv2d(q, 8, 3, activation="relu")
    p = b.pad(c, ((0, 0), (1, 1), (2, 0), (0, 0)))
    m = b.max_pool2d(p, 2, 2)
    d = b.conv2d(p, 4, 2, stride=2, padding="valid")
    cat = b.concat([m, d], axis=3)
    g = b.build([cat])
    x = Tensor("x", (1, 12, 12, 3), "float32")
    requant = Tensor("requant", cat.shape, "int8")
    out = Tensor("out", cat.shape, "float32")
    ops = (Op("quantize_in", OpKind.QUANTIZE, (x,), g.inputs[0]), *g.ops,
           Op("requantize", OpKind.QUANTIZE, (cat,), requant),
           Op("dequantize", OpKind.DEQUANTIZE, (requant,), out))
    graph = Graph("ops", ops, (x,), (out,)).with_random_weights(5)
    # the requantize step gets a scale of its own
    return graph.replace_tensors({"requant": dataclasses.replace(
        graph.tensor("requant"), quant=Quant((0.05,), (3,)))})


def test_pad_concat_quantize_dequantize_and_max_pool_equal_the_reference(tmp_path):
    """The importers' other ops, tiled on a small L1, equal the reference exactly."""
    graph = _ops_graph()
    a, b = graph.op("concat_0").inputs
    assert a.quant != b.quant  # one input is requantised into the concat
    path = tmp_path / "ops.json"
    graph.save(path, weights=True)
    r = simulate("pulp_cluster", str(path), seed=1, trace=False, functional=True,
                 overrides={"l1.capacity_bytes": "4096"})
    assert r.functional["weights"] == "model"
    x = r.tensors["x"]
    assert x.dtype == np.float32 and len(np.unique(x)) > 100
    want = reference_graph(graph, {"x": x})
    assert_tensors_equal(graph, r.tensors, want)
    np.testing.assert_array_equal(r.outputs[0], want["out"])


# -- timing, outputs, determinism ---------------------------------------------------------

def _timing(doc: dict) -> dict:
    doc = dict(doc)
    doc.pop("functional", None)
    doc["sim"] = doc["sim"]["events"]  # wall time aside, the same events
    return doc


@pytest.mark.parametrize("platform", ["pulp_cluster", "imc_cluster"])
def test_functional_mode_leaves_the_timing_unchanged(platform):
    """Same platform, workload and seed: every summary entry but ``functional`` (and the
    simulator's wall time) is identical with and without real tensors."""
    timing = simulate(platform, "resnet8", trace=False).summary
    functional = simulate(platform, "resnet8", trace=False, functional=True).summary
    assert "functional" in functional
    assert _timing(functional) == _timing(timing)


def test_cli_writes_output_npy_and_reads_an_input(tmp_path, capsys):
    """--functional writes output.npy and the summary entry; --input replays an input."""
    graph = load_workload("dscnn").with_random_weights(0)
    x = random_inputs(graph, 9)["input"]
    np.save(tmp_path / "x.npy", x)
    assert main(["run", "pulp_cluster", "-w", "dscnn", "--input", str(tmp_path / "x.npy"),
                 "-o", str(tmp_path / "a"), "--no-trace"]) == 0
    assert "functional" in capsys.readouterr().out
    doc = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert doc["functional"]["output_file"] == "output.npy"
    assert doc["functional"]["input"] == str(tmp_path / "x.npy")
    out = np.load(tmp_path / "a" / "output.npy")
    want = reference_graph(graph, {"input": x})[graph.outputs[0].name]
    assert out.dtype == np.int8 and np.abs(out.astype(int) - want).max() <= 1
    assert main(["run", "pulp_cluster", "-w", "dscnn", "--functional", "-o",
                 str(tmp_path / "b"), "--no-trace"]) == 0
    assert json.loads((tmp_path / "b" / "summary.json").read_text())["functional"][
        "input"] == "random (seed 0)"


def test_the_same_seed_gives_the_same_tensors():
    a = simulate("pulp_cluster", "resnet8", seed=4, trace=False, functional=True)
    b = simulate("pulp_cluster", "resnet8", seed=4, trace=False, functional=True)
    c = simulate("pulp_cluster", "resnet8", seed=5, trace=False, functional=True)
    assert all(np.array_equal(a.tensors[k], b.tensors[k]) for k in a.tensors)
    assert not np.array_equal(a.tensors["input"], c.tensors["input"])


# -- the tiling is checked ----------------------------------------------------------------

def _run_with(schedule_edit):
    graph = load_workload("resnet8").with_random_weights(0)
    _, sim, _, soc = elaborate("pulp_cluster", SMALL_L1, 0, False)
    schedule = schedule_edit(soc.map(graph))
    fn = Functional(graph, schedule, random_inputs(graph, 0))
    sim.process(soc.execute(schedule, fn), "main")
    sim.run()
    return fn


def _edit_layer(schedule, edit):
    i = next(i for i, layer in enumerate(schedule.layers) if len(layer.tiles) > 2)
    layers = list(schedule.layers)
    layers[i] = dataclasses.replace(layers[i], tiles=edit(layers[i].tiles))
    return dataclasses.replace(schedule, layers=tuple(layers))


def test_a_tile_missing_from_the_schedule_is_reported():
    fn = _run_with(lambda s: _edit_layer(s, lambda tiles: tiles[:-1]))
    with pytest.raises(DesimError, match="never computed"):
        fn.outputs()


def test_overlapping_tiles_are_reported():
    with pytest.raises(DesimError, match="overlaps"):
        _run_with(lambda s: _edit_layer(s, lambda tiles: (*tiles, tiles[0])))


# -- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize("array,message", [
    (np.zeros((1, 49, 10, 2), np.int8), "shape (1, 49, 10, 2), but input 'input'"),
    (np.zeros((1, 49, 10, 1), np.float32), "float32 array"),
    (None, "not a .npy file"),
    ("missing", "no such file"),
])
def test_bad_input_is_one_line_and_exit_2(array, message, tmp_path, capsys):
    path = tmp_path / "x.npy"
    if isinstance(array, np.ndarray):
        np.save(path, array)
    elif array is None:
        path.write_text("not an array\n")
    assert main(["run", "pulp_cluster", "-w", "dscnn", "--input", str(path), "-o",
                 str(tmp_path / "out"), "--no-trace"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "summary.json").exists()


def test_functional_mode_needs_a_graph(tmp_path, capsys):
    assert main(["run", "stream_soc", "-w", "tiles", "--functional", "-o", str(tmp_path)]) == 2
    assert "functional mode runs DNN graphs" in capsys.readouterr().err
