"""hetero_cluster: the zoo runs with depthwise layers on the depthwise engine and dense
layers on the crossbars; the depthwise engine computes bit-exactly; its tiles take the
closed form's cycles; a kernel it cannot run is a one-line error; MobileNetV2's
activations stay in its 2 MiB L2.
"""

from __future__ import annotations

import numpy as np
import pytest

import desim
from desim.cli import main
from desim.errors import SpecError
from desim.hw.depthwise import DwJob
from desim.workload import GraphBuilder

ZOO = ["resnet8", "dscnn", "mobilenetv1_vww", "autoencoder"]
DENSE = ("conv2d", "fully_connected")

#: digital engines only: depthwise layers on the depthwise engine, the rest on the cores
DIGITAL = {"mapping.policy": "",
           "mapping.engine_overrides": "depthwise_conv2d=depthwise,conv2d=cluster,"
                                       "fully_connected=cluster"}


def _engines(summary) -> dict[str, tuple[str, str]]:
    """Layer name -> (kind, engine)."""
    return {x["name"]: (x["kind"], x["engine"]) for x in summary["layers"]}


@pytest.mark.parametrize("workload", ZOO)
def test_the_zoo_runs_depthwise_on_the_engine_and_dense_on_the_crossbars(workload):
    s = desim.simulate("hetero_cluster", workload).summary
    layers = _engines(s)
    assert all(e == "depthwise" for k, e in layers.values() if k == "depthwise_conv2d")
    assert all(e == "aimc" for k, e in layers.values() if k in DENSE)
    assert all(e in ("cluster", "none") for k, e in layers.values()
               if k not in (*DENSE, "depthwise_conv2d"))
    if any(k == "depthwise_conv2d" for k, _ in layers.values()):
        assert s["components"]["soc.depthwise"]["busy_ps"] > 0
        assert s["energy_pj"]["soc.depthwise"] > 0


def test_the_depthwise_engine_beats_the_cores_on_dscnn():
    """The same crossbars with and without the depthwise engine: DS-CNN's four depthwise
    layers take the cores most of imc_cluster's time."""
    hetero = desim.simulate("hetero_cluster", "dscnn").summary["cycles"]
    imc = desim.simulate("imc_cluster", "dscnn").summary["cycles"]
    assert hetero < imc / 2


@pytest.mark.parametrize("workload", ["dscnn", "mobilenetv1_vww"])
def test_digital_engines_match_pulp_cluster_bit_for_bit(workload):
    """Without crossbars (their noise aside), depthwise tiles computed on the engine give
    every tensor pulp_cluster's cores give."""
    a = desim.simulate("hetero_cluster", workload, functional=True, seed=3, overrides=DIGITAL)
    b = desim.simulate("pulp_cluster", workload, functional=True, seed=3)
    layers = _engines(a.summary)
    assert {e for k, e in layers.values() if k == "depthwise_conv2d"} == {"depthwise"}
    assert {e for k, e in layers.values() if k != "depthwise_conv2d"} <= {"cluster", "none"}
    for name in b.tensors:
        np.testing.assert_array_equal(a.tensors[name], b.tensors[name], err_msg=name)


def test_depthwise_tiles_last_the_closed_form():
    """A 3x3 stride-1 layer over 16 x 16 x 32: each tile's job lasts the unit's closed form
    for the input rows it reads (fewer at the padded top and bottom edges)."""
    b = GraphBuilder("dw")
    b.depthwise_conv2d(b.input((1, 16, 16, 32)), 3)
    r = desim.simulate("hetero_cluster", b.build(), trace=True)
    layer = r.schedule.layers[0]
    assert layer.engine == "depthwise"
    jobs = [iv for iv in r.tracer.intervals if iv.path == "soc.depthwise"]
    assert len(jobs) == len(layer.tiles) > 1
    spec, g = r.soc.depthwise.spec, layer.payload.g
    for job, tile in zip(jobs, layer.tiles, strict=True):
        a, z = g.in_rows(tile.r0, tile.r1)
        want = spec.job_cycles(DwJob(tile.r1 - tile.r0, 16, tile.c1 - tile.c0, z - a, 16))
        assert r.soc.clock.cycles(job.end - job.start) == pytest.approx(want, abs=1)


# -- a kernel the engine cannot run ----------------------------------------------------------

def _five_by_five():
    b = GraphBuilder("dw5")
    b.depthwise_conv2d(b.input((1, 16, 16, 32)), 5)
    return b.build()


def test_a_5x5_depthwise_runs_on_the_cores_by_itself():
    s = desim.simulate("hetero_cluster", _five_by_five()).summary
    assert _engines(s)["depthwise_conv2d_0"] == ("depthwise_conv2d", "cluster")


def test_forcing_a_5x5_depthwise_on_the_engine_names_the_layer_and_who_can():
    with pytest.raises(SpecError) as err:
        desim.simulate("hetero_cluster", _five_by_five(),
                       overrides={"mapping.engine_overrides": "depthwise_conv2d=depthwise"})
    assert str(err.value) == (
        "mapping.engine_overrides: layer depthwise_conv2d_0 (depthwise_conv2d) cannot run on "
        "depthwise: the depthwise engine runs 3x3 kernels, not 5x5; engines that can: cluster")


def test_the_cli_exits_2_with_one_line(tmp_path, capsys):
    graph = _five_by_five().save(tmp_path / "dw5.json")
    argv = ["run", "hetero_cluster", "-w", str(graph), "--set",
            "mapping.engine_overrides=depthwise_conv2d=depthwise", "-o", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("desim: error:") and "\n" not in err
    assert "runs 3x3 kernels, not 5x5; engines that can: cluster" in err


# -- MobileNetV2 (the slowest network: one run) ---------------------------------------------

def test_mobilenetv2_depthwise_on_the_engine_activations_in_l2():
    """Its 17 depthwise layers run on the engine; 2 MiB of L2 holds every activation (1.5 MB
    live at the peak) beside the staging buffers. Pinning on 34 crossbars depends on the
    packer and is not asserted."""
    r = desim.simulate("hetero_cluster", "mobilenetv2")
    layers = _engines(r.summary)
    dw = [e for k, e in layers.values() if k == "depthwise_conv2d"]
    assert len(dw) == 17 and set(dw) == {"depthwise"}
    assert r.schedule.memory["activations_in_dram"] == []


@pytest.mark.parametrize("model", ["ad01_int8", "kws_ref_model", "pretrainedResnet_quant",
                                   "vww_96_int8"])
def test_mlperf_tiny_models_run_with_each_op_on_its_engine(shared_dir, model):
    """The real int8 TFLite models: dense layers on the crossbars, depthwise layers on the
    depthwise engine, nothing else on either."""
    path = shared_dir / "models" / "mlperf_tiny" / f"{model}.tflite"
    layers = desim.simulate("hetero_cluster", str(path)).summary["layers"]
    for x in layers:
        if x["kind"] == "depthwise_conv2d":
            assert x["engine"] == "depthwise", x["name"]
        elif x["engine"] in ("aimc", "depthwise"):
            assert x["kind"] in ("conv2d", "fully_connected"), x["name"]
    assert any(x["engine"] == "aimc" for x in layers)
