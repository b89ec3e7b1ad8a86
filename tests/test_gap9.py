"""gap9: the zoo runs with every convolution NE16 can run on it and the rest on the cores;
NE16's tiles follow its subtiles; functional runs equal pulp_cluster's outputs and the
TFLite reference interpreter's tensors bit for bit, and with NE16's own normquant differ
only in the output stage; narrower weights speed up 3x3 layers only; a weight width NE16
does not have is a one-line error.
"""

from __future__ import annotations

import numpy as np
import pytest

import desim
from desim.cli import main
from desim.engines.ne16 import accumulators
from desim.functional.kernels.reference import requantize
from desim.functional.ops import full_region, output_stage

ZOO = ["resnet8", "dscnn", "mobilenetv1_vww", "autoencoder"]
MLPERF = ("vww_96_int8", "kws_ref_model", "pretrainedResnet_quant", "ad01_int8")
CONVS = ("conv2d", "depthwise_conv2d")
NE16 = {"ne16.arithmetic": "ne16"}


def _ops(result) -> dict:
    return {op.name: op for op in result.workload.topological_order()}


@pytest.mark.parametrize("workload", ZOO)
def test_every_convolution_ne16_runs_is_on_it(workload):
    """Convolutions NE16 supports run on it, the others (DS-CNN's 10x4 first layer) and
    every other kind on the cores."""
    r = desim.simulate("gap9", workload)
    engine = r.soc.engines["ne16"]
    ops = _ops(r)
    for layer in r.summary["layers"]:
        if layer["engine"] == "none":
            continue
        on_ne16 = layer["kind"] in CONVS and engine.supports(ops[layer["name"]]) is None
        assert layer["engine"] == ("ne16" if on_ne16 else "cluster"), layer["name"]
    convs = [x for x in r.summary["layers"] if x["kind"] in CONVS]
    if convs:
        assert r.summary["energy_pj"]["soc.ne16"] > 0
    if workload == "dscnn":
        assert [x["engine"] for x in convs[:1]] == ["cluster"]


def test_ne16_tiles_follow_its_subtiles():
    """Channel blocks of 32 (16 depthwise) or all the channels; rows a multiple of the
    patch (3, 2 at stride 2) but in a layer's last row block or an even split."""
    r = desim.simulate("gap9", "mobilenetv1_vww")
    for layer in r.schedule.layers:
        if layer.engine != "ne16":
            continue
        lay = layer.payload
        channels = max(t.c1 for t in layer.tiles)
        for t in layer.tiles:
            assert (t.c1 - t.c0) % lay.channels == 0 or t.c1 == channels, layer.name
        rows = {t.r1 - t.r0 for t in layer.tiles if t.r1 < max(x.r1 for x in layer.tiles)}
        assert all(h % lay.patch == 0 for h in rows), (layer.name, rows)


def test_narrower_weights_speed_up_3x3_layers_only():
    """At 4-bit weights a 3x3 layer halves its matrix-vector cycles; a 1x1 layer takes one
    cycle per output channel at any width."""
    a = {x["name"]: x for x in desim.simulate("gap9", "resnet8").summary["layers"]}
    b = {x["name"]: x for x in desim.simulate(
        "gap9", "resnet8", overrides={"ne16.weight_bits": 4}).summary["layers"]}
    assert b["conv2d_1"]["compute_cycles"] < 0.75 * a["conv2d_1"]["compute_cycles"]
    assert b["conv2d_5"]["compute_cycles"] == pytest.approx(a["conv2d_5"]["compute_cycles"],
                                                            rel=0.01)


def test_a_3x3_layer_takes_dorys_estimate():
    """DORY's Ne16PerfModel for ResNet-8's conv2d_1 (32 x 32 x 16 -> 16): 121 subtiles of
    (6 + 25) + 6 + (6 + 16 x 8) + 2 + (9 + 16 / 4) + (3 + 9 + 1) = 199 cycles, 24,079. The
    simulated layer (GVSoC's phases, bias, shifts, programming, tiles and DMA) is within 5 %
    of it."""
    layers = {x["name"]: x for x in desim.simulate("gap9", "resnet8").summary["layers"]}
    assert layers["conv2d_1"]["cycles"] == pytest.approx(121 * 199, rel=0.05)


@pytest.mark.parametrize("workload", ZOO)
def test_functional_outputs_equal_pulp_clusters(workload):
    a = desim.simulate("gap9", workload, functional=True, seed=2)
    b = desim.simulate("pulp_cluster", workload, functional=True, seed=2)
    for x, y in zip(a.outputs, b.outputs, strict=True):
        np.testing.assert_array_equal(x, y)
    for name, t in b.tensors.items():
        np.testing.assert_array_equal(a.tensors[name], t, err_msg=name)


def test_ne16s_accumulators_are_tflites():
    """NE16's int32 accumulators, requantised TFLite's way, are the cores' outputs: only the
    output stage differs."""
    r = desim.simulate("gap9", "mobilenetv1_vww", functional=True)
    ops = _ops(r)
    for layer in r.schedule.layers:
        if layer.engine != "ne16":
            continue
        op = ops[layer.name]
        st = output_stage(op)
        acc = accumulators(op, r.tensors, full_region(op))
        want = requantize(acc + st.bias, st.multiplier, st.shift,
                          output_zero_point=st.zero_point, act_min=st.act_min,
                          act_max=st.act_max)
        np.testing.assert_array_equal(want, r.tensors[op.output.name], err_msg=layer.name)


@pytest.mark.parametrize("workload", ZOO[:3])
def test_ne16_normquant_keeps_the_top_1_class(workload):
    """With NE16's own normquant every NE16 layer fed the digital layer's input stays within
    rounding of it (SNR >= 35 dB on random weights), and the top-1 class holds."""
    r = desim.simulate("gap9", workload, functional=True, overrides=NE16)
    f = r.functional
    assert f["top1_agreement"] is True
    assert set(f["layer_snr_db"]) == {x.name for x in r.schedule.layers if x.engine == "ne16"}
    assert all(v is None or v >= 35 for v in f["layer_snr_db"].values())


@pytest.mark.parametrize("model", MLPERF)
def test_mlperf_tiny_models_equal_the_reference_interpreter(reference_interpreter, model):
    """Every tensor the interpreter keeps equals desim's on gap9; with NE16's normquant the
    top-1 class holds."""
    path, interp = reference_interpreter(model)
    inp = interp.get_input_details()[0]
    x = np.random.default_rng(0).integers(-128, 128, inp["shape"], dtype=np.int8)
    interp.set_tensor(inp["index"], x)
    interp.invoke()
    r = desim.simulate("gap9", str(path), functional=True, inputs=x)
    checked = 0
    for d in interp.get_tensor_details():
        if d["name"] in r.tensors and d["name"] != inp["name"]:
            want = interp.get_tensor(d["index"])
            np.testing.assert_array_equal(r.tensors[d["name"]].reshape(want.shape), want,
                                          err_msg=f"{model} {d['name']}")
            checked += 1
    assert checked >= len(r.workload.ops) - 1
    if any(x.engine == "ne16" for x in r.schedule.layers):
        ne16 = desim.simulate("gap9", str(path), functional=True, inputs=x, overrides=NE16)
        assert ne16.functional["top1_agreement"] is True


def test_a_weight_width_ne16_lacks_is_a_one_line_error(tmp_path, capsys):
    code = main(["run", "gap9", "-w", "resnet8", "--set", "ne16.weight_bits=9",
                 "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert "ne16.weight_bits" in err and "\n" not in err
