"""Whole networks on the DNN platforms: closed forms of the tile pipeline, DRAM streaming,
AIMC programming, and the figures every run must keep (MACs, overlap, bad input)."""

import json

import pytest

from desim.cli import main
from desim.driver import simulate
from desim.hw.jobs import KernelJob
from desim.workload import load_workload
from desim.workload.builder import GraphBuilder


def _graph_file(tmp_path, build):
    b = GraphBuilder("one_layer")
    build(b, b.input((1, 16, 16, 32)))
    path = tmp_path / "one_layer.json"
    b.build().save(path)
    return str(path)


def _conv(b, x):
    b.conv2d(x, 64, 3, activation="relu")


@pytest.mark.parametrize("name", ["resnet8", "dscnn", "autoencoder"])
@pytest.mark.parametrize("platform", ["pulp_cluster", "imc_cluster"])
def test_summary_macs_equal_the_workload(platform, name):
    doc = simulate(platform, name, trace=False).summary
    assert doc["macs"] == load_workload(name).macs
    assert sum(layer["macs"] for layer in doc["layers"]) == doc["macs"]
    assert doc["layers"][-1]["end_ps"] == doc["total_ps"]


def test_conv_on_eight_cores_takes_the_cluster_model_cycles(tmp_path):
    """A 3x3 conv 32->64 on 16x16: the cores compute exactly the cluster model's
    job_cycles for each tile, and a tile computes only once its operands are in L1."""
    r = simulate("pulp_cluster", _graph_file(tmp_path, _conv), trace=True)
    layer = r.summary["layers"][0]
    assert layer["engine"] == "cluster"
    spec = r.spec.cluster
    tiles = r.schedule.layers[0].tiles
    expected = sum(spec.job_cycles(KernelJob("conv2d", t.r1 - t.r0, 16, t.c1 - t.c0, 32, 3, 3))
                   for t in tiles)
    assert layer["compute_cycles"] == pytest.approx(expected, abs=len(tiles))
    core = sorted((iv for iv in r.tracer.intervals if iv.path == "soc.cluster.core0"),
                  key=lambda iv: iv.start)
    assert len(core) == len(tiles) == layer["tiles"]
    first_load = [iv for iv in r.tracer.intervals if iv.path == "soc.cl_dma"
                  and iv.name.endswith("t0 in")]
    assert max(iv.end for iv in first_load) <= core[0].start


def test_conv_on_one_crossbar_takes_the_aimc_pipeline_cycles(tmp_path):
    """The same conv on imc_cluster: K = 288 rows -> row blocks of 256 and 32 rows; each
    tile's block job runs its pixels' MVMs pipelined, as AimcSpec.batch_cycles says."""
    r = simulate("imc_cluster", _graph_file(tmp_path, _conv), trace=True)
    layer = r.summary["layers"][0]
    assert layer["engine"] == "aimc"
    aimc = r.soc.aimc
    mvms = [iv for iv in r.tracer.intervals if iv.path.startswith("soc.aimc.xbar")
            and iv.lane == "mvm"]
    assert {iv.args["rows"] for iv in mvms} == {32, 256}
    assert sum(iv.args["n_mvm"] for iv in mvms) == 2 * 16 * 16
    for iv in mvms:
        assert iv.args["cycles"] == aimc.batch_cycles(iv.args["rows"], 64, iv.args["n_mvm"])
    # both engines worked: the crossbars, then the cores for the partial sums
    assert r.summary["components"]["soc.cluster.core0"]["busy_ps"] > 0


def test_compute_bound_pipeline_hides_the_transfers(tmp_path):
    """A tiled compute-bound layer takes first load + sum of computes + last store: every
    other transfer overlaps a computation (double buffering)."""
    def big(b, x):
        b.conv2d(x, 128, 3, activation="relu")
    r = simulate("pulp_cluster", _graph_file(tmp_path, big),
                 overrides={"l1.capacity_bytes": "32768"}, trace=True)
    layer = r.summary["layers"][0]
    assert layer["tiles"] > 2 and layer["bound"] == "compute"
    rest = layer["cycles"] - layer["compute_cycles"] - layer["stall_cycles"]["dma"]
    first_wait = layer["stall_cycles"]["dma"]
    assert 0 < first_wait < layer["compute_cycles"] / layer["tiles"]
    assert 0 < rest < layer["compute_cycles"] / layer["tiles"]  # the last store, and syncs
    dma = [iv for iv in r.tracer.intervals if iv.path == "soc.cl_dma"]
    cores = [iv for iv in r.tracer.intervals if iv.path == "soc.cluster.core0"]
    overlapped = sum(1 for d in dma if any(c.start < d.end and d.start < c.end for c in cores))
    assert overlapped >= layer["tiles"] - 2


def test_off_chip_weights_stream_from_dram_and_cost_time():
    """ResNet-8 with a 48 KiB L2 no longer fits on chip: tensors go to DRAM, the DRAM moves
    bytes, and the run is slower than with the full L2."""
    on = simulate("pulp_cluster", "resnet8", trace=False).summary
    off = simulate("pulp_cluster", "resnet8", trace=False,
                   overrides={"l2.capacity_bytes": "49152"}).summary
    assert on["memory"]["dram_traffic_bytes"] == 0
    assert off["memory"]["dram_traffic_bytes"] > 0
    assert off["components"]["soc.dram"]["bytes_read"] > 0
    assert off["total_ps"] > on["total_ps"]
    assert any(layer["stall_cycles"]["dram"] > 0 for layer in off["layers"])


def test_aimc_reprogramming_is_simulated_when_weights_do_not_fit():
    """On one crossbar ResNet-8's AIMC weights do not fit; with 50 ns writes leaving out
    the layers worth moving to the cores would not pin the rest, so the crossbar is
    reprogrammed during inference, each block costing its word writes; pinned weights
    cost none."""
    pinned = simulate("imc_cluster", "resnet8", trace=False)
    one = simulate("imc_cluster", "resnet8", trace=False,
                   overrides={"aimc.n_crossbars": "1", "aimc.program_write_ns": "50"})
    p, o = pinned.summary, one.summary
    assert p["aimc"]["pinned"] and not o["aimc"]["pinned"] and o["aimc"]["groups"] > 1
    assert "fallback" not in o["aimc"]
    spec, clock = one.soc.aimc.spec, one.soc.clock
    blocks = [b for layer in one.schedule.layers if layer.engine == "aimc"
              for b in layer.payload.program]
    assert o["aimc"]["row_writes"] == sum(b.rows for b in blocks)
    program_ps = clock.ps(sum(spec.program_cycles(b.rows, b.cols, clock) for b in blocks))
    assert o["total_ps"] - p["total_ps"] >= program_ps * 0.99
    assert o["energy_pj"]["soc.aimc"] > p["energy_pj"]["soc.aimc"]


@pytest.mark.parametrize("argv,message", [
    (["run", "pulp_cluster", "-w", "resnet8", "--set", "l1.capacity_bytes=2048"],
     "needs"),
    (["run", "pulp_cluster", "-w", "resnet8", "--set", "cluster.n_cores=0"],
     "n_cores must be >= 1"),
    (["run", "pulp_cluster", "-w", "resnet8", "--set", "dram=ddr5"], "unknown DRAM preset"),
    (["run", "pulp_cluster", "-w", "resnet8", "--set", "aimc.n_crossbars=4"],
     "aimc is not part of this platform"),
    (["run", "imc_cluster", "-w", "resnet8", "--set", "aimc.rows=0"], "rows must be >= 1"),
    (["run", "imc_cluster", "-w", "resnet8", "--set", "aimc.cols=65536"],
     "aimc.cols must be <= 4096"),
    (["run", "pulp_cluster", "-w", "tiles"], "runs DNN graphs"),
])
def test_bad_platform_input_exits_2(argv, message, capsys, tmp_path):
    assert main([*argv, "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_summary_layers_follow_the_schema(tmp_path):
    assert main(["run", "imc_cluster", "-w", "dscnn", "-o", str(tmp_path), "--no-trace"]) == 0
    doc = json.loads((tmp_path / "summary.json").read_text())
    keys = {"index", "name", "kind", "engine", "start_ps", "end_ps", "cycles", "macs",
            "macs_per_cycle", "tiles", "bytes", "bound", "compute_cycles", "stall_cycles",
            "energy_pj"}
    for layer in doc["layers"]:
        assert keys <= layer.keys()
        assert layer["bound"] in ("compute", "transfer")
    assert {"aimc", "cluster"} <= {layer["engine"] for layer in doc["layers"]}
    assert doc["energy_pj"]["total"] > 0
    assert {"l1_peak_bytes", "l2_peak_bytes", "dram_bytes"} <= doc["memory"].keys()


def test_trace_carries_flows_and_counters():
    """Each tile's DMA-in -> compute -> DMA-out is a pair of flow arrows; L1, L2 and
    crossbar occupancy, link bandwidth and (off chip) DRAM queue depth are counters."""
    r = simulate("imc_cluster", "resnet8", overrides={"l2.capacity_bytes": "49152"}, trace=True)
    rec = r.tracer
    tiles = sum(layer["tiles"] for layer in r.summary["layers"])
    into = [f for f in rec.flows if f.src[0] == "soc.cl_dma"]
    out = [f for f in rec.flows if f.dst[0] == "soc.cl_dma"]
    assert len(into) == len(out) == tiles
    assert all(f.t_src <= f.t_dst for f in rec.flows)
    assert {f.dst[0] for f in into} >= {"soc.cluster.core0", "soc.aimc.xbar0"}
    names = {(c.path, c.name) for c in rec.counters}
    assert {("soc.l1", "occupancy"), ("soc.l2", "occupancy"),
            ("soc.aimc.xbar0", "occupancy"), ("soc.dram", "queue_depth")} <= names
    assert any(name == "bandwidth" for _, name in names)
    l1 = [c.value for c in rec.counters if (c.path, c.name) == ("soc.l1", "occupancy")]
    assert max(l1) <= r.spec.l1.capacity_bytes
