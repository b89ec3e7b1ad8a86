"""Simulated training steps: per-phase timing, memory and energy on the cluster and with
crossbars; reference figures from PULP-TrainLib; the command line."""

from __future__ import annotations

import json

import pytest

from desim.cli import main
from desim.errors import SpecError
from desim.schema import validate
from desim.training import TrainOptions, train
from desim.training.step import PHASES


@pytest.fixture(scope="module")
def dscnn():
    return train("pulp_cluster", "dscnn", TrainOptions())


def test_phases_add_up_to_the_step(dscnn):
    t = dscnn.summary["training"]
    assert set(t["phases"]) == {"forward", "loss", "backward_weight", "backward_input",
                                "update"}
    assert sum(p["cycles"] for p in t["phases"].values()) == pytest.approx(t["cycles"])
    assert t["cycles"] == pytest.approx(dscnn.summary["cycles"], rel=1e-6)
    assert all(x["phase"] in PHASES for x in dscnn.summary["layers"])
    # each trained layer's backward does about the forward's work twice
    assert t["macs"]["executed"] == pytest.approx(3 * dscnn.workload.macs, rel=0.15)


def test_the_best_layer_reaches_pulp_trainlibs_published_rate():
    # Nadalini et al. (SAMOS 2022): the best layer reaches 4.39 MAC/cycle in FP32 on 8
    # cores with 64 kB of L1 and DMA from L2, with the autotuner's kernel
    result = train("pulp_cluster", "dscnn", TrainOptions(autotune=True))
    best = max(x["macs_per_cycle"] for x in result.summary["layers"])
    assert best == pytest.approx(4.39, rel=0.15)


def test_autotuning_never_loses_and_fp16_is_faster(dscnn):
    tuned = train("pulp_cluster", "dscnn", TrainOptions(autotune=True))
    fp16 = train("pulp_cluster", "dscnn", TrainOptions(dtype="fp16"))
    cycles = dscnn.summary["training"]["cycles"]
    assert tuned.summary["training"]["cycles"] < cycles
    assert fp16.summary["training"]["cycles"] < cycles
    assert set(tuned.summary["training"]["kernels"].values()) - {"naive"}


def test_adam_costs_state_memory_and_update_time(dscnn):
    adam = train("pulp_cluster", "dscnn", TrainOptions(optimizer="adam"))
    sgd_t, adam_t = dscnn.summary["training"], adam.summary["training"]
    weights = sum(op.params for op in dscnn.workload.ops if op.weights is not None)
    assert adam_t["footprint"]["by_kind"]["optimizer_state"] == 2 * weights * 4
    assert adam_t["phases"]["update"]["cycles"] > 2 * sgd_t["phases"]["update"]["cycles"]
    assert adam_t["phases"]["forward"] == sgd_t["phases"]["forward"]


def test_a_step_that_outgrows_l2_spills_to_dram():
    small = train("pulp_cluster", "dscnn", TrainOptions(),
                  overrides={"l2.capacity_bytes": 256 * 1024})
    t = small.summary["training"]
    assert t["footprint"]["by_level"]["dram"]
    assert t["footprint"]["peak_bytes"]["l2"] <= 256 * 1024
    assert sum(x["stall_cycles"]["dram"] for x in small.summary["layers"]) > 0


def test_a_step_that_fits_nowhere_says_what_to_do():
    with pytest.raises(SpecError, match=r"needs [\d,]+ B at its peak.*--trainable last:N"):
        train("pulp_cluster", "mobilenetv2", TrainOptions())


def test_peak_memory_shares_buffers_whose_lifetimes_do_not_overlap(dscnn):
    fp = dscnn.summary["training"]["footprint"]
    placed = sum(fp["by_level"]["l2"].values())
    assert fp["peak_bytes"]["l2"] < placed  # activation gradients die as backward proceeds
    assert fp["peak_bytes"]["l2"] <= dscnn.summary["platform"]["params"]["l2"][
        "capacity_bytes"]


@pytest.mark.parametrize("mode", ["forward-only", "mixed-precision", "analog-sgd"])
def test_crossbar_modes_report_writes_and_wear(mode):
    result = train("imc_cluster", "dscnn", TrainOptions(aimc_training=mode))
    validate(json.loads(json.dumps(result.summary)))
    t = result.summary["training"]
    a = t["aimc"]
    assert a["write_cycles"] == pytest.approx(t["phases"]["aimc_write"]["cycles"])
    assert a["write_cycles"] > 0 and a["write_energy_pj"] > 0
    assert 0 < a["pulses_per_cell"]["mean"] <= a["pulses_per_cell"]["max"]
    assert a["steps_to_wear_out"]["max"] <= a["steps_to_wear_out"]["mean"]
    forward = [x for x in result.summary["layers"] if x["phase"] == "forward"]
    assert {x["engine"] for x in forward} >= {"aimc", "cluster"}


def test_reprogramming_every_k_steps_amortises_its_cost():
    one = train("imc_cluster", "dscnn", TrainOptions(aimc_training="forward-only"))
    four = train("imc_cluster", "dscnn", TrainOptions(aimc_training="forward-only",
                                                      reprogram_every=4))
    w1, w4 = (r.summary["training"]["aimc"]["write_cycles"] for r in (one, four))
    assert w4 == pytest.approx(w1 / 4, rel=0.01)


def test_analog_sgd_wears_a_convolution_once_per_output_pixel():
    # every output pixel of a convolution is a rank-1 update of up to BL pulses
    result = train("imc_cluster", "dscnn", TrainOptions(aimc_training="analog-sgd",
                                                        pulse_trains=31))
    a = result.summary["training"]["aimc"]
    pixels = 25 * 5
    assert a["pulses_per_cell"]["max"] == pytest.approx(31 * pixels)


def test_crossbar_modes_need_crossbars_holding_a_trained_layer():
    with pytest.raises(SpecError, match="none of the trained layers runs on the crossbars"):
        train("imc_cluster", "dscnn", TrainOptions(aimc_training="analog-sgd",
                                                   trainable="depthwise_conv2d_3"))
    with pytest.raises(SpecError, match="needs a platform with crossbars"):
        train("pulp_cluster", "dscnn", TrainOptions(aimc_training="analog-sgd"))


def test_fp16_on_cores_without_fp16_simd_is_refused():
    with pytest.raises(SpecError, match="cluster.fp.fp16_simd"):
        train("pulp_cluster", "dscnn", TrainOptions(dtype="fp16"),
              overrides={"cluster.fp.fp16_simd": False})


def test_desim_train_writes_the_training_block(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["train", "pulp_cluster", "-w", "autoencoder", "--dtype", "fp16",
                 "--optimizer", "adam", "-o", str(out)]) == 0
    doc = json.loads((out / "summary.json").read_text())
    validate(doc)  # the schema of docs/summary.md
    t = doc["training"]
    assert t["options"]["optimizer"] == "adam" and t["options"]["dtype"] == "fp16"
    assert (out / "trace.json.gz").is_file() and (out / "timeline.png").is_file()
    printed = capsys.readouterr().out
    assert "backward_weight" in printed and "footprint" in printed


def test_desim_train_errors_are_one_line(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["train", "pulp_cluster", "-w", "dscnn", "--trainable", "nope",
                 "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("desim: error: --trainable")
    assert not out.exists()


def test_workloads_show_train_lists_the_primitives(capsys):
    assert main(["workloads", "show", "dscnn", "--train", "--trainable", "last:1"]) == 0
    out = capsys.readouterr().out
    assert "fully_connected_0.weight_grad" in out and "conv2d_4.weight_grad" not in out


def test_a_reduction_too_deep_for_l1_is_cut_with_partial_sums_kept():
    # the weight gradient of a conv over 128 x 128 pixels reduces over 16,384 of them: one
    # row of dY alone (64 KiB in fp32) outgrows pulp_cluster's L1, so K is cut
    from desim.workload.builder import GraphBuilder

    b = GraphBuilder("wide")
    x = b.conv2d(b.input((1, 128, 128, 4)), 8, 3)
    b.fully_connected(b.flatten(b.global_avg_pool(x)), 4)
    result = train("pulp_cluster", b.build(), TrainOptions(trainable="conv2d_0"))
    layer = next(x for x in result.schedule.layers if x.name == "conv2d_0.weight_grad")
    assert sum(t.macs for t in layer.tiles) == result.workload.ops[0].macs
    out_tiles = {(t.r0, t.c0) for t in layer.tiles}
    assert len(layer.tiles) > len(out_tiles)  # several reduction blocks per output tile
    assert sum(1 for t in layer.tiles if t.stores) == len(out_tiles)  # stored once each
